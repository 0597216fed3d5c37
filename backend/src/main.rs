//! The `isolab` command: parses flags, sets up logging, and calls into the library.

mod commands;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use isolab::runtime;

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
    /// Clean up what dead containers left behind (cgroups, state dirs, orphaned processes).
    Gc {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check the lessons: `lessons check [--source sim] [--dir DIR] [ID...]`.
    #[command(subcommand)]
    Lessons(commands::lessons::LessonsCommand),
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
    /// Security options: seccomp=unconfined, or seccomp=PROFILE.json (a profile in
    /// the common JSON format); the default is isolab's own profile.
    #[arg(long = "security-opt", value_name = "OPT")]
    security_opt: Vec<String>,
    /// auto: a user namespace whose root is a 65536-id host range of its own,
    /// allocated under the state root (recorded in its subuid file) and freed on
    /// removal. Without it, --ns user maps root to the one fixed range (100000).
    #[arg(long, value_name = "MODE")]
    userns: Option<isolab_shared::UsernsMode>,
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
    /// Record no terminals (recordings already made are still served).
    #[arg(long, env = "ISOLAB_NO_RECORD")]
    no_record: bool,
    /// Remove terminal recordings this long after their terminal ended, e.g. 7d, 12h
    /// (default: keep them until deleted).
    #[arg(long, env = "ISOLAB_KEEP_RECORDINGS", value_parser = isolab::recording::parse_duration)]
    keep_recordings: Option<std::time::Duration>,
    /// Run a class: the token is the teacher's; students join with the printed code.
    #[arg(long, env = "ISOLAB_CLASSROOM")]
    classroom: bool,
    /// What each student may use, e.g. containers=3,memory=256M,pids=256,cpus=0.5
    /// (default those; a class restarted without it keeps its own).
    #[arg(long, env = "ISOLAB_STUDENT_QUOTA", requires = "classroom")]
    student_quota: Option<isolab::classroom::policy::StudentQuota>,
    /// `strict`: students' containers always have pid, mnt and net namespaces; `any`:
    /// students may leave those out too. A user namespace is always added.
    #[arg(long, env = "ISOLAB_STUDENT_NAMESPACES", requires = "classroom")]
    student_namespaces: Option<isolab::classroom::policy::NamespacePolicy>,
    /// Also serve the lessons (`*.toml`) of this directory, besides the built-in ones.
    #[arg(long, env = "ISOLAB_LESSONS")]
    lessons: Option<std::path::PathBuf>,
    /// End a lesson run on live containers after this long unused (no request from
    /// its page, no terminal open onto it), e.g. 5m: a closed tab frees its containers.
    #[arg(long, env = "ISOLAB_LESSON_IDLE", value_parser = isolab::recording::parse_duration, default_value = "5m")]
    lesson_idle: std::time::Duration,
    /// When the class ends: RFC 3339, HH:MM (local time) or +90m. Students' containers
    /// are stopped then (not removed); the teacher can extend it from the web UI.
    #[arg(long, env = "ISOLAB_ENDS_AT", requires = "classroom")]
    ends_at: Option<String>,
    /// Serve HTTPS and WSS with this certificate (PEM, the chain with the leaf first).
    #[arg(
        long,
        env = "ISOLAB_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "ISOLAB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS and WSS with a self-signed certificate for the bound names, kept in
    /// the state dir and reused; its SHA-256 fingerprint is printed with the URL.
    #[arg(long, env = "ISOLAB_TLS_SELF_SIGNED")]
    tls_self_signed: bool,
    /// Log lines as `text` or `json` (one object a line, audit events included).
    #[arg(long, env = "ISOLAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How the server writes its log.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, its fields at the top level.
    Json,
}

/// Logs to stderr at `ISOLAB_LOG` (default `info`). The audit log stays on at `info`
/// unless `ISOLAB_LOG` names its target (`isolab::audit=off`).
fn init_logging(format: LogFormat) {
    let mut filter = std::env::var("ISOLAB_LOG").unwrap_or_else(|_| "info".to_string());
    if !filter.contains(isolab::server::audit::TARGET) {
        filter.push_str(&format!(",{}=info", isolab::server::audit::TARGET));
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
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
    let cli = Cli::parse();
    // Only the server logs; `run` stays lean (its startup is benchmarked).
    if let Command::Serve(args) = &cli.command {
        init_logging(args.log_format);
    }
    let state_root = cli.state_root;
    let result = match cli.command {
        Command::Serve(args) => commands::serve::serve(args, state_root),
        Command::Run(args) => commands::run::run(args, state_root),
        Command::Ps => commands::manage::ps(state_root),
        Command::Rm { containers } => commands::manage::rm(&containers, state_root),
        Command::Gc { dry_run } => commands::manage::gc(state_root, dry_run),
        Command::Lessons(command) => commands::lessons::run(command, state_root),
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
