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
        let shutdown = shutdown_signal()?;
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        println!("isolab is serving at:\n    http://{host}:{}/?token={}", local.port(), token.as_str());
        server::run(listener, AppState::new(token), shutdown)
            .await
            .context("the server failed")?;
        tracing::info!("stopped");
        Ok(std::process::ExitCode::SUCCESS)
    })
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
