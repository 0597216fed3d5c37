//! errno-like error values returned by the model's syscalls.

/// A failed syscall, named as the kernel names it; `Display` is strerror(3)'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Errno {
    #[error("Operation not permitted")]
    EPERM,
    #[error("No such file or directory")]
    ENOENT,
    #[error("No such process")]
    ESRCH,
    #[error("No child processes")]
    ECHILD,
    #[error("Resource temporarily unavailable")]
    EAGAIN,
    #[error("Cannot allocate memory")]
    ENOMEM,
    #[error("Permission denied")]
    EACCES,
    #[error("Device or resource busy")]
    EBUSY,
    #[error("File exists")]
    EEXIST,
    #[error("No such device")]
    ENODEV,
    #[error("Not a directory")]
    ENOTDIR,
    #[error("Invalid argument")]
    EINVAL,
    #[error("No space left on device")]
    ENOSPC,
    #[error("Too many users")]
    EUSERS,
    #[error("Network is unreachable")]
    ENETUNREACH,
    #[error("Address already in use")]
    EADDRINUSE,
    #[error("Function not implemented")]
    ENOSYS,
}

/// The result of a simulated syscall.
pub type SysResult<T> = Result<T, Errno>;
