//! The teacher's stage in a class: the broadcast (a student views the teacher's
//! terminal read-only, cannot type into it, and loses it when it stops), taking
//! control of a student's terminal (the student is told), the class's end time (the
//! students' containers stop, are kept, and the teacher can extend), and `/join/CODE`
//! serving the web UI.

use crate::support::classroom as classroom_support;
use crate::support::server as support;

use std::time::Duration;

use classroom_support::{call, class_server, closed_within, create_as, join, socket_as, Who};
use futures::{SinkExt, StreamExt};
use isolab::classroom::Classroom;
use isolab::wall_clock::now_ms;
use reqwest::Method;
use serde_json::{json, Value};
use support::{Socket, TestServer};
use tokio_tungstenite::tungstenite::Message;

fn shell() -> Value {
    json!({"command": ["/bin/sh"], "tty": true})
}

/// Reads a terminal socket until its output holds `needle`; returns all output read.
async fn read_until(ws: &mut Socket, seen: &mut String, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => seen.push_str(&String::from_utf8_lossy(&b)),
            Ok(Some(Ok(_))) => {}
            other => panic!("no {needle:?} in {seen:?}: {other:?}"),
        }
    }
}

async fn type_into(ws: &mut Socket, text: &str) {
    ws.send(Message::Binary(text.as_bytes().to_vec().into()))
        .await
        .expect("sends keystrokes");
}

async fn class_info(server: &TestServer, who: &Who) -> Value {
    let (status, info) = call(server, who, Method::GET, "/classroom", None).await;
    assert_eq!(status, 200, "{info}");
    info
}

