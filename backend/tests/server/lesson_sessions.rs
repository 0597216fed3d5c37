//! A lesson session of the admin on a real server: a host lesson's checks fail before
//! the solution and pass after it, the prediction's probe answers what the kernel
//! says, the host shell is a terminal, and DELETE leaves nothing behind; a session
//! nobody uses any more ends by itself.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::server::{TestServer, LESSONS_ON_THE_HOST};

async fn post(server: &TestServer, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = server.post(path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.get(path).send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn passes_within(server: &TestServer, path: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, body) = get(server, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        if body["passed"] == json!(true) || tokio::time::Instant::now() >= deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn host_has(text: &str) -> bool {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps runs");
    String::from_utf8_lossy(&ps.stdout).contains(text)
}

#[tokio::test]
async fn a_lesson_session_checks_types_and_probes_on_the_kernel() {
    let _one_at_a_time = LESSONS_ON_THE_HOST.lock().await;
    let server = TestServer::start("lesson-session").await;
    let (status, info) = post(&server, "/lessons/pid1/sessions", None).await;
    assert_eq!(status, 201, "{info}");
    assert_eq!(info["host"], json!(true), "{info}");
    // The host shell runs from the start, and its PID is the picture's root.
    let shell = info["host_pid"].as_u64().expect("the host shell's pid") as u32;
    let comm = std::fs::read_to_string(format!("/proc/{shell}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "sh", "pid {shell}");
    let sid = info["id"].as_str().expect("an id").to_string();
    let box_id = info["containers"]["box"]
        .as_str()
        .expect("the box")
        .to_string();

    // The host shell is a terminal the admin's page can open.
    let mut host = server
        .socket(&format!("/lessons/sessions/{sid}/host/terminal"))
        .await;
    let _ = host.close(None).await;

    let check1 = format!("/lessons/sessions/{sid}/steps/1/check");
    let (_, before) = get(&server, &check1).await;
    assert_eq!(before["passed"], json!(false), "{before}");
    let typed = format!("/lessons/sessions/{sid}/type");
    let (status, body) = post(
        &server,
        &typed,
        Some(json!({"in": "box", "run": "sleep 500 &"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let after = passes_within(&server, &check1, Duration::from_secs(8)).await;
    assert_eq!(after["passed"], json!(true), "{after}");

    let check2 = format!("/lessons/sessions/{sid}/steps/2/check");
    let (_, before) = get(&server, &check2).await;
    assert_eq!(before["passed"], json!(false), "{before}");
    let kill = json!({"in": "host", "run": "kill -9 {pid:box}"});
    let (status, body) = post(&server, &typed, Some(kill)).await;
    assert_eq!(status, 204, "{body}");
    let after = passes_within(&server, &check2, Duration::from_secs(8)).await;
    assert_eq!(after["passed"], json!(true), "{after}");

    let (status, body) = server
        .delete(&format!("/lessons/sessions/{sid}"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .expect("the server answers");
    assert_eq!(status, 204, "{body:?}");
    assert!(
        server.leftover_state_dirs().is_empty(),
        "{:?}",
        server.leftover_state_dirs()
    );
    let (status, _) = get(&server, &check1).await;
    assert_eq!(status, 404);
    let _ = box_id;
    let shell_gone = std::fs::read_to_string(format!("/proc/{shell}/comm")).is_err();
    assert!(shell_gone, "the host shell ended with its session");

    // The prediction's probe: the pid lesson asks what PID 1 is inside the box.
    let (status, info) = post(&server, "/lessons/pid/sessions", Some(json!({"replay": 1}))).await;
    assert_eq!(status, 201, "{info}");
    let sid = info["id"].as_str().expect("an id").to_string();
    let (status, answer) = get(&server, &format!("/lessons/sessions/{sid}/steps/1/probe")).await;
    assert_eq!(
        (status, answer["answer"].as_str()),
        (200, Some("isolab-init")),
        "{answer}"
    );
    let (status, reset) = post(&server, &format!("/lessons/sessions/{sid}/reset"), None).await;
    assert_eq!(status, 200, "{reset}");
    assert_ne!(reset["containers"]["box"], info["containers"]["box"]);
    let response = server
        .delete(&format!("/lessons/sessions/{sid}"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 204);
    assert!(server.leftover_state_dirs().is_empty());
    assert!(!host_has("sleep 500"));
    server.shutdown().await;
}

/// A closed tab never ends its session: the server does, once the session had no
/// request for the idle time and no terminal open onto it.
#[tokio::test]
async fn an_unused_lesson_session_ends_by_itself() {
    let server = TestServer::start_with("lesson-idle", |config| {
        config.lesson_idle = Duration::from_secs(1);
    })
    .await;
    let (status, info) = post(&server, "/lessons/uts/sessions", None).await;
    assert_eq!(status, 201, "{info}");
    let sid = info["id"].as_str().expect("an id").to_string();
    let box_id = info["containers"]["box"]
        .as_str()
        .expect("the box")
        .to_string();
    let container = format!("/containers/{box_id}");
    let check = format!("/lessons/sessions/{sid}/steps/1/check");

    // A terminal open onto the box keeps the session, however long no request comes.
    let mut terminal = server.socket(&format!("{container}/terminal")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = get(&server, &container).await;
    assert_eq!(
        status, 200,
        "the box went while its terminal was open: {body}"
    );
    let _ = terminal.close(None).await;
    drop(terminal);

    // Closed: the session ends after the idle time, and its container with it. Only
    // the container is polled, since a request on the session would keep it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while get(&server, &container).await.0 != 404 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unused session's container is still there"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = get(&server, &check).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        server.leftover_state_dirs().is_empty(),
        "{:?}",
        server.leftover_state_dirs()
    );
    server.shutdown().await;
}
