//! Who may fetch and delete recordings in a class (a student only their own, as if
//! another's did not exist; only the teacher deletes), and that a recording outlives
//! its container and a restart of the server on the same state dir.

use crate::support::classroom as classroom_support;
use crate::support::recording as recording_support;
use crate::support::server as support;

use std::time::Duration;

use crate::support::server::StateRootGuard;
use classroom_support::{call, class_server, create_as, join, Who};
use recording_support::{read_to_end, wait_ended, Cast};
use reqwest::Method;
use serde_json::{json, Value};
use support::{TerminalClient, TestServer, TOKEN};

const WITHIN: Duration = Duration::from_secs(15);

/// The status and body of `GET path` as `who`.
async fn get_as(server: &TestServer, who: &Who, path: &str) -> (u16, Vec<u8>) {
    let mut request = server.http.get(server.url(path));
    if let Who::Student(token) = who {
        request = request.bearer_auth(token);
    } else {
        request = request.bearer_auth(TOKEN);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// The ids of the recordings `who` is listed.
async fn listed(server: &TestServer, who: &Who) -> Vec<String> {
    let (status, body) = call(server, who, Method::GET, "/recordings", None).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_student_gets_only_their_own_recordings_and_only_the_teacher_deletes() {
    let server = class_server("rec-access", None).await;
    let ada = join(&server, "Ada").await;
    let bob = join(&server, "Bob").await;
    let (a, b) = (ada.who(), bob.who());
    let id = create_as(
        &server,
        &a,
        json!({"command": ["/bin/sh", "-c", "echo ada-was-here"], "tty": true}),
    )
    .await;
    let ada_list = listed(&server, &a).await;
    let [rid] = ada_list.as_slice() else {
        panic!("Ada has one recording: {ada_list:?}")
    };
    assert!(listed(&server, &b).await.is_empty());
    assert!(listed(&server, &Who::Teacher).await.contains(rid));
    let entry = wait_ended(&server, rid, WITHIN).await;
    assert_eq!(entry["owner"], ada.id.as_str());

    let by_container = format!("/containers/{id}/recording");
    let by_id = format!("/recordings/{rid}");
    for path in [&by_container, &by_id] {
        let (status, body) = get_as(&server, &a, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(Cast::parse(&body).output().contains("ada-was-here"));
        assert_eq!(get_as(&server, &Who::Teacher, path).await.0, 200, "{path}");
        assert_eq!(get_as(&server, &b, path).await.0, 404, "Bob fetched {path}");
    }
    // The container gone, its recording is still Ada's, and still not Bob's.
    let (status, body) = call(
        &server,
        &a,
        Method::DELETE,
        &format!("/containers/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get_as(&server, &a, &by_container).await.0, 200);
    assert_eq!(get_as(&server, &b, &by_container).await.0, 404);

    let (status, body) = call(&server, &a, Method::DELETE, &by_id, None).await;
    assert_eq!((status, classroom_support::code(&body)), (403, "forbidden"));
    let container_all = format!("/containers/{id}/recordings");
    let (status, _) = call(&server, &b, Method::DELETE, &container_all, None).await;
    assert_eq!(status, 404, "Bob reached Ada's container");
    let (status, body) = call(&server, &Who::Teacher, Method::DELETE, &by_id, None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get_as(&server, &a, &by_id).await.0, 404);
    assert_eq!(get_as(&server, &Who::Teacher, &by_container).await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_removed_students_recordings_stay_for_the_teacher() {
    let server = class_server("rec-removed", None).await;
    let ada = join(&server, "Ada").await;
    create_as(
        &server,
        &ada.who(),
        json!({"command": ["/bin/sh", "-c", "echo before-ada-left"], "tty": true}),
    )
    .await;
    let ada_list = listed(&server, &ada.who()).await;
    let [rid] = ada_list.as_slice() else {
        panic!("Ada has one recording: {ada_list:?}")
    };
    wait_ended(&server, rid, WITHIN).await;
    let (status, body) = call(
        &server,
        &Who::Teacher,
        Method::DELETE,
        &format!("/classroom/students/{}", ada.id),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // Her token is gone with her; what she did is still there to review.
    assert_eq!(get_as(&server, &ada.who(), "/recordings").await.0, 401);
    assert!(listed(&server, &Who::Teacher).await.contains(rid));
    let (status, body) = get_as(&server, &Who::Teacher, &format!("/recordings/{rid}")).await;
    assert_eq!(status, 200);
    assert!(Cast::parse(&body).output().contains("before-ada-left"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_recording_is_served_after_the_server_restarts() {
    let root = support::fresh_state_root("rec-restart-shared");
    let _cleanup = StateRootGuard(root.clone());
    let on_root = |c: &mut isolab::server::ServerConfig| c.live.runtime.state_root = root.clone();
    let first = TestServer::start_with("rec-restart-1", on_root).await;
    let id = first
        .create(json!({"command": ["/bin/sh"], "tty": true}))
        .await;
    let mut term = TerminalClient::open(&first, &format!("/containers/{id}/terminal")).await;
    term.type_text("echo before-the-restart; exit\n").await;
    read_to_end(&mut term.ws, &mut term.output, WITHIN).await;
    let (status, before) = get_as(
        &first,
        &Who::Teacher,
        &format!("/containers/{id}/recording"),
    )
    .await;
    assert_eq!(status, 200);
    // As `isolab serve` stops: containers removed, recordings closed.
    first.state.live().shutdown(false).await;
    if let Some(recordings) = first.state.live().recordings() {
        recordings.close(Duration::from_secs(2)).await;
    }
    first.shutdown().await;

    let second = TestServer::start_with("rec-restart-2", on_root).await;
    let (status, after) = get_as(
        &second,
        &Who::Teacher,
        &format!("/containers/{id}/recording"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&after));
    assert!(
        after.starts_with(&before),
        "the file changed over the restart"
    );
    let cast = Cast::parse(&after);
    assert_eq!(cast.output(), String::from_utf8_lossy(&term.output));
    let (_, list) = call(&second, &Who::Teacher, Method::GET, "/recordings", None).await;
    let entry: &Value = &list[0];
    assert_eq!(entry["container"], id.as_str());
    assert!(!entry["ended_at_ms"].is_null(), "{entry}");
    second.shutdown().await;
}
