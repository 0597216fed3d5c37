//! Spawn benchmark: median wall time of `isolab run --rm -- /bin/true` (with its
//! seccomp filter, and without it: `--security-opt seccomp=unconfined`) against
//! `bwrap --unshare-all`, `runc run` and `unshare -pfnimu --mount-proc`, runs
//! interleaved round-robin so drift hits every tool alike. Each ratio compares the
//! same rootfs: the host's /usr (isolab's `host` image, bwrap with the same binds) or
//! a busybox-static tree (isolab `--image`, bwrap, runc's OCI bundle).
//!
//! Run as root: `cargo bench -p isolab --bench spawn` (ISOLAB_BENCH_RUNS=N, default 60).
//! Needs bubblewrap, runc and busybox-static; it says which is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// One contender: a name and the command line to time.
struct Contender {
    name: &'static str,
    argv: Vec<String>,
    times: Vec<Duration>,
}

/// A scratch dir removed on drop, with the runc state under it.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
    for dir in dirs {
        for name in names {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A static busybox (a dynamic one would need the host's libraries in the rootfs).
fn static_busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new("file")
                .arg("-L")
                .arg(p)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"))
                .unwrap_or(p.exists())
        })
}

fn make_rootfs(dir: &Path, busybox: &Path) -> std::io::Result<PathBuf> {
    let rootfs = dir.join("bundle/rootfs");
    for sub in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(sub))?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox"))?;
    for applet in ["true", "sh"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    Ok(rootfs)
}

/// `runc spec`, then: no terminal, /bin/true, a writable root (like the others).
fn make_runc_config(runc: &Path, bundle: &Path) -> Result<(), String> {
    let status = Command::new(runc)
        .args(["spec", "--bundle"])
        .arg(bundle)
        .status()
        .map_err(|e| format!("runc spec: {e}"))?;
    if !status.success() {
        return Err("runc spec failed".into());
    }
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut config: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["/bin/true"]);
    config["root"]["readonly"] = false.into();
    std::fs::write(&path, config.to_string()).map_err(|e| e.to_string())
}

