//! The audit log of a real `isolab serve --classroom --log-format json`: a student's
//! create and remove, and a refused request, are one JSON line each with who, what,
//! which container and the result; a terminal typed into is one too, and reads (a
//! terminal watched included) are not logged.

use std::time::Duration;

use serde_json::{json, Value};

use super::serve_process::ServeProcess;
use crate::support::server::fresh_state_root;
use crate::support::server::StateRootGuard;

/// The audit events among the server's JSON log lines.
fn audit_events(stderr: &[String]) -> Vec<Value> {
    stderr
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"))
        })
        .filter(|event| event["target"] == isolab::server::audit::TARGET)
        .collect()
}

#[tokio::test]
async fn a_students_create_and_remove_and_a_refused_call_are_one_audit_line_each() {
    let state_root = fresh_state_root("audit");
    let _guard = StateRootGuard(state_root.clone());
    let server = ServeProcess::start(
        &state_root,
        &["--classroom", "--log-format", "json"],
        "students join at",
    );
    let join_url = server
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("/join/"))
        .expect("the join URL is printed");
    let code = join_url
        .trim()
        .rsplit('/')
        .next()
        .expect("a code")
        .to_string();
    let base = server.base();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let joined: Value = http
        .post(format!("{base}/api/v1/classroom/join"))
        .json(&json!({"code": code, "name": "Ada"}))
        .send()
        .await
        .expect("join")
        .json()
        .await
        .expect("json");
    let student = joined["student"]["id"]
        .as_str()
        .expect("a student id")
        .to_string();
    let student_token = joined["token"].as_str().expect("a token").to_string();

    let created = http
        .post(format!("{base}/api/v1/containers"))
        .bearer_auth(&student_token)
        .json(&json!({"command": ["/bin/sh"], "tty": true}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let container: Value = created.json().await.expect("json");
    let id = container["id"].as_str().expect("an id").to_string();
    // Reads are not audited.
    let listed = http
        .get(format!("{base}/api/v1/containers/{id}"))
        .bearer_auth(&student_token)
        .send()
        .await
        .expect("inspect");
    assert_eq!(listed.status(), 200);
    // Typing into a terminal is audited, watching one is not.
    let ws_base = base.replacen("http://", "ws://", 1);
    for mode in ["control", "view"] {
        let url =
            format!("{ws_base}/api/v1/containers/{id}/terminal?mode={mode}&token={student_token}");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the student's terminal opens");
        let _ = ws.close(None).await;
    }
    let removed = http
        .delete(format!("{base}/api/v1/containers/{id}"))
        .bearer_auth(&student_token)
        .send()
        .await
        .expect("remove");
    assert_eq!(removed.status(), 204);
    let refused = http
        .post(format!("{base}/api/v1/classroom/end"))
        .bearer_auth("not-anyones-token")
        .send()
        .await
        .expect("refused call");
    assert_eq!(refused.status(), 401);
    let stderr = server.stop();

    let events = audit_events(&stderr);
    let one = |action: &str| -> Value {
        let matching: Vec<&Value> = events.iter().filter(|e| e["action"] == action).collect();
        assert_eq!(matching.len(), 1, "one {action} line in {events:#?}");
        matching[0].clone()
    };
    let who = format!("student:{student}");
    let join = one("classroom.join");
    assert_eq!(join["who"], who);
    assert_eq!(join["status"], 201);
    let create = one("container.create");
    assert_eq!(create["who"], who);
    assert_eq!(create["container"], id);
    assert_eq!(create["status"], 201);
    assert_eq!(create["level"], "INFO");
    let remove = one("container.remove");
    assert_eq!(remove["who"], who);
    assert_eq!(remove["container"], id);
    assert_eq!(remove["status"], 204);
    let terminal = one("terminal.control");
    assert_eq!(terminal["who"], who);
    assert_eq!(terminal["container"], id);
    assert_eq!(terminal["status"], 101);
    let end = one("classroom.end");
    assert_eq!(end["who"], "anonymous");
    assert_eq!(end["status"], 401);
    assert_eq!(end["code"], "unauthorized");
    assert_eq!(end["from"], "127.0.0.1");
    assert_eq!(events.len(), 5, "nothing else is audited: {events:#?}");
}
