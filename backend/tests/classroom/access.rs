//! Who may reach what in a class: every container route and socket, the event
//! stream, metrics and the teacher's routes, for the teacher, two students, no token
//! and a wrong token, on each one's containers and a container that does not exist.
//! And a removed student's open sockets close within a second.

use crate::support::classroom as classroom_support;
use crate::support::server as support;

use std::time::Duration;

use classroom_support::{
    call, closed_within, code, create_as, join, socket_as, socket_status, Who,
};
use isolab::classroom::Classroom;
use isolab_shared::{EventKind, StreamMessage};
use reqwest::Method;
use serde_json::{json, Value};
use support::{next_message, TestServer};

const SHELL: &str = r#"{"command": ["/bin/sh"], "tty": true}"#;

/// A container's id by its role in the matrix.
struct Targets {
    a: String,
    b: String,
    teacher: String,
}

impl Targets {
    fn id(&self, target: Target) -> &str {
        match target {
            Target::A => &self.a,
            Target::B => &self.b,
            Target::Teacher => &self.teacher,
            Target::Missing => "no-such-container",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    A,
    B,
    Teacher,
    Missing,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Teacher,
    A,
    B,
    NoToken,
    WrongToken,
}

const CALLERS: [Caller; 5] = [
    Caller::Teacher,
    Caller::A,
    Caller::B,
    Caller::NoToken,
    Caller::WrongToken,
];
const TARGETS: [Target; 4] = [Target::A, Target::B, Target::Teacher, Target::Missing];

/// The status a container route answers `caller` on `target` with, given `ok`.
fn expected(caller: Caller, target: Target, ok: u16) -> u16 {
    let mine = matches!(
        (caller, target),
        (Caller::Teacher, Target::A | Target::B | Target::Teacher)
            | (Caller::A, Target::A)
            | (Caller::B, Target::B)
    );
    match caller {
        Caller::NoToken | Caller::WrongToken => 401,
        _ if mine => ok,
        _ => 404,
    }
}

struct Class {
    server: TestServer,
    a: classroom_support::Student,
    b: classroom_support::Student,
    targets: Targets,
    /// An exec session of each container (made by the teacher), for exec terminals.
    execs: [(Target, String); 3],
}

impl Class {
    fn who(&self, caller: Caller) -> Who {
        match caller {
            Caller::Teacher => Who::Teacher,
            Caller::A => self.a.who(),
            Caller::B => self.b.who(),
            Caller::NoToken => Who::NoToken,
            Caller::WrongToken => Who::WrongToken,
        }
    }

    fn exec_of(&self, target: Target) -> &str {
        self.execs
            .iter()
            .find(|(t, _)| *t == target)
            .map_or("x00000000", |(_, e)| e.as_str())
    }
}

async fn class() -> Class {
    // The matrix sends a wrong token to every route on purpose, more often than the
    // limit on wrong tokens allows (tested on its own in the server tests).
    let server = TestServer::start_with("access", |config| {
        let classroom =
            Classroom::open(&config.live.runtime.state_root, None).expect("the class opens");
        config.classroom = Some(classroom);
        config.max_auth_failures = 1000;
    })
    .await;
    let a = join(&server, "Ada").await;
    let b = join(&server, "Bob").await;
    let shell: Value = serde_json::from_str(SHELL).expect("json");
    let targets = Targets {
        a: create_as(&server, &a.who(), shell.clone()).await,
        b: create_as(&server, &b.who(), shell.clone()).await,
        teacher: create_as(&server, &Who::Teacher, shell).await,
    };
    let mut execs = Vec::new();
    for target in [Target::A, Target::B, Target::Teacher] {
        let path = format!("/containers/{}/exec", targets.id(target));
        let (status, info) =
            call(&server, &Who::Teacher, Method::POST, &path, Some(json!({}))).await;
        assert_eq!(status, 201, "{info}");
        execs.push((target, info["id"].as_str().expect("exec id").to_string()));
    }
    let execs = [execs[0].clone(), execs[1].clone(), execs[2].clone()];
    Class {
        server,
        a,
        b,
        targets,
        execs,
    }
}

#[tokio::test]
async fn every_route_and_socket_answers_each_caller_on_each_container() {
    let class = class().await;
    let server = &class.server;
    let mut failures = Vec::new();

    // Container routes that leave the container running.
    type Route = (Method, &'static str, Option<Value>, u16);
    let routes: [Route; 4] = [
        (Method::GET, "", None, 200),
        (
            Method::POST,
            "/signal",
            Some(json!({"signal": "CONT"})),
            204,
        ),
        (Method::PATCH, "/limits", Some(json!({"pids": 100})), 200),
        (
            Method::POST,
            "/exec",
            Some(json!({"command": ["/bin/true"]})),
            201,
        ),
    ];
    for (method, suffix, body, ok) in &routes {
        for caller in CALLERS {
            for target in TARGETS {
                let path = format!("/containers/{}{suffix}", class.targets.id(target));
                let (status, answer) = call(
                    server,
                    &class.who(caller),
                    method.clone(),
                    &path,
                    body.clone(),
                )
                .await;
                let want = expected(caller, target, *ok);
                if status != want {
                    failures.push(format!(
                        "{caller:?} {method} {path} ({target:?}): {status}, want {want}: {answer}"
                    ));
                }
                if want == 404 && code(&answer) != "not_found" {
                    failures.push(format!("{caller:?} {method} {path}: code {answer}"));
                }
            }
        }
    }
    // Terminal sockets of containers and of exec sessions.
    for caller in CALLERS {
        for target in TARGETS {
            let id = class.targets.id(target);
            let want = expected(caller, target, 101);
            let path = format!("/containers/{id}/terminal");
            let status = socket_status(server, &class.who(caller), &path).await;
            if status != want {
                failures.push(format!("{caller:?} WS {path}: {status}, want {want}"));
            }
            let path = format!("/containers/{id}/exec/{}/terminal", class.exec_of(target));
            let status = socket_status(server, &class.who(caller), &path).await;
            if status != want {
                failures.push(format!("{caller:?} WS {path}: {status}, want {want}"));
            }
        }
    }
    // Routes without a container: the list, the event stream, metrics.
    for caller in CALLERS {
        let who = class.who(caller);
        let (status, list) = call(server, &who, Method::GET, "/containers", None).await;
        let want_ids: Vec<&str> = match caller {
            Caller::Teacher => vec![&class.targets.a, &class.targets.b, &class.targets.teacher],
            Caller::A => vec![&class.targets.a],
            Caller::B => vec![&class.targets.b],
            _ => vec![],
        };
        let want_status = if want_ids.is_empty() { 401 } else { 200 };
        let mut ids: Vec<&str> = list
            .as_array()
            .map(|l| l.iter().filter_map(|c| c["id"].as_str()).collect())
            .unwrap_or_default();
        ids.sort();
        let mut want_sorted = want_ids.clone();
        want_sorted.sort();
        if status != want_status || ids != want_sorted {
            failures.push(format!(
                "{caller:?} GET /containers: {status} {ids:?}, want {want_status} {want_sorted:?}"
            ));
        }
        let status = socket_status(server, &who, "/events").await;
        if status != if want_ids.is_empty() { 401 } else { 101 } {
            failures.push(format!("{caller:?} WS /events: {status}"));
        }
        let (status, _) = call(server, &who, Method::GET, "/metrics", None).await;
        let want = match caller {
            Caller::Teacher => 200,
            Caller::A | Caller::B => 403,
            _ => 401,
        };
        if status != want {
            failures.push(format!("{caller:?} GET /metrics: {status}, want {want}"));
        }
    }
    // The teacher's routes (ending the class comes last, below).
    let teacher_routes: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, "/classroom/students".into(), None, 200),
        (Method::POST, "/classroom/code".into(), None, 200),
        (
            Method::PATCH,
            "/classroom".into(),
            Some(json!({"joining": true})),
            200,
        ),
        (
            Method::DELETE,
            format!("/classroom/students/{}/hand", class.b.id),
            None,
            204,
        ),
        (
            Method::DELETE,
            "/classroom/students/s-nobody".into(),
            None,
            404,
        ),
        (Method::GET, "/classroom/progress.csv".into(), None, 200),
    ];
    for (method, path, body, ok) in &teacher_routes {
        for caller in CALLERS {
            let (status, answer) = call(
                server,
                &class.who(caller),
                method.clone(),
                path,
                body.clone(),
            )
            .await;
            let want = match caller {
                Caller::Teacher => *ok,
                Caller::A | Caller::B => 403,
                _ => 401,
            };
            if status != want {
                failures.push(format!(
                    "{caller:?} {method} {path}: {status}, want {want}: {answer}"
                ));
            }
        }
    }
    // Stop and remove: the refusals first, then each owner's own.
    for (method, suffix, ok) in [(Method::POST, "/stop", 202), (Method::DELETE, "", 204)] {
        let mut cases: Vec<(Caller, Target)> = CALLERS
            .iter()
            .flat_map(|c| TARGETS.iter().map(move |t| (*c, *t)))
            .filter(|(c, t)| expected(*c, *t, ok) != ok)
            .collect();
        cases.extend([
            (Caller::A, Target::A),
            (Caller::B, Target::B),
            (Caller::Teacher, Target::Teacher),
        ]);
        for (caller, target) in cases {
            let path = format!("/containers/{}{suffix}", class.targets.id(target));
            let (status, answer) =
                call(server, &class.who(caller), method.clone(), &path, None).await;
            let want = expected(caller, target, ok);
            if status != want {
                failures.push(format!(
                    "{caller:?} {method} {path}: {status}, want {want}: {answer}"
                ));
            }
        }
    }
    for caller in CALLERS {
        let (status, _) = call(
            server,
            &class.who(caller),
            Method::POST,
            "/classroom/end",
            None,
        )
        .await;
        let want = match caller {
            Caller::Teacher => 204,
            Caller::A | Caller::B => 403,
            _ => 401,
        };
        if status != want {
            failures.push(format!(
                "{caller:?} POST /classroom/end: {status}, want {want}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "access matrix failures:\n{}",
        failures.join("\n")
    );
    class.server.shutdown().await;
}

#[tokio::test]
async fn a_students_stream_holds_only_their_containers() {
    let class = class().await;
    let server = &class.server;
    let mut stream = socket_as(server, &class.a.who(), "/events")
        .await
        .expect("opens");
    let Some(StreamMessage::Snapshot { snapshot }) =
        next_message(&mut stream, Duration::from_secs(5)).await
    else {
        panic!("a snapshot first");
    };
    let ids: Vec<&str> = snapshot.containers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![class.targets.a.as_str()]);
    assert!(
        snapshot.host.processes.is_empty(),
        "no host processes for a student"
    );
    assert_eq!(
        snapshot.containers[0].owner.as_deref(),
        Some(class.a.id.as_str())
    );

    // Someone else's new container, then one of A's own.
    let shell: Value = serde_json::from_str(SHELL).expect("json");
    let b2 = create_as(server, &class.b.who(), shell.clone()).await;
    let a2 = create_as(server, &class.a.who(), shell).await;
    let mine = [class.targets.a.clone(), a2.clone()];
    let mut saw_a2 = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline && !saw_a2 {
        let Some(StreamMessage::Event { event }) =
            next_message(&mut stream, Duration::from_secs(5)).await
        else {
            continue;
        };
        match &event.kind {
            EventKind::ContainerCreated { container } => {
                assert_eq!(container.id, a2, "only A's creations reach A");
                saw_a2 = true;
            }
            EventKind::Stats { usage } => {
                assert!(
                    usage.keys().all(|k| mine.contains(k)),
                    "stats of others: {usage:?}"
                )
            }
            EventKind::ProcessStarted { container, .. }
            | EventKind::ProcessExited { container, .. } => assert!(
                container.as_ref().is_some_and(|c| mine.contains(c)),
                "a process not in A's containers: {event:?}"
            ),
            other => assert!(
                !format!("{other:?}").contains(&b2),
                "B's event reached A: {other:?}"
            ),
        }
    }
    assert!(saw_a2, "A saw its own new container");
    class.server.shutdown().await;
}

#[tokio::test]
async fn a_removed_students_sockets_close_within_a_second() {
    let class = class().await;
    let server = &class.server;
    let a = class.a.who();
    let mut events = socket_as(server, &a, "/events")
        .await
        .expect("events opens");
    let path = format!("/containers/{}/terminal", class.targets.a);
    let mut terminal = socket_as(server, &a, &path).await.expect("terminal opens");
    let path = format!(
        "/containers/{}/exec/{}/terminal",
        class.targets.a,
        class.exec_of(Target::A)
    );
    let mut exec_terminal = socket_as(server, &a, &path)
        .await
        .expect("exec terminal opens");
    // Connected while a socket is open.
    let (_, roster) = call(
        server,
        &Who::Teacher,
        Method::GET,
        "/classroom/students",
        None,
    )
    .await;
    assert_eq!(roster[0]["connected"], true, "{roster}");
    assert_eq!(roster[1]["connected"], false, "{roster}");

    // The sockets are watched while the removal is still answering: the student's
    // token is revoked first, and their containers go after (which can take longer).
    let started = tokio::time::Instant::now();
    let path = format!("/classroom/students/{}", class.a.id);
    let second = Duration::from_secs(1);
    let (removal, events_closed, terminal_closed, exec_closed) = tokio::join!(
        call(server, &Who::Teacher, Method::DELETE, &path, None),
        async {
            let code = closed_within(&mut events, second).await;
            (code, started.elapsed())
        },
        async {
            let code = closed_within(&mut terminal, second).await;
            (code, started.elapsed())
        },
        async {
            let code = closed_within(&mut exec_terminal, second).await;
            (code, started.elapsed())
        },
    );
    let (status, body) = removal;
    assert_eq!(status, 204, "{body}");
    assert_eq!(events_closed.0, Some(Some(4001)), "events socket");
    assert!(terminal_closed.0.is_some(), "terminal");
    assert!(exec_closed.0.is_some(), "exec terminal");
    for (what, (_, at)) in [
        ("events", events_closed),
        ("terminal", terminal_closed),
        ("exec terminal", exec_closed),
    ] {
        assert!(at <= second, "the {what} socket closed after {at:?}");
    }

    // The token is dead, and A's containers are gone; B keeps theirs.
    let (status, _) = call(server, &a, Method::GET, "/containers", None).await;
    assert_eq!(status, 401);
    let (_, roster) = call(
        server,
        &Who::Teacher,
        Method::GET,
        "/classroom/students",
        None,
    )
    .await;
    assert_eq!(roster.as_array().map(Vec::len), Some(1), "{roster}");
    assert_eq!(roster[0]["containers"], json!([class.targets.b]));
    class.server.shutdown().await;
}
