//! Wrong tokens are limited per address: after 20 within a minute, that address gets
//! `429 rate_limited` for REST and WebSocket upgrades alike (its right token too),
//! while other addresses are served as before.

use std::time::Duration;

use isolab::server::auth::MAX_AUTH_FAILURES;
use tokio_tungstenite::tungstenite;

use crate::support::server::{TestServer, TOKEN};

fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn version(
    http: &reqwest::Client,
    server: &TestServer,
    token: &str,
) -> (u16, serde_json::Value) {
    let response = http
        .get(server.url("/version"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /version");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn twenty_wrong_tokens_a_minute_get_an_address_429_rest_and_websockets() {
    let server = TestServer::start("rate-limit").await;
    let guesser = client_from([127, 0, 0, 1]);
    for n in 0..MAX_AUTH_FAILURES {
        let (status, body) = version(&guesser, &server, &format!("wrong-guess-{n}")).await;
        assert_eq!(status, 401, "guess {n}: {body}");
    }
    let (status, body) = version(&guesser, &server, "wrong-guess-again").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // The right token from there too: the answer must tell a guesser nothing.
    let (status, body) = version(&guesser, &server, TOKEN).await;
    assert_eq!(status, 429, "{body}");
    // A WebSocket upgrade from there is refused the same way.
    match tokio_tungstenite::connect_async(server.ws_url("/events")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("the events socket opened for a limited address"),
    }
    // Another address is served as before.
    let other = client_from([127, 0, 0, 2]);
    let (status, body) = version(&other, &server, TOKEN).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = version(&other, &server, "wrong-once").await;
    assert_eq!(status, 401);
    server.shutdown().await;
}
