//! `isolab ps`, `isolab rm` and `isolab gc`: containers in the state dir.

use std::path::PathBuf;

use isolab::runtime;
use isolab_shared::ContainerStatus;

use super::run::runtime_config;

pub fn ps(state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let config = runtime_config(state_root)?;
    println!(
        "{:<14} {:<20} {:<8} {:>8}  COMMAND",
        "ID", "NAME", "STATUS", "PID"
    );
    for record in runtime::list(&config.state_root) {
        let state = runtime::describe::state_of(&record);
        let status = match state.status {
            ContainerStatus::Created => "created".to_string(),
            ContainerStatus::Running => "running".to_string(),
            ContainerStatus::Exited => match &state.exit {
                Some(e) => format!("exit {}", e.shell_code()),
                None => "exited".to_string(),
            },
        };
        let pid = state
            .init_pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<14} {:<20} {:<8} {:>8}  {}",
            state.id,
            state.name,
            status,
            pid,
            state.spec.command.join(" ")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Removes containers by id or name.
pub fn rm(containers: &[String], state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let config = runtime_config(state_root)?;
    let mut code = std::process::ExitCode::SUCCESS;
    for c in containers {
        match runtime::remove(&config, c) {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("isolab: {e}");
                code = std::process::ExitCode::FAILURE;
            }
        }
    }
    Ok(code)
}

/// Removes what dead containers left behind; with `dry_run`, only lists it.
pub fn gc(state_root: PathBuf, dry_run: bool) -> anyhow::Result<std::process::ExitCode> {
    let config = runtime_config(state_root)?;
    let (report, verb) = match dry_run {
        true => (runtime::gc_dry_run(&config)?, "would remove"),
        false => (runtime::gc(&config)?, "removed"),
    };
    for id in &report.removed {
        println!("{verb} {id}");
    }
    for orphan in &report.orphans {
        for p in &orphan.processes {
            println!(
                "{verb} orphan {} pid {} cgroup {} command {}",
                orphan.id,
                p.pid,
                cgroup_list(&orphan.cgroup),
                p.command
            );
        }
    }
    for group in &report.unclaimed {
        for p in &group.processes {
            eprintln!(
                "isolab: left {} pid {} cgroup {} command {}: no state dir here and its owner cannot be told",
                group.id,
                p.pid,
                cgroup_list(&group.cgroup),
                p.command
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn cgroup_list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}
