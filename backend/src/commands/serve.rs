//! `isolab serve`: the web UI and the API, with live containers when root.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use isolab::classroom::{Classroom, StudentPolicy};
use isolab::server::{self, auth::AccessToken, tls, AppState, ServerConfig};
use isolab::sysinfo;

use crate::ServeArgs;

/// Serves until Ctrl-C or SIGTERM, then removes the containers (unless `--keep`).
pub fn serve(args: ServeArgs, state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let token = match args.token.as_deref() {
        Some(t) => AccessToken::from_user(t).map_err(anyhow::Error::msg)?,
        None => AccessToken::generate(),
    };
    let catalog = server::lessons::load(args.lessons.as_deref());
    for e in &catalog.errors {
        eprintln!("isolab: lesson not loaded: {e}");
    }
    if let Some(dir) = &args.lessons {
        tracing::info!(lessons = catalog.lessons.len(), dir = %dir.display(), "lessons loaded");
    }
    server::lessons::install(catalog);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // A bad certificate stops the server before it listens.
        let certificate = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(tls::load(cert, key)?),
            _ if args.tls_self_signed => {
                Some(tls::self_signed(&state_root, &tls::names_for(args.bind))?)
            }
            _ => None,
        };
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("cannot read the bound address")?;
        let mut config = ServerConfig::new(
            token.clone(),
            std::env::current_exe().context("cannot find the isolab binary")?,
        );
        if args.classroom {
            // Flags given replace the stored policy; a restarted class keeps its own.
            let policy = (args.student_quota.is_some() || args.student_namespaces.is_some())
                .then(|| StudentPolicy {
                    quota: args.student_quota.clone().unwrap_or_default(),
                    namespaces: args.student_namespaces.unwrap_or_default(),
                });
            let classroom = Classroom::open(&state_root, policy)
                .map_err(|e| anyhow::anyhow!("cannot open the class: {e}"))?;
            if let Some(text) = &args.ends_at {
                let at = isolab::classroom::clock::parse_ends_at(text, isolab::wall_clock::now_ms())?;
                classroom
                    .set_ends_at(Some(at))
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot keep the end time: {e}"))?;
            }
            config.classroom = Some(classroom);
        }
        config.live.runtime.state_root = state_root;
        config.live.max_containers = args.max_containers;
        config.live.max_per_token = args.max_per_token;
        config.live.recording.keep = args.keep_recordings;
        config.live.recording.enabled = !args.no_record;
        config.allowed_origins = args.allow_origins.clone();
        config.lesson_idle = args.lesson_idle;
        match &config.live_status.reason {
            None => tracing::info!(cgroups = %sysinfo::cgroup_mode(), "live mode on"),
            Some(why) => tracing::warn!("live mode off: {why}"),
        }
        if !args.bind.is_loopback() {
            tracing::warn!("listening on {local}: anyone who can reach it and has the token controls containers");
            if certificate.is_none() {
                tracing::warn!(
                    "no TLS: the token travels in clear over the network \
                     (use --tls-cert/--tls-key or --tls-self-signed)"
                );
            }
        }
        let shutdown = shutdown_signal()?;
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let classroom = config.classroom.clone();
        let state = AppState::new(config);
        state.start_background().await;
        let scheme = if certificate.is_some() { "https" } else { "http" };
        let fingerprint = certificate
            .as_ref()
            .map(|c| format!("\n    certificate SHA-256 {}", c.fingerprint))
            .unwrap_or_default();
        println!(
            "isolab is serving at:\n    {scheme}://{host}:{}/?token={}{fingerprint}",
            local.port(),
            token.as_str()
        );
        if let Some(classroom) = classroom {
            let code = classroom
                .join_code()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read the join code: {e}"))?;
            println!(
                "students join at:\n    {scheme}://{host}:{}/join/{code}{fingerprint}",
                local.port()
            );
        }
        if let Some(certificate) = &certificate {
            tracing::info!(cert = %certificate.cert_path.display(), "serving HTTPS");
        }
        match certificate {
            Some(certificate) => {
                let listener = tls::TlsListener::new(listener, certificate.config)
                    .context("cannot start TLS")?;
                server::run(listener, state.clone(), shutdown).await
            }
            None => server::run(listener, state.clone(), shutdown).await,
        }
        .context("the server failed")?;
        if args.keep {
            tracing::info!("leaving the containers running (--keep)");
        } else {
            tracing::info!("removing the containers");
        }
        state.live().shutdown(args.keep).await;
        if let Some(recordings) = state.live().recordings() {
            recordings.close(std::time::Duration::from_secs(2)).await;
        }
        tracing::info!("stopped");
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed before this
/// returns, so a signal sent right after the URL is printed is not lost.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
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
