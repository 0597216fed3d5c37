//! The differential harness's common half: a scenario (a spec plus what the kernel's
//! rules say a process inside observes), the probe script the real side runs, and
//! one normaliser for both sides' raw observations. Scenario files live in
//! `shared/tests/differential/*.toml`; the simulated side runs here, the real side in
//! `backend/tests/differential.rs` through `isolab run`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::namespace::NamespaceKind;
use crate::protocol::ContainerSpec;

use super::simulator::{SimError, Simulator};

/// Stands for "the same as the host sees" in normalised observations.
pub const HOST: &str = "<host>";
/// Stands for "the container's name" in normalised observations.
pub const NAME: &str = "<name>";

/// One scenario, as written in a TOML file.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct DiffScenario {
    pub about: String,
    #[serde(default)]
    pub hostname: Option<String>,
    pub namespaces: Vec<NamespaceKind>,
    #[serde(default)]
    pub pids: Option<u64>,
    /// How many background `sleep`s to start; 0 skips the fork probe.
    #[serde(default)]
    pub fork_attempts: u32,
    /// What the kernel's rules say a process inside observes.
    pub expect: Observations,
}

/// A scenario file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("scenario {file}: {message}")]
pub struct ScenarioLoadError {
    /// The file's name.
    pub file: String,
    /// What the TOML parser said.
    pub message: String,
}

/// Parses scenario files given as (file name, text); the caller reads them, so this
/// crate stays free of IO. Files not ending in `.toml` are skipped. Gives
/// (file stem, scenario), sorted by stem.
pub fn load_scenarios(
    files: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, DiffScenario)>, ScenarioLoadError> {
    let mut out = Vec::new();
    for (file, text) in files {
        let Some(stem) = file.strip_suffix(".toml") else {
            continue;
        };
        let scenario: DiffScenario = toml::from_str(&text).map_err(|e| ScenarioLoadError {
            file: file.clone(),
            message: e.to_string(),
        })?;
        out.push((stem.to_string(), scenario));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Normalised observations: equal on both sides when the model is right.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Observations {
    pub hostname: String,
    /// The command of PID 1 (base name of argv[0]), or [`HOST`].
    pub pid1: String,
    /// The distinct command names visible in /proc, or `[HOST]`.
    pub commands: Vec<String>,
    /// Interface names, or `[HOST]`.
    pub interfaces: Vec<String>,
    /// Namespace kinds the container shares with the host, sorted.
    pub shared_with_host: Vec<String>,
    pub uid_inside: u32,
    /// The host uid that root inside maps to (0 without a user namespace).
    pub uid_outside: u32,
    /// Whether a fork failed at pids.max (absent when not probed).
    #[serde(default)]
    pub fork_fails: Option<bool>,
}

/// What one side saw before normalising.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawProbe {
    pub hostname: String,
    pub pid1_cmdline: String,
    pub commands: Vec<String>,
    pub interfaces: Vec<String>,
    pub uid: u32,
    pub uid_map: String,
    /// Namespace kind -> `kind:[inode]`.
    pub namespaces: BTreeMap<String, String>,
    pub fork_output: Option<String>,
}

/// The kinds probed, in the order `/proc/self/ns` is read.
pub const KINDS: [&str; 7] = ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];

/// The `sh -c` script the real side runs inside the container: sections start with `@`.
/// Interfaces come from netlink (`ip link`), not /sys/class/net: sysfs shows the net
/// namespace of whoever mounted it, so without a new mount namespace it lists the host's.
pub fn probe_script(fork_attempts: u32) -> String {
    let mut s = String::from(
        "echo @hostname; hostname; echo @pid1; tr '\\0' ' ' < /proc/1/cmdline; echo; \
         echo @commands; for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done; \
         echo @interfaces; ip -o link show | cut -d: -f2 | cut -d@ -f1; echo @uid; id -u; echo @uidmap; cat /proc/self/uid_map; \
         echo @ns; for k in cgroup ipc mnt net pid user uts; do echo $k $(readlink /proc/self/ns/$k); done; ",
    );
    if fork_attempts > 0 {
        s.push_str(&format!(
            "echo @fork; i=0; while [ $i -lt {fork_attempts} ]; do sleep 3 & i=$((i+1)); done 2>&1; \
             kill $(jobs -p) 2>/dev/null; echo end"
        ));
    }
    s
}

/// Splits the probe script's output into its sections.
pub fn parse_probe(text: &str) -> RawProbe {
    let mut sections: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('@') {
            current = name.trim();
            sections.entry(current).or_default();
        } else {
            sections.entry(current).or_default().push(line);
        }
    }
    let get = |k: &str| sections.get(k).cloned().unwrap_or_default();
    RawProbe {
        hostname: get("hostname")
            .first()
            .map_or(String::new(), |s| s.trim().to_string()),
        pid1_cmdline: get("pid1")
            .first()
            .map_or(String::new(), |s| s.trim().to_string()),
        commands: get("commands")
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        interfaces: get("interfaces")
            .iter()
            .flat_map(|l| l.split_whitespace())
            .map(str::to_string)
            .collect(),
        uid: get("uid")
            .first()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX),
        uid_map: get("uidmap").join("\n"),
        namespaces: get("ns")
            .iter()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            })
            .collect(),
        fork_output: sections.get("fork").map(|l| l.join("\n")),
    }
}

