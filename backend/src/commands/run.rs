//! `isolab run`: a command in a new container, with its exit code passed on.

use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::Context;
use isolab::runtime::{self, Container, RuntimeConfig};
use isolab_shared::{limits, ContainerSpec, NamespaceSet};

use crate::RunArgs;

/// The runtime's settings, with this binary as its helper.
pub fn runtime_config(state_root: PathBuf) -> anyhow::Result<RuntimeConfig> {
    let exe = std::env::current_exe().context("cannot find the isolab binary")?;
    let mut config = RuntimeConfig::new(exe);
    config.state_root = state_root;
    Ok(config)
}

fn spec_of(args: &RunArgs) -> anyhow::Result<ContainerSpec> {
    let mut spec = ContainerSpec {
        name: args.name.clone(),
        image: args.image.clone(),
        command: args.command.clone(),
        hostname: args.hostname.clone(),
        tty: args.tty,
        env: args.env.clone(),
        ..Default::default()
    };
    if let Some(ns) = &args.ns {
        spec.namespaces = NamespaceSet::parse_list(ns)?;
    }
    if let Some(p) = &args.pids {
        spec.limits.pids = Some(limits::parse_pids(p)?);
    }
    if let Some(m) = &args.memory {
        spec.limits.memory_bytes = Some(limits::parse_memory(m)?);
    }
    if let Some(c) = &args.cpus {
        spec.limits.cpus = Some(limits::parse_cpus(c)?);
    }
    Ok(spec)
}

/// Signals the CLI passes on to the container instead of dying from them.
fn forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set
}

/// Runs `args`' command in a new container and returns its exit code.
pub fn run(args: RunArgs, state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let spec = spec_of(&args)?;
    let mut config = runtime_config(state_root)?;
    // A one-shot run shows no usage and changes no limits later: only the cgroups its
    // limits need (making a v1 memory group alone takes milliseconds).
    config.all_cgroup_controllers = false;
    // Blocked before any thread exists, so every thread inherits the mask.
    let signals = forwarded_signals();
    signals.thread_block().context("cannot block signals")?;
    // Create and start in one go; an exec error comes back from wait().
    let mut container = match Container::run(&config, &spec, runtime::Stdio::Inherit) {
        Ok(c) => c,
        // Like a shell (and docker run): 127 when the command is not there.
        Err(e @ runtime::RuntimeError::CommandNotFound(_)) => {
            eprintln!("isolab: {e}");
            return Ok(std::process::ExitCode::from(127));
        }
        Err(e) => return Err(e.into()),
    };
    let master = container.take_tty();
    let raw_mode = match &master {
        Some(m) => {
            let stdin = std::io::stdin();
            if let Some((cols, rows)) = runtime::terminal::window_size(stdin.as_fd()) {
                let _ = runtime::resize(m.as_fd(), cols, rows);
            }
            runtime::terminal::RawMode::enter(stdin.as_fd())
        }
        None => None,
    };
    let init_pid = container.init_pid().unwrap_or(0) as i32;
    let resize_fd = master.as_ref().and_then(|m| m.try_clone().ok());
    std::thread::spawn(move || loop {
        let Ok(sig) = signals.wait() else { continue };
        if sig == nix::sys::signal::Signal::SIGWINCH {
            if let (Some(m), Some((cols, rows))) = (
                &resize_fd,
                runtime::terminal::window_size(std::io::stdin().as_fd()),
            ) {
                let _ = runtime::resize(m.as_fd(), cols, rows);
            }
            continue;
        }
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(init_pid), sig);
    });
    if let Some(m) = master {
        runtime::terminal::relay(m).context("terminal relay failed")?;
    }
    let waited = if args.rm {
        container.wait_and_delete()
    } else {
        // A command that could not be exec'd leaves nothing behind, --rm or not.
        container.wait().inspect_err(|_| {
            let _ = container.delete();
        })
    };
    drop(raw_mode);
    let exit = match waited {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("isolab: {e}");
            return Ok(std::process::ExitCode::from(127));
        }
    };
    let code = exit.shell_code().clamp(0, 255) as u8;
    if exit.oom_killed {
        eprintln!("isolab: the container ran out of memory (OOM-killed)");
    }
    Ok(std::process::ExitCode::from(code))
}
