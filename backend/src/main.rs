//! The `isolab` command: parses flags, sets up logging, and calls into the library.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::{Parser, Subcommand};
use isolab::server::{self, auth::AccessToken, AppState};
use isolab::sysinfo;

/// The port `isolab serve` listens on unless told otherwise.
const DEFAULT_PORT: u16 = 7477;

#[derive(Parser)]
#[command(
    name = "isolab",
    version,
    about = "See container isolation from the kernel's side"
)]
struct Cli {
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
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ISOLAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
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

fn serve(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
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
        let live = sysinfo::live_status();
        match &live.reason {
            None => tracing::info!(cgroups = %sysinfo::cgroup_mode(), "live mode on"),
            Some(why) => tracing::warn!("live mode off: {why}"),
        }
        if !args.bind.is_loopback() {
            tracing::warn!("listening on {local}: anyone who can reach it and has the token controls containers");
        }
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        println!("isolab is serving at:\n    http://{host}:{}/?token={}", local.port(), token.as_str());
        server::run(listener, AppState::new(token), shutdown_signal())
            .await
            .context("the server failed")?;
        tracing::info!("stopped");
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