#[tokio::test]
async fn a_student_views_the_broadcast_read_only_until_it_stops() {
    let server = class_server("stage-broadcast", None).await;
    let ada = join(&server, "Ada").await.who();
    let teachers = create_as(&server, &Who::Teacher, shell()).await;
    let adas = create_as(&server, &ada, shell()).await;
    let view = format!("/containers/{teachers}/terminal?mode=view");
    let control = format!("/containers/{teachers}/terminal");

    // Before the broadcast, the teacher's container does not exist for a student.
    assert_eq!(socket_as(&server, &ada, &view).await.err(), Some(404));
    let body = json!({ "container": teachers });
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::POST,
        "/classroom/broadcast",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, info["broadcast"].as_str()),
        (200, Some(teachers.as_str())),
        "{info}"
    );
    assert_eq!(
        class_info(&server, &ada).await["broadcast"],
        json!(teachers)
    );
    // A student may not broadcast, and a student's container may not be broadcast.
    let (status, _) = call(&server, &ada, Method::DELETE, "/classroom/broadcast", None).await;
    assert_eq!(status, 403);
    let body = json!({ "container": adas });
    let (status, _) = call(
        &server,
        &Who::Teacher,
        Method::POST,
        "/classroom/broadcast",
        Some(body),
    )
    .await;
    assert_eq!(status, 400);

    // Only the view-mode terminal opens: not control mode, nor anything else of it.
    assert_eq!(socket_as(&server, &ada, &control).await.err(), Some(404));
    let (status, _) = call(
        &server,
        &ada,
        Method::GET,
        &format!("/containers/{teachers}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let mut student = socket_as(&server, &ada, &view)
        .await
        .expect("the broadcast opens");
    let mut teacher = socket_as(&server, &Who::Teacher, &control)
        .await
        .expect("opens");
    let (mut seen, mut teacher_seen) = (String::new(), String::new());
    type_into(&mut teacher, "echo bc-$((6*7))\n").await;
    read_until(&mut student, &mut seen, "bc-42").await;

    // What the student types goes nowhere.
    type_into(&mut student, "echo typed-by-student\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    type_into(&mut teacher, "echo mark$((1+1))\n").await;
    read_until(&mut teacher, &mut teacher_seen, "mark2").await;
    assert!(!teacher_seen.contains("typed-by-student"), "{teacher_seen}");

    // Stopped: the student's view closes, and cannot be opened again.
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::DELETE,
        "/classroom/broadcast",
        None,
    )
    .await;
    assert_eq!((status, &info["broadcast"]), (200, &Value::Null), "{info}");
    assert_eq!(
        closed_within(&mut student, Duration::from_secs(1)).await,
        Some(Some(4002))
    );
    assert_eq!(socket_as(&server, &ada, &view).await.err(), Some(404));
    server.shutdown().await;
}

#[tokio::test]
async fn a_student_is_told_while_the_teacher_controls_their_terminal() {
    let server = class_server("stage-control", None).await;
    let ada = join(&server, "Ada").await.who();
    let adas = create_as(&server, &ada, shell()).await;
    let path = format!("/containers/{adas}/terminal");

    let viewing = socket_as(&server, &Who::Teacher, &format!("{path}?mode=view")).await;
    let _viewing = viewing.expect("the teacher views");
    assert_eq!(class_info(&server, &ada).await["taken_over"], json!([]));
    let mut control = socket_as(&server, &Who::Teacher, &path)
        .await
        .expect("takes control");
    assert_eq!(class_info(&server, &ada).await["taken_over"], json!([adas]));
    control.close(None).await.expect("closes");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while class_info(&server, &ada).await["taken_over"] != json!([]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "control never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}

/// The student's view of their container `id`: its status.
async fn status_of(server: &TestServer, who: &Who, id: &str) -> String {
    let (status, state) = call(server, who, Method::GET, &format!("/containers/{id}"), None).await;
    assert_eq!(status, 200, "{state}");
    state["status"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn at_the_end_students_containers_stop_and_the_teacher_can_extend() {
    let server = class_server("stage-end", None).await;
    let ada = join(&server, "Ada").await.who();
    let adas = create_as(&server, &ada, shell()).await;
    let teachers = create_as(&server, &Who::Teacher, shell()).await;

    let end = now_ms() + 1500;
    let body = json!({ "ends_at_ms": end });
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::PATCH,
        "/classroom",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, info["ends_at_ms"].as_u64()),
        (200, Some(end)),
        "{info}"
    );
    let info = class_info(&server, &ada).await;
    assert_eq!(info["ends_at_ms"].as_u64(), Some(end));
    assert!(
        info["now_ms"].as_u64().is_some_and(|n| n + 60_000 > end),
        "{info}"
    );
    // Kept in the store: a restarted server would end the class at the same time.
    let reopened = Classroom::open(&server.state_root, None).expect("reopens");
    assert_eq!(reopened.ends_at(), Some(end));
    drop(reopened);

    // Stopped (a shell ignores SIGTERM: the SIGKILL after the grace ends it), not removed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while status_of(&server, &ada, &adas).await != "exited" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the class ended, the container runs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status_of(&server, &Who::Teacher, &teachers).await,
        "running"
    );
    let (status, body) = call(&server, &ada, Method::POST, "/containers", Some(shell())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    // Extended: students may work again; removed end time: none shown.
    let body = json!({ "ends_at_ms": now_ms() + 3_600_000 });
    let (status, _) = call(
        &server,
        &Who::Teacher,
        Method::PATCH,
        "/classroom",
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
    create_as(&server, &ada, shell()).await;
    let body = json!({ "ends_at_ms": 0 });
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::PATCH,
        "/classroom",
        Some(body),
    )
    .await;
    assert_eq!((status, &info["ends_at_ms"]), (200, &Value::Null), "{info}");
    let (status, _) = call(
        &server,
        &ada,
        Method::PATCH,
        "/classroom",
        Some(json!({"ends_at_ms": 0})),
    )
    .await;
    assert_eq!(status, 403, "only the teacher sets the end");
    server.shutdown().await;
}

#[tokio::test]
async fn the_join_url_serves_the_web_ui() {
    let server = class_server("stage-join-page", None).await;
    let response = server
        .http
        .get(format!("http://{}/join/K7P-2QX", server.addr))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert!(kind.is_some_and(|k| k.starts_with("text/html")), "{kind:?}");
    server.shutdown().await;
}

/// Starts a wait on `/classroom/changes?since=N` as `who`.
fn wait_for_change(
    server: &TestServer,
    who: &Who,
    since: u64,
) -> tokio::task::JoinHandle<(u16, Value)> {
    let (server_http, url, who) = (
        server.http.clone(),
        server.url(&format!("/classroom/changes?since={since}")),
        who.clone(),
    );
    tokio::spawn(async move {
        let mut request = server_http.get(url);
        if let Some(token) = who.token() {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// The change counter now, as `who` reads it (a wait with since=0 answers at once).
async fn class_version(server: &TestServer, who: &Who) -> u64 {
    let (status, body) = call(server, who, Method::GET, "/classroom/changes?since=0", None).await;
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().expect("a version")
}

/// Waits at most 1 s for a pending wait to answer; returns the new version.
async fn answered(wait: tokio::task::JoinHandle<(u16, Value)>, since: u64, what: &str) -> u64 {
    let (status, body) = tokio::time::timeout(Duration::from_secs(1), wait)
        .await
        .unwrap_or_else(|_| panic!("the wait did not answer within 1 s of {what}"))
        .expect("the wait task");
    assert_eq!(status, 200, "{body}");
    let version = body["version"].as_u64().expect("a version");
    assert_ne!(version, since, "{what} moved the counter");
    version
}

#[tokio::test]
async fn waits_on_the_class_answer_within_a_second_of_a_change_and_not_before() {
    let server = class_server("stage-changes", None).await;
    let teacher = Who::Teacher;
    let v = class_version(&server, &teacher).await;

    // Nothing happens: the wait stays pending.
    let wait = wait_for_change(&server, &teacher, v);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!wait.is_finished(), "a wait answered with no change");

    // A student joins: the teacher's wait answers.
    let ada = join(&server, "Ada").await;
    let v = answered(wait, v, "a join").await;

    // The student's own wait answers when the teacher starts a broadcast, and a
    // raised hand wakes the teacher's.
    let student_wait = wait_for_change(&server, &ada.who(), v);
    let teacher_wait = wait_for_change(&server, &teacher, v);
    let (status, body) = call(&server, &ada.who(), Method::POST, "/classroom/hand", None).await;
    assert_eq!(status, 204, "{body}");
    let before = v;
    let v = answered(teacher_wait, before, "a raised hand").await;
    answered(student_wait, before, "a raised hand").await;

    // A student's socket opening and closing changes "connected".
    let wait = wait_for_change(&server, &teacher, v);
    let ws = socket_as(&server, &ada.who(), "/events")
        .await
        .expect("the events socket opens");
    let v = answered(wait, v, "a student's socket opening").await;
    let wait = wait_for_change(&server, &teacher, v);
    drop(ws);
    answered(wait, v, "a student's socket closing").await;

    // A refused request changes nothing; a bad `since` is a typed 400.
    let v = class_version(&server, &teacher).await;
    let wait = wait_for_change(&server, &teacher, v);
    let (status, _) = call(&server, &ada.who(), Method::POST, "/classroom/code", None).await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!wait.is_finished(), "a refused request moved the counter");
    wait.abort();
    let (status, body) = call(
        &server,
        &teacher,
        Method::GET,
        "/classroom/changes?since=soon",
        None,
    )
    .await;
    assert_eq!(
        (status, classroom_support::code(&body)),
        (400, "bad_request")
    );
    server.shutdown().await;
}
