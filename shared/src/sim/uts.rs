//! uts namespaces: hostname and NIS domain name.

/// One uts namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UtsNs {
    pub hostname: String,
    pub domainname: String,
}

/// The longest hostname the kernel takes (HOST_NAME_MAX).
pub const HOST_NAME_MAX: usize = 64;