fn time_once(argv: &[String]) -> Result<Duration, String> {
    let start = Instant::now();
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    let took = start.elapsed();
    if !status.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            argv.join(" "),
            status.status,
            String::from_utf8_lossy(&status.stderr).trim()
        ));
    }
    Ok(took)
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    match t.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => t[n / 2],
        n => (t[n / 2 - 1] + t[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spawn bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("run as root (the contenders create namespaces and cgroups)".into());
    }
    let missing = |pkg: &str, what: &str| {
        format!("{what} not found: install the Debian package '{pkg}' (./x bench spawn does)")
    };
    let bwrap = find_tool(&["bwrap"]).ok_or_else(|| missing("bubblewrap", "bwrap"))?;
    let runc = find_tool(&["runc"]).ok_or_else(|| missing("runc", "runc"))?;
    let unshare = find_tool(&["unshare"]).ok_or_else(|| missing("util-linux", "unshare"))?;
    let busybox = static_busybox().ok_or_else(|| missing("busybox-static", "a static busybox"))?;
    let runs: usize = std::env::var("ISOLAB_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
        .max(20);

    let scratch =
        Scratch(std::env::temp_dir().join(format!("isolab-bench-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| e.to_string())?;
    let rootfs = make_rootfs(&scratch.0, &busybox).map_err(|e| format!("rootfs: {e}"))?;
    let bundle = scratch.0.join("bundle");
    make_runc_config(&runc, &bundle)?;
    let runc_root = scratch.0.join("runc-state");
    // State on tmpfs, as /run/isolab is on a normal host (/run is tmpfs); this host's
    // /run sits on its disk, whose journal stalls would be timed instead.
    let shm = Path::new("/dev/shm");
    let state_root = if shm.is_dir() {
        shm.join(format!("isolab-bench-{}", std::process::id()))
    } else {
        scratch.0.join("isolab-state")
    };
    let _state_cleanup = Scratch(state_root.clone());
    let isolab = env!("CARGO_BIN_EXE_isolab").to_string();
    let s = |p: &Path| p.display().to_string();

    // bwrap over the same host directories as isolab's `host` image (read-only binds
    // of /usr and friends, usrmerge symlinks kept), so both run the same /bin/true.
    let mut bwrap_host: Vec<String> = vec![s(&bwrap), "--unshare-all".into()];
    for dir in [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ] {
        let p = Path::new(dir);
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(to) = std::fs::read_link(p) {
                    bwrap_host.extend(["--symlink".into(), to.display().to_string(), dir.into()]);
                }
            }
            Ok(m) if m.is_dir() => bwrap_host.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            _ => {}
        }
    }
    bwrap_host.extend([
        "--proc".into(),
        "/proc".into(),
        "--dev".into(),
        "/dev".into(),
        "/bin/true".into(),
    ]);

    let mut contenders = vec![
        Contender {
            name: "isolab run --rm (host image)",
            argv: vec![
                isolab.clone(),
                "--state-root".into(),
                s(&state_root),
                "run".into(),
                "--rm".into(),
                "--".into(),
                "/bin/true".into(),
            ],
            times: Vec::new(),
        },
        Contender {
            name: "isolab run --rm --image busybox",
            argv: vec![
                isolab.clone(),
                "--state-root".into(),
                s(&state_root),
                "run".into(),
                "--rm".into(),
                "--image".into(),
                s(&rootfs),
                "--".into(),
                "/bin/true".into(),
            ],
            times: Vec::new(),
        },
        Contender {
            name: "bwrap --unshare-all (host dirs)",
            argv: bwrap_host,
            times: Vec::new(),
        },
        Contender {
            name: "bwrap --unshare-all (busybox)",
            argv: vec![
                s(&bwrap),
                "--unshare-all".into(),
                "--bind".into(),
                s(&rootfs),
                "/".into(),
                "--proc".into(),
                "/proc".into(),
                "--dev".into(),
                "/dev".into(),
                "/bin/true".into(),
            ],
            times: Vec::new(),
        },
        Contender {
            name: "runc run",
            argv: vec![
                s(&runc),
                "--root".into(),
                s(&runc_root),
                "run".into(),
                "--bundle".into(),
                s(&bundle),
                "RUNC_ID".into(),
            ],
            times: Vec::new(),
        },
        Contender {
            name: "unshare -pfnimu --mount-proc",
            argv: vec![
                s(&unshare),
                "-pfnimu".into(),
                "--mount-proc".into(),
                "/bin/true".into(),
            ],
            times: Vec::new(),
        },
        // The first contender without its seccomp filter: the filter's start cost.
        Contender {
            name: "isolab run --rm, seccomp=unconfined",
            argv: vec![
                isolab.clone(),
                "--state-root".into(),
                s(&state_root),
                "run".into(),
                "--rm".into(),
                "--security-opt".into(),
                "seccomp=unconfined".into(),
                "--".into(),
                "/bin/true".into(),
            ],
            times: Vec::new(),
        },
    ];
    // One warm-up each (page cache, first cgroup creation), then interleaved rounds.
    for round in 0..=runs {
        for c in contenders.iter_mut() {
            let argv: Vec<String> = c
                .argv
                .iter()
                .map(|a| {
                    if a == "RUNC_ID" {
                        format!("isolab-bench-{}-{round}", std::process::id())
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let t = time_once(&argv)?;
            if round > 0 {
                c.times.push(t);
            }
        }
    }
    println!("spawn benchmark: {runs} runs each, interleaved; median wall time");
    for c in &contenders {
        println!("  {:<34} {:>8.2} ms", c.name, ms(median(&c.times)));
    }
    let m = |i: usize| ms(median(&contenders[i].times));
    println!("ratios (same rootfs on both sides):");
    println!(
        "  isolab/bwrap, host dirs:         {:.2}x (target <= 1.0x)",
        m(0) / m(2)
    );
    println!("  isolab/bwrap, busybox rootfs:    {:.2}x", m(1) / m(3));
    println!(
        "  isolab/runc,  busybox rootfs:    {:.2}x (target <= 0.3x)",
        m(1) / m(4)
    );
    println!("  isolab host image/runc busybox:  {:.2}x", m(0) / m(4));
    println!(
        "  seccomp filter's start cost:     {:+.2} ms ({:.2}x unconfined)",
        m(0) - m(6),
        m(0) / m(6)
    );
    println!("  isolab/bwrap, host dirs, unconfined: {:.2}x", m(6) / m(2));
    Ok(())
}
