//! The `isolab` command: parses flags, sets up logging, and calls into the library.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use isolab::runtime::{self, Container, RuntimeConfig};
use isolab::server::{self, auth::AccessToken, AppState, ServerConfig};
use isolab::sysinfo;
use isolab_shared::{limits, ContainerSpec, ContainerStatus, NamespaceSet};

/// The port `isolab serve` listens on unless told otherwise.
const DEFAULT_PORT: u16 = 7477;

#[derive(Parser)]
#[command(
    name = "isolab",
    version,
    about = "See container isolation from the kernel's side"
)]
struct Cli {
    /// Where container state dirs live.
    #[arg(long, global = true, env = "ISOLAB_STATE_ROOT", default_value = runtime::DEFAULT_STATE_ROOT, hide = true)]
    state_root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the API (as root for real containers).
    Serve(ServeArgs),
    /// Run the simulated shell (no real containers): `--scenario two-containers`.
    Sim {
        /// Starting scenario: empty, two-containers, nested-pid, bridge, pids-limit, rootless.
        #[arg(long, default_value = "empty")]
        scenario: String,
    },
    /// Run a command in a new container and exit with its exit code.
    Run(RunArgs),
    /// List containers.
    Ps,
    /// Remove containers (killing them if they run).
    Rm {
        /// Container ids or names.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Clean up what dead containers left behind (cgroups, state dirs).
    Gc,
    /// The container init helper (normally started as `isolab-init`).
    #[command(hide = true)]
    InitHelper,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Remove the container when its command ends.
    #[arg(long)]
    rm: bool,
    /// Give the command a terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// A name for the container.
    #[arg(long)]
    name: Option<String>,
    /// The container's hostname (default: its name or id).
    #[arg(long)]
    hostname: Option<String>,
    /// `host` (the host's /usr, /bin, /lib read-only) or a root filesystem directory.
    #[arg(long, default_value = isolab_shared::HOST_IMAGE)]
    image: String,
    /// Namespaces to create, e.g. pid,net,ipc,uts,mnt,user,cgroup (default: the first five).
    #[arg(long)]
    ns: Option<String>,
    /// Maximum number of processes (default 512).
    #[arg(long)]
    pids: Option<String>,
    /// Memory limit, e.g. 64M.
    #[arg(long)]
    memory: Option<String>,
    /// CPU limit in cores, e.g. 0.5.
    #[arg(long)]
    cpus: Option<String>,
    /// Extra environment, KEY=value.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on. Anything but loopback exposes the API to the network.
    #[arg(long, env = "ISOLAB_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, env = "ISOLAB_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Access token; a random one is made when absent.
    #[arg(long, env = "ISOLAB_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Also accept WebSockets from this origin (e.g. http://teacher.local:8080); repeatable.
    #[arg(
        long = "allow-origin",
        env = "ISOLAB_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,
    /// Leave containers running on exit, for the next server to adopt.
    #[arg(long, env = "ISOLAB_KEEP")]
    keep: bool,
    /// Most containers at once on this server.
    #[arg(long, env = "ISOLAB_MAX_CONTAINERS", default_value_t = 128)]
    max_containers: usize,
    /// Most containers at once per access token.
    #[arg(long, env = "ISOLAB_MAX_PER_TOKEN", default_value_t = 64)]
    max_per_token: usize,
}

fn main() -> std::process::ExitCode {
    // The runtime re-execs this binary as the container's init helper and as the exec
    // helper; dispatch on argv[0] before anything (logging, threads) starts.
    let argv0 = std::env::args_os().next();
    if argv0.as_deref().is_some_and(|a| a == runtime::INIT_ARGV0) {
        runtime::init_helper_main();
    }
    if argv0
        .as_deref()
        .is_some_and(|a| a == runtime::exec::EXEC_ARGV0)
    {
        runtime::exec::exec_helper_main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ISOLAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let state_root = cli.state_root;
    let result = match cli.command {
        Command::Serve(args) => serve(args, state_root),
        Command::Run(args) => run(args, state_root),
        Command::Ps => ps(state_root),
        Command::Rm { containers } => rm(&containers, state_root),
        Command::Gc => gc(state_root),
        Command::InitHelper => runtime::init_helper_main(),
        Command::Sim { scenario } => isolab::sim_cli::run(&scenario)
            .map(|()| std::process::ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("isolab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs, state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let token = match args.token.as_deref() {
        Some(t) => AccessToken::from_user(t).map_err(anyhow::Error::msg)?,
        None => AccessToken::generate(),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("cannot read the bound address")?;
        let mut config = ServerConfig::new(
            token.clone(),
            std::env::current_exe().context("cannot find the isolab binary")?,
        );
        config.live.runtime.state_root = state_root;
        config.live.max_containers = args.max_containers;
        config.live.max_per_token = args.max_per_token;
        config.allowed_origins = args.allow_origins.clone();
        match &config.live_status.reason {
            None => tracing::info!(cgroups = %sysinfo::cgroup_mode(), "live mode on"),
            Some(why) => tracing::warn!("live mode off: {why}"),
        }
        if !args.bind.is_loopback() {
            tracing::warn!("listening on {local}: anyone who can reach it and has the token controls containers");
        }
        let shutdown = shutdown_signal()?;
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let state = AppState::new(config);
        state.start_background().await;
        println!("isolab is serving at:\n    http://{host}:{}/?token={}", local.port(), token.as_str());
        server::run(listener, state.clone(), shutdown)
            .await
            .context("the server failed")?;
        if args.keep {
            tracing::info!("leaving the containers running (--keep)");
        } else {
            tracing::info!("removing the containers");
        }
        state.live().shutdown(args.keep).await;
        tracing::info!("stopped");
        Ok(std::process::ExitCode::SUCCESS)
    })
}

fn runtime_config(state_root: PathBuf) -> anyhow::Result<RuntimeConfig> {
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

fn run(args: RunArgs, state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let spec = spec_of(&args)?;
    let config = runtime_config(state_root)?;
    // Blocked before any thread exists, so every thread inherits the mask.
    let signals = forwarded_signals();
    signals.thread_block().context("cannot block signals")?;
    let mut container = match Container::create(&config, &spec, runtime::Stdio::Inherit) {
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
    if let Err(e) = container.start() {
        drop(raw_mode);
        let _ = container.delete();
        eprintln!("isolab: {e}");
        return Ok(std::process::ExitCode::from(127));
    }
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
    let exit = container.wait()?;
    drop(raw_mode);
    if args.rm {
        container.delete()?;
    }
    let code = exit.shell_code().clamp(0, 255) as u8;
    if exit.oom_killed {
        eprintln!("isolab: the container ran out of memory (OOM-killed)");
    }
    Ok(std::process::ExitCode::from(code))
}

fn ps(state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
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

fn rm(containers: &[String], state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
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

fn gc(state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let config = runtime_config(state_root)?;
    let report = runtime::gc(&config)?;
    for id in &report.removed {
        println!("removed {id}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed before this
/// returns, so a signal sent right after the URL is printed is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}
