//! `isolab serve --tls-self-signed` as its own process: HTTPS and WSS with the
//! certificate it printed the fingerprint of, plain HTTP on the TLS port refused
//! without harm, the certificate kept across restarts, and bad files refused in one line.

use std::sync::Arc;
use std::time::Duration;

use isolab::server::tls;
use isolab_shared::StreamMessage;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

use super::serve_process::ServeProcess;
use crate::support::server::StateRootGuard;
use crate::support::server::{fresh_state_root, next_message, TOKEN};

/// The fingerprint lines printed (`certificate SHA-256 AB:…`), by their value.
fn printed_fingerprints(server: &ServeProcess) -> Vec<String> {
    server
        .stdout_lines()
        .iter()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("certificate SHA-256 ")
                .map(str::to_string)
        })
        .collect()
}

fn https_client(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).expect("a PEM certificate"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn version_status(http: &reqwest::Client, base: &str) -> u16 {
    http.get(format!("{base}/api/v1/version"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("HTTPS request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn https_and_wss_work_with_the_self_signed_certificate_it_keeps() {
    let state_root = fresh_state_root("tls");
    let _guard = StateRootGuard(state_root.clone());
    let server = ServeProcess::start(
        &state_root,
        &["--tls-self-signed", "--classroom"],
        "https://",
    );
    server.wait_for_stdout("students join at");
    let join = server.wait_for_stdout("https://127.0.0.1");
    let fingerprints = printed_fingerprints(&server);
    let base = server.base();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let join_url = server
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("/join/"))
        .expect("the join URL is printed");
    assert!(
        join_url.trim().starts_with("https://"),
        "{join_url} ({join})"
    );

    // The certificate kept in the state dir is the one served and printed.
    let cert_pem =
        std::fs::read(state_root.join(tls::SELF_SIGNED_CERT)).expect("the certificate is kept");
    let cert = CertificateDer::from_pem_slice(&cert_pem).expect("PEM");
    let fingerprint = tls::fingerprint(&cert);
    assert_eq!(fingerprints, vec![fingerprint.clone(), fingerprint.clone()]);
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(state_root.join(tls::SELF_SIGNED_KEY))
        .expect("the key is kept")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600, "the key is the owner's alone");

    // HTTPS: the REST API, trusting only that certificate.
    let http = https_client(&cert_pem);
    assert_eq!(version_status(&http, &base).await, 200);
    let wrong = http
        .get(format!("{base}/api/v1/version"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(wrong.status(), 401);

    // WSS: the events socket sends its snapshot first.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("a root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let wss = format!(
        "{}/api/v1/events?token={TOKEN}",
        base.replacen("https://", "wss://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        wss,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(config))),
    )
    .await
    .expect("the events socket opens over WSS");
    match next_message(&mut ws, Duration::from_secs(10)).await {
        Some(StreamMessage::Snapshot { .. }) => {}
        other => panic!("expected the snapshot first, got {other:?}"),
    }

    // Plain HTTP to the TLS port: told to use https://, closed, and no harm done.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let http_base = base.replacen("https://", "http://", 1);
    let answer = plain
        .get(format!("{http_base}/api/v1/version"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer to plain HTTP");
    assert_eq!(answer.status(), 400);
    let text = answer.text().await.expect("text");
    assert!(text.contains("use https://"), "{text}");
    assert_eq!(
        version_status(&http, &base).await,
        200,
        "still serving HTTPS"
    );
    // The socket opened before still works after the refusal.
    drop(ws);
    let stderr = server.stop();
    // `isolab gc` (which takes state dirs without a container record) keeps it.
    let gc = std::process::Command::new(env!("CARGO_BIN_EXE_isolab"))
        .arg("gc")
        .env("ISOLAB_STATE_ROOT", &state_root)
        .output()
        .expect("isolab gc runs");
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(
        state_root.join(tls::SELF_SIGNED_KEY).exists(),
        "gc keeps the key"
    );

    // A restart reuses the certificate.
    let again = ServeProcess::start(&state_root, &["--tls-self-signed"], "https://");
    again.wait_for_stdout("certificate SHA-256");
    assert_eq!(printed_fingerprints(&again), vec![fingerprint]);
    assert_eq!(
        std::fs::read(state_root.join(tls::SELF_SIGNED_CERT)).expect("kept"),
        cert_pem,
        "the same certificate"
    );
    assert_eq!(
        version_status(&http, &again.base()).await,
        200,
        "{stderr:?}"
    );
    again.stop();
}

#[test]
fn bad_certificate_files_are_one_line_and_a_failure() {
    let state_root = fresh_state_root("tls-bad");
    let _guard = StateRootGuard(state_root.clone());
    std::fs::create_dir_all(&state_root).expect("state root");
    let junk = state_root.join("junk.pem");
    std::fs::write(&junk, "not PEM at all").expect("junk");
    let missing = state_root.join("missing.pem");
    let run = |cert: &std::path::Path, key: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_isolab"))
            .args(["serve", "--port", "0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("ISOLAB_STATE_ROOT", &state_root)
            .env("ISOLAB_LOG", "off")
            .output()
            .expect("isolab runs");
        assert!(!output.status.success(), "refused");
        assert!(output.stdout.is_empty(), "no URL printed");
        String::from_utf8_lossy(&output.stderr).trim().to_string()
    };
    let error = run(&missing, &junk);
    assert!(
        error.starts_with("isolab: cannot read the TLS certificate")
            && error.contains("missing.pem"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    let error = run(&junk, &junk);
    assert!(error.contains("no certificate in it"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
}
