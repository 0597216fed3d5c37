//! The bpf(2) calls for the device program: load it (with the verifier's log on a
//! refusal), attach it to a cgroup2 directory, and ask the kernel which programs
//! exist and how many a group holds (for the tests that watch them go away).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::{DeviceProgramError, Insn};

/// bpf(2) commands and constants (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD part of `union bpf_attr`, up to `expected_attach_type`; the
/// kernel takes a shorter attr and reads the fields after it as zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, properly laid out prefix of `union bpf_attr` for `cmd`,
    // and its size is passed so the kernel reads no further.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads `code` as a cgroup device program; the verifier's log comes with a refusal.
pub fn load(code: &[Insn]) -> Result<OwnedFd, DeviceProgramError> {
    let license = CString::from(c"GPL");
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"isolab_device");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: code.len() as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(first) => {
            // Load again with the verifier's log, only to say why.
            let mut log = vec![0u8; 16 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            let detail = match text.is_empty() {
                true => String::new(),
                false => format!(" (verifier: {})", text.replace('\n', "; ")),
            };
            Err(DeviceProgramError::Load(first, detail))
        }
    }
}

/// Attaches `program` to the cgroup2 directory `group`.
pub fn attach(program: &OwnedFd, group: &Path) -> Result<(), DeviceProgramError> {
    let dir = std::fs::File::open(group)
        .map_err(|e| DeviceProgramError::OpenGroup(group.to_path_buf(), e))?;
    let mut attr = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(|_| ())
        .map_err(|e| DeviceProgramError::Attach(group.to_path_buf(), e))
}

/// The kernel's id of a loaded program (BPF_OBJ_GET_INFO_BY_FD: `struct
/// bpf_prog_info` starts with its type and id).
pub fn program_id(program: &OwnedFd) -> std::io::Result<u32> {
    let mut info = [0u32; 2];
    let mut attr = InfoAttr {
        bpf_fd: program.as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info[1])
}

/// Whether the kernel still holds program `id` (BPF_PROG_GET_FD_BY_ID): a program
/// attached to a removed group is freed shortly after the rmdir.
pub fn program_exists(id: u32) -> bool {
    let mut attr = [id, 0, 0];
    match bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) {
        Ok(fd) => {
            // SAFETY: the call returned a new fd we own; closed at once.
            drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
            true
        }
        Err(_) => false,
    }
}

/// How many device programs are attached to `group` itself (BPF_PROG_QUERY).
pub fn attached_programs(group: &Path) -> std::io::Result<u32> {
    let dir = std::fs::File::open(group)?;
    let mut attr = QueryAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    Ok(attr.prog_cnt)
}

/// The BPF_OBJ_GET_INFO_BY_FD part of `union bpf_attr`.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The BPF_PROG_QUERY part of `union bpf_attr` (no id buffer: the count only).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}
