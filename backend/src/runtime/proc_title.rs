//! What `ps` and /proc show of the container's PID 1: its command line and
//! environment, rewritten in place in the argv and environment areas the kernel
//! reports (fields 48 to 51 of /proc/self/stat), so a PID 1 forked from `isolab run`
//! shows what one made by the exec'd helper does.

/// Rewrites this process's command line (the argv area /proc/PID/cmdline reads) to
/// `title`, so `ps` in the container shows a sane PID 1 even when the helper was
/// forked from `isolab run ...` rather than exec'd.
pub(super) fn retitle(title: &str) {
    let _ = nix::sys::prctl::set_name(c"isolab-init");
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return;
    };
    // Fields 48 and 49 (arg_start, arg_end); `rest` starts at field 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    if end <= start || title.len() >= end - start {
        return;
    }
    // SAFETY: [start, end) is this process's own argv area, mapped and writable for its
    // whole life; nothing holds a Rust reference into it.
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        area[..title.len()].copy_from_slice(title.as_bytes());
    }
}

/// This process's environment area, `(start, end)`: where the strings it was started
/// with lie, and what /proc/PID/environ reads (fields 50 and 51 of /proc/self/stat).
pub fn environ_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // `rest` starts at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(47)?.parse().ok()?, fields.get(48)?.parse().ok()?))
}

/// Writes `environ` over this process's environment area (the rest zeroed), so
/// /proc/PID/environ shows it in place of the caller's environment, which a forked PID
/// 1 would otherwise show. Only in the forked child: libc's `environ` points into the
/// area, so it is emptied first and nothing reads the old strings again.
pub(super) fn rewrite_environ(environ: &[u8]) {
    // SAFETY: this forked child runs a single thread; nothing holds the environment.
    unsafe { libc::clearenv() };
    let Some((start, end)) = environ_area() else {
        return;
    };
    if end <= start || environ.len() > end - start {
        return;
    }
    // SAFETY: [start, end) is this process's own environment area, mapped and writable
    // for its whole life; after clearenv nothing refers into it.
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        area[..environ.len()].copy_from_slice(environ);
    }
}
