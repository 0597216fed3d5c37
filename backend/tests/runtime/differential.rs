//! The differential harness, real side: each scenario in
//! `shared/tests/differential/*.toml` runs in a real container (`isolab run`, as
//! root) and in the simulator; their normalised observations must agree.

use std::path::Path;
use std::process::Command;

use isolab_shared::sim::differential::{
    load_scenarios, normalise, observe_simulated, parse_probe, probe_script, DiffScenario,
    Observations, RawProbe,
};

/// Every scenario file of `shared/tests/differential`, read here (the shared crate
/// does no IO) and parsed by the shared loader.
fn scenarios() -> Vec<(String, DiffScenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/differential");
    let files = std::fs::read_dir(&dir)
        .expect("the scenario directory exists")
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("readable");
            (name, text)
        });
    load_scenarios(files).unwrap_or_else(|e| panic!("{e}"))
}

fn host_probe() -> RawProbe {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(probe_script(0))
        .output()
        .expect("sh runs");
    parse_probe(&String::from_utf8_lossy(&out.stdout))
}

fn observe_real(s: &DiffScenario, name: &str, host: &RawProbe) -> Result<Observations, String> {
    let ns: Vec<&str> = s.namespaces.iter().map(|k| k.name()).collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isolab"));
    cmd.args(["run", "--rm", "--name", name, "--ns", &ns.join(",")]);
    if let Some(h) = &s.hostname {
        cmd.args(["--hostname", h]);
    }
    if let Some(p) = s.pids {
        cmd.args(["--pids", &p.to_string()]);
    }
    cmd.args(["--", "/bin/sh", "-c", &probe_script(s.fork_attempts)]);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run isolab: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("@ns") {
        return Err(format!(
            "isolab run failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(normalise(&parse_probe(&text), host, name))
}

#[test]
fn real_containers_and_the_simulator_agree() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: real containers need root");
        return;
    }
    // `isolab run` makes containers in the default state root while this runs.
    let _host = crate::support::runtime::host_shared();
    let host = host_probe();
    let all = scenarios();
    let mut agree = 0;
    let mut report = Vec::new();
    for (file, s) in &all {
        let name = format!("diff{}-{}", std::process::id(), &file[..2]);
        let sim = observe_simulated(s, &name).expect("the simulator runs it");
        let real = observe_real(s, &name, &host);
        match real {
            Ok(real) if real == sim => {
                agree += 1;
                report.push(format!("agree   {file}"));
            }
            Ok(real) => report.push(format!("DIFFER  {file}\n   sim  {sim:?}\n   real {real:?}")),
            Err(e) => report.push(format!("ERROR   {file}: {e}")),
        }
    }
    println!(
        "{}\n{agree} of {} scenarios agree",
        report.join("\n"),
        all.len()
    );
    assert_eq!(agree, all.len(), "{}", report.join("\n"));
}
