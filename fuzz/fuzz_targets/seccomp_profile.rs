//! seccomp profiles in Docker's JSON format, parsed, resolved and compiled.
//!
//! seccomp profiles in the common (Docker) JSON format, as `--security-opt
//! seccomp=PROFILE.json` and a spec's `security.seccomp.profile` take them: parsed,
//! resolved for the default capabilities, and compiled to BPF for this host. A
//! profile that resolves compiles, and its counts add up.
#![no_main]

use isolab::runtime::seccomp;
use isolab_shared::seccomp::SeccompProfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = SeccompProfile::from_json(text) else {
        return;
    };
    isolab_fuzz::assert_round_trip(&profile);
    let caps: Vec<String> = isolab_shared::plan::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let Ok(policy) = profile.resolve(&caps) else {
        return;
    };
    let counts = policy.counts();
    assert_eq!(
        counts.allowed as usize + counts.blocked.len(),
        isolab_shared::seccomp::X86_64_SYSCALLS.len()
    );
    for name in ["read", "mkdir", "clone", "personality", "keyctl"] {
        let _ = policy.action_for(name, &[0; 6]);
    }
    if let Err(e) = seccomp::compile(&policy) {
        let message = e.to_string();
        assert!(!message.contains('\n'), "{message}");
    }
});
