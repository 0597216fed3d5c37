//! Lesson sessions in a class: a student's session is made of containers of their
//! own, no other student reaches it, a lesson that types into the host's root shell
//! is the teacher's, and the containers go on DELETE and when the student is removed.
//! Its checks fail before the solution and pass after it, on real containers.

use crate::support::classroom as classroom_support;

use std::time::Duration;

use classroom_support::{call, class_server, code, join, Who};
use reqwest::Method;
use serde_json::{json, Value};

/// Checks step `n` of session `sid` as `who` until it passes or `within` runs out;
/// answers the last answer.
async fn check_until_passed(
    server: &crate::support::server::TestServer,
    who: &Who,
    sid: &str,
    n: usize,
    within: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let path = format!("/lessons/sessions/{sid}/steps/{n}/check");
        let (status, body) = call(server, who, Method::GET, &path, None).await;
        assert_eq!(status, 200, "check step {n}: {body}");
        if body["passed"] == json!(true) || tokio::time::Instant::now() >= deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn containers_of(info: &Value) -> Vec<String> {
    info["containers"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn listed(server: &crate::support::server::TestServer, who: &Who) -> Vec<String> {
    let (status, list) = call(server, who, Method::GET, "/containers", None).await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_students_lesson_session_is_theirs_and_checks_the_real_kernel() {
    let server = class_server("lesson-sessions", None).await;
    let a = join(&server, "ada").await;
    let b = join(&server, "bob").await;

    // A lesson typing into the host's root shell is the teacher's.
    let (status, body) = call(
        &server,
        &a.who(),
        Method::POST,
        "/lessons/pid/sessions",
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");

    let (status, info) = call(
        &server,
        &a.who(),
        Method::POST,
        "/lessons/limits/sessions",
        None,
    )
    .await;
    assert_eq!(status, 201, "{info}");
    let sid = info["id"].as_str().expect("a session id").to_string();
    assert_eq!(info["host"], json!(false));
    assert!(info.get("host_pid").is_none(), "{info}");
    let ids = containers_of(&info);
    assert_eq!(ids.len(), 2, "{info}");
    let mine = listed(&server, &a.who()).await;
    assert!(ids.iter().all(|id| mine.contains(id)), "{mine:?} {ids:?}");
    assert!(listed(&server, &b.who()).await.is_empty());

    // Another student reaches nothing of it: every route answers as for no session.
    let typed =
        json!({"in": "bomb", "run": "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max"});
    for (method, path, body) in [
        (
            Method::GET,
            format!("/lessons/sessions/{sid}/steps/1/check"),
            None,
        ),
        (
            Method::GET,
            format!("/lessons/sessions/{sid}/steps/1/probe"),
            None,
        ),
        (
            Method::POST,
            format!("/lessons/sessions/{sid}/steps/3/limits"),
            None,
        ),
        (
            Method::POST,
            format!("/lessons/sessions/{sid}/type"),
            Some(typed.clone()),
        ),
        (Method::POST, format!("/lessons/sessions/{sid}/reset"), None),
        (Method::DELETE, format!("/lessons/sessions/{sid}"), None),
    ] {
        let (status, body) = call(&server, &b.who(), method.clone(), &path, body).await;
        assert_eq!(
            (status, code(&body)),
            (404, "not_found"),
            "{method} {path}: {body}"
        );
    }
    // Only the lesson's own lines are typed.
    let stray = json!({"in": "bomb", "run": "echo anything"});
    let path = format!("/lessons/sessions/{sid}/type");
    let (status, body) = call(&server, &a.who(), Method::POST, &path, Some(stray)).await;
    assert_eq!(status, 400, "{body}");

    // Step 1 fails on the fresh setup and passes once the fork bomb ran.
    let check1 = format!("/lessons/sessions/{sid}/steps/1/check");
    let (status, before) = call(&server, &a.who(), Method::GET, &check1, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["passed"], json!(false), "{before}");
    let bomb = json!({"in": "bomb", "run": "sleep 100 & sleep 100 & sleep 100 & sleep 100 & sleep 100 & sleep 100 & sleep 100 & sleep 100 & sleep 100 &"});
    let (status, body) = call(&server, &a.who(), Method::POST, &path, Some(bomb)).await;
    assert_eq!(status, 204, "{body}");
    let after = check_until_passed(&server, &a.who(), &sid, 1, Duration::from_secs(8)).await;
    assert_eq!(after["passed"], json!(true), "{after}");

    // Step 3: the step's set_limits, within the student's quota, turns it green.
    let before = check_until_passed(&server, &a.who(), &sid, 3, Duration::ZERO).await;
    assert_eq!(before["passed"], json!(false), "{before}");
    let limits = format!("/lessons/sessions/{sid}/steps/3/limits");
    let (status, body) = call(&server, &a.who(), Method::POST, &limits, None).await;
    assert_eq!(status, 204, "{body}");
    let after = check_until_passed(&server, &a.who(), &sid, 3, Duration::from_secs(8)).await;
    assert_eq!(after["passed"], json!(true), "{after}");

    // The teacher reaches the student's session.
    let (status, body) = call(&server, &Who::Teacher, Method::GET, &check1, None).await;
    assert_eq!(status, 200, "{body}");

    // DELETE removes its containers.
    let end = format!("/lessons/sessions/{sid}");
    let (status, body) = call(&server, &a.who(), Method::DELETE, &end, None).await;
    assert_eq!(status, 204, "{body}");
    assert!(listed(&server, &a.who()).await.is_empty());
    assert!(
        server.leftover_state_dirs().is_empty(),
        "{:?}",
        server.leftover_state_dirs()
    );
    let (status, _) = call(&server, &a.who(), Method::GET, &check1, None).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn removing_a_student_ends_their_lesson_session() {
    let server = class_server("lesson-session-removed", None).await;
    let a = join(&server, "ada").await;
    let (status, info) = call(
        &server,
        &a.who(),
        Method::POST,
        "/lessons/limits/sessions",
        None,
    )
    .await;
    assert_eq!(status, 201, "{info}");
    let sid = info["id"].as_str().expect("a session id").to_string();
    assert_eq!(containers_of(&info).len(), 2);
    // A newer start ends the older session: one lesson at a time.
    let (status, newer) = call(
        &server,
        &a.who(),
        Method::POST,
        "/lessons/limits/sessions",
        None,
    )
    .await;
    assert_eq!(status, 201, "{newer}");
    let check_old = format!("/lessons/sessions/{sid}/steps/1/check");
    let (status, _) = call(&server, &a.who(), Method::GET, &check_old, None).await;
    assert_eq!(status, 404);
    assert_eq!(listed(&server, &Who::Teacher).await.len(), 2);

    let path = format!("/classroom/students/{}", a.id);
    let (status, body) = call(&server, &Who::Teacher, Method::DELETE, &path, None).await;
    assert_eq!(status, 204, "{body}");
    assert!(listed(&server, &Who::Teacher).await.is_empty());
    assert!(
        server.leftover_state_dirs().is_empty(),
        "{:?}",
        server.leftover_state_dirs()
    );
    let sid = newer["id"].as_str().expect("a session id");
    let check = format!("/lessons/sessions/{sid}/steps/1/check");
    let (status, _) = call(&server, &Who::Teacher, Method::GET, &check, None).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}
