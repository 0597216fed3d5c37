use super::*;

fn default_caps() -> Vec<String> {
    crate::hardening::DOCKER_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect()
}

const NO_ARGS: [u64; 6] = [0; 6];

#[test]
fn every_default_name_is_an_x86_64_call() {
    for group in default_profile::GROUPS {
        for name in group.names {
            assert!(x86_64_number(name).is_some(), "{name} is not in the table");
        }
    }
}

#[test]
fn default_policy_blocks_the_escape_calls_and_allows_ordinary_ones() {
    let policy = default_profile::policy(&default_caps());
    let eperm = SeccompAction::Errno(EPERM);
    for name in [
        "keyctl",
        "add_key",
        "request_key",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "kexec_load",
        "kexec_file_load",
        "bpf",
        "init_module",
        "pivot_root",
        "swapon",
        "open_by_handle_at",
        "userfaultfd",
    ] {
        assert_eq!(policy.action_for(name, &NO_ARGS), eperm, "{name}");
    }
    for name in [
        "read", "openat", "execve", "mkdir", "wait4", "chroot", "mknod",
    ] {
        assert_eq!(
            policy.action_for(name, &NO_ARGS),
            SeccompAction::Allow,
            "{name}"
        );
    }
    assert_eq!(
        policy.action_for("clone3", &NO_ARGS),
        SeccompAction::Errno(ENOSYS)
    );
}

#[test]
fn clone_socket_and_personality_depend_on_their_arguments() {
    let policy = default_profile::policy(&default_caps());
    let with = |a0: u64| [a0, 0, 0, 0, 0, 0];
    // A thread (CLONE_VM|CLONE_THREAD|...) is fine; CLONE_NEWUSER is not.
    assert!(policy.action_for("clone", &with(0x3d0f00)).runs());
    assert!(!policy.action_for("clone", &with(0x1000_0000 | 0x11)).runs());
    assert!(policy.action_for("socket", &with(2)).runs());
    assert!(!policy.action_for("socket", &with(40)).runs());
    // Junk in the upper half of an int argument does not get AF_VSOCK through.
    assert!(!policy.action_for("socket", &with(0x1_0000_0028)).runs());
    assert!(policy.action_for("personality", &with(0xffff_ffff)).runs());
    assert!(!policy.action_for("personality", &with(0x0040_0000)).runs());
}

#[test]
fn keeping_cap_sys_admin_turns_its_groups_on() {
    let mut caps = default_caps();
    caps.push("CAP_SYS_ADMIN".into());
    let policy = default_profile::policy(&caps);
    assert!(policy.action_for("mount", &NO_ARGS).runs());
    assert!(policy
        .action_for("clone", &[0x1000_0000, 0, 0, 0, 0, 0])
        .runs());
    assert!(policy.action_for("clone3", &NO_ARGS).runs());
}

#[test]
fn counts_add_up_to_the_table() {
    let counts = default_profile::policy(&default_caps()).counts();
    assert_eq!(
        counts.allowed as usize + counts.blocked.len(),
        X86_64_SYSCALLS.len()
    );
    assert!(counts.allowed > 300, "{}", counts.allowed);
    assert!(counts.blocked.iter().any(|n| n == "keyctl"));
    assert!(counts.blocked.iter().any(|n| n == "clone3"));
    assert!(!counts.blocked.iter().any(|n| n == "clone"));
}

#[test]
fn a_user_profile_in_the_common_format_resolves() {
    let text = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}],
        "syscalls": [
            {"names": ["mkdir", "mkdirat", "chown32"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "comment": "no new directories"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["reboot"], "action": "SCMP_ACT_ERRNO",
             "excludes": {"caps": ["CAP_SYS_BOOT"]}, "includes": {"minKernel": "4.8"}},
            {"names": ["uselib"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}}
        ]
    }"#;
    let policy = SeccompProfile::from_json(text)
        .and_then(|p| p.resolve(&default_caps()))
        .map_err(|e| e.to_string());
    let Ok(policy) = policy else {
        panic!("{policy:?}");
    };
    let eperm = SeccompAction::Errno(EPERM);
    assert_eq!(policy.action_for("mkdir", &NO_ARGS), eperm);
    assert_eq!(policy.action_for("reboot", &NO_ARGS), eperm);
    assert_eq!(policy.action_for("uselib", &NO_ARGS), SeccompAction::Allow);
    assert_eq!(policy.action_for("personality", &[8, 0, 0, 0, 0, 0]), eperm);
    assert_eq!(
        policy.counts().blocked,
        ["mkdir", "personality", "reboot", "mkdirat"]
    );
}

#[test]
fn unsupported_parts_are_named_in_one_line() {
    let err = |text: &str| match SeccompProfile::from_json(text).and_then(|p| p.resolve(&[])) {
        Ok(_) => panic!("accepted {text}"),
        Err(e) => e.to_string(),
    };
    let e = err(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
    assert!(e.contains("SCMP_ACT_NOTIFY") && !e.contains('\n'), "{e}");
    let e = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"}"#);
    assert!(e.contains("listenerPath"), "{e}");
    let e = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#,
    );
    assert!(e.contains("args.op"), "{e}");
    let e = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}"#);
    assert!(e.contains("flags"), "{e}");
}

#[test]
fn the_setting_reads_as_the_api_writes_it() {
    let parse = |t: &str| serde_json::from_str::<SeccompSetting>(t).map_err(|e| e.to_string());
    assert_eq!(parse(r#""default""#), Ok(SeccompSetting::Default));
    assert_eq!(parse(r#""unconfined""#), Ok(SeccompSetting::Unconfined));
    assert!(matches!(
        parse(r#"{"profile": {"defaultAction": "SCMP_ACT_ALLOW"}}"#),
        Ok(SeccompSetting::Profile(_))
    ));
}