/// The base name of a command line's first word.
fn command_name(cmdline: &str) -> String {
    let first = cmdline.split_whitespace().next().unwrap_or("");
    first.rsplit('/').next().unwrap_or(first).to_string()
}

/// Normalises an inside probe against the same probe run on the host.
pub fn normalise(inside: &RawProbe, host: &RawProbe, container_name: &str) -> Observations {
    let hostname = if inside.hostname == container_name {
        NAME.to_string()
    } else if inside.hostname == host.hostname {
        HOST.to_string()
    } else {
        inside.hostname.clone()
    };
    let host_pid1 = command_name(&host.pid1_cmdline);
    let pid1 = command_name(&inside.pid1_cmdline);
    let pid1 = if pid1 == host_pid1 {
        HOST.to_string()
    } else {
        pid1
    };
    let mut commands: Vec<String> = if inside.commands.contains(&host_pid1)
        || inside
            .commands
            .iter()
            .any(|c| c.len() >= 15 && host_pid1.starts_with(c.as_str()))
    {
        vec![HOST.to_string()]
    } else {
        inside.commands.clone()
    };
    commands.sort();
    commands.dedup();
    let mut interfaces = inside.interfaces.clone();
    interfaces.sort();
    let mut host_ifaces = host.interfaces.clone();
    host_ifaces.sort();
    if interfaces == host_ifaces {
        interfaces = vec![HOST.to_string()];
    }
    let shared_with_host = KINDS
        .iter()
        .filter(|k| {
            inside
                .namespaces
                .get(**k)
                .is_some_and(|v| host.namespaces.get(**k) == Some(v))
        })
        .map(|k| k.to_string())
        .collect();
    let uid_outside = inside
        .uid_map
        .lines()
        .find_map(|l| {
            let w: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (w.len() == 3 && w[0] == 0).then_some(w[1])
        })
        .unwrap_or(u32::MAX);
    let fork_fails = inside.fork_output.as_ref().map(|o| {
        o.contains("Resource temporarily unavailable")
            || o.contains("Cannot fork")
            || o.contains("can't fork")
    });
    Observations {
        hostname,
        pid1,
        commands,
        interfaces,
        shared_with_host,
        uid_inside: inside.uid,
        uid_outside,
        fork_fails,
    }
}

/// The spec a scenario runs with; the command is the probe (real) or a shell (sim).
pub fn spec_of(s: &DiffScenario, name: &str, command: Vec<String>) -> ContainerSpec {
    let mut spec = ContainerSpec {
        name: Some(name.to_string()),
        hostname: s.hostname.clone(),
        namespaces: s.namespaces.iter().copied().collect(),
        command,
        tty: false,
        ..ContainerSpec::default()
    };
    if let Some(p) = s.pids {
        spec.limits.pids = Some(p);
    }
    spec
}

/// Runs the probe's equivalent in the simulated shell of the current session.
fn probe_simulated(sim: &mut Simulator, fork_attempts: u32) -> RawProbe {
    let first = |s: String| s.lines().next().unwrap_or("").trim().to_string();
    let hostname = first(sim.run_line("hostname"));
    let pid1_cmdline = sim
        .run_line("cat /proc/1/cmdline")
        .replace('\0', " ")
        .trim()
        .to_string();
    let commands = sim
        .run_line("ps -e")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .filter(|c| c != "ps")
        .collect();
    let interfaces = sim
        .run_line("ip link")
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    let uid = first(sim.run_line("id -u")).parse().unwrap_or(u32::MAX);
    let uid_map = sim.run_line("cat /proc/self/uid_map");
    let namespaces = KINDS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                first(sim.run_line(&format!("readlink /proc/self/ns/{k}"))),
            )
        })
        .collect();
    // Each line takes a logical second: long sleeps stay alive, as the real probe's do.
    let fork_output = (fork_attempts > 0).then(|| {
        (0..fork_attempts)
            .map(|_| sim.run_line("sleep 100 &"))
            .collect::<String>()
    });
    RawProbe {
        hostname,
        pid1_cmdline,
        commands,
        interfaces,
        uid,
        uid_map,
        namespaces,
        fork_output,
    }
}

/// The simulated side: the host probe, then the same probe inside a container made
/// from the scenario's spec, normalised.
pub fn observe_simulated(s: &DiffScenario, name: &str) -> Result<Observations, SimError> {
    let mut sim = Simulator::new("empty")?;
    let host = probe_simulated(&mut sim, 0);
    sim.create_container(spec_of(s, name, vec!["/bin/sh".to_string()]))?;
    sim.attach(name)?;
    let inside = probe_simulated(&mut sim, s.fork_attempts);
    Ok(normalise(&inside, &host, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_load_sorted_and_a_bad_file_is_named() {
        let ok = "about = \"a\"\nnamespaces = []\n[expect]\nhostname = \"<host>\"\npid1 = \"<host>\"\ncommands = []\ninterfaces = []\nshared_with_host = []\nuid_inside = 0\nuid_outside = 0\n";
        let files = [
            ("02-b.toml".to_string(), ok.to_string()),
            ("README.md".to_string(), "not toml".to_string()),
            ("01-a.toml".to_string(), ok.to_string()),
        ];
        let loaded = load_scenarios(files).expect("parses");
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["01-a", "02-b"]);
        let bad = load_scenarios([("03-c.toml".to_string(), "about = 1".to_string())]);
        assert!(bad.is_err_and(|e| e.file == "03-c.toml"));
    }
}
