//! A class's rules on a real server: joining (codes, names, closing, rotating, the
//! limit on wrong codes), students' quotas and namespaces (the real uid maps), and
//! the progress export.

use crate::support::classroom as classroom_support;
use crate::support::server as support;

use classroom_support::{call, class_server, code, create_as, join, join_code, Who};
use isolab::classroom::policy::{NamespacePolicy, StudentQuota};
use isolab::classroom::StudentPolicy;
use reqwest::Method;
use serde_json::{json, Value};

async fn try_join(server: &support::TestServer, code_text: &str, name: &str) -> (u16, Value) {
    call(
        server,
        &Who::NoToken,
        Method::POST,
        "/classroom/join",
        Some(json!({"code": code_text, "name": name})),
    )
    .await
}

#[tokio::test]
async fn joining_follows_the_code_the_names_and_the_teacher() {
    let server = class_server("join", None).await;
    let code_now = join_code(&server).await;

    let (status, body) = try_join(&server, &code_now.to_lowercase(), "Ada").await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("a token");
    assert_eq!(token.len(), 32, "128 bits in hex");
    assert_eq!(body["student"]["name"], "Ada");
    let ada = Who::Student(token.to_string());
    let (status, me) = call(&server, &ada, Method::GET, "/classroom", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "student");
    assert_eq!(me["join_code"], Value::Null, "students do not see the code");

    let (status, body) = try_join(&server, "AAA-AAA", "Bob").await;
    assert_eq!((status, code(&body)), (403, "bad_join_code"));
    for (name, want) in [
        ("ADA", "name_taken"),
        ("   ", "bad_name"),
        (&"x".repeat(41) as &str, "bad_name"),
        ("Bo\u{1b}[31mb", "bad_name"),
    ] {
        let (status, body) = try_join(&server, &code_now, name).await;
        assert_eq!((status, code(&body)), (400, want), "{name:?}: {body}");
    }

    // Closed joining, then open again.
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::PATCH,
        "/classroom",
        Some(json!({"joining": false})),
    )
    .await;
    assert_eq!((status, info["joining"].clone()), (200, json!(false)));
    let (status, body) = try_join(&server, &code_now, "Bob").await;
    assert_eq!((status, code(&body)), (403, "joining_closed"));
    call(
        &server,
        &Who::Teacher,
        Method::PATCH,
        "/classroom",
        Some(json!({"joining": true})),
    )
    .await;

    // A rotated code: the old one stops working.
    let (status, info) = call(
        &server,
        &Who::Teacher,
        Method::POST,
        "/classroom/code",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let rotated = info["join_code"].as_str().expect("a code").to_string();
    assert_ne!(rotated, code_now);
    let (status, body) = try_join(&server, &code_now, "Bob").await;
    assert_eq!((status, code(&body)), (403, "bad_join_code"));
    let (status, body) = try_join(&server, &rotated, "Bob").await;
    assert_eq!(status, 201, "{body}");

    // 10 wrong codes in all from this address (two above): then even the right one is 429.
    for _ in 0..8 {
        let (status, _) = try_join(&server, "ZZZ-ZZZ", "Cy").await;
        assert_eq!(status, 403);
    }
    let (status, body) = try_join(&server, &rotated, "Cy").await;
    assert_eq!((status, code(&body)), (429, "rate_limited"));
    server.shutdown().await;
}

/// The uid map of a container's init, as `(inside, outside, count)`.
fn uid_map(state: &Value) -> (u64, u64, u64) {
    let pid = state["init_pid"].as_u64().expect("an init pid");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).expect("uid_map reads");
    let fields: Vec<u64> = map
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert_eq!(fields.len(), 3, "one line: {map}");
    (fields[0], fields[1], fields[2])
}

#[tokio::test]
async fn students_stay_within_their_quota_and_namespaces() {
    let policy = StudentPolicy {
        quota: "containers=2,memory=128M,pids=64,cpus=0.5"
            .parse::<StudentQuota>()
            .expect("a quota"),
        namespaces: NamespacePolicy::Strict,
    };
    let server = class_server("quota", Some(policy)).await;
    let a = join(&server, "Ada").await.who();
    let b = join(&server, "Bob").await.who();
    let create = |who: &Who, body: Value| {
        let who = who.clone();
        let server = &server;
        async move { call(server, &who, Method::POST, "/containers", Some(body)).await }
    };

    for limits in [
        json!({"memory_bytes": 512 << 20}),
        json!({"pids": null}),
        json!({"cpus": 2.0}),
    ] {
        let (status, body) = create(&a, json!({"limits": limits})).await;
        assert_eq!(
            (status, code(&body)),
            (403, "quota_exceeded"),
            "{limits}: {body}"
        );
    }
    let (status, body) = create(&a, json!({"namespaces": ["pid", "mnt"]})).await;
    assert_eq!((status, code(&body)), (403, "namespace_required"), "{body}");

    // Without limits: the quota's. uts and ipc may be left out; user is added.
    let (status, first) = create(
        &a,
        json!({"namespaces": ["pid", "mnt", "net"], "tty": true}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        first["spec"]["limits"],
        json!({"pids": 64, "memory_bytes": 128 << 20, "cpus": 0.5})
    );
    let namespaces = first["spec"]["namespaces"].as_array().expect("a list");
    assert!(namespaces.contains(&json!("user")), "{namespaces:?}");
    assert_eq!(first["spec"]["userns"], "auto", "the allocator's range");
    assert!(!namespaces.contains(&json!("uts")), "{namespaces:?}");

    // Each student's root is another host uid range, disjoint from the other's.
    let (_, theirs) = create(&b, json!({})).await;
    let (inside_a, outside_a, count_a) = uid_map(&first);
    let (inside_b, outside_b, count_b) = uid_map(&theirs);
    assert_eq!((inside_a, inside_b), (0, 0));
    assert!(
        outside_a >= isolab_shared::userns::FIRST_ID as u64
            && outside_b >= isolab_shared::userns::FIRST_ID as u64,
        "{outside_a} {outside_b}"
    );
    assert!(
        outside_a + count_a <= outside_b || outside_b + count_b <= outside_a,
        "ranges overlap: {outside_a}+{count_a} and {outside_b}+{count_b}"
    );

    // Limits changed later stay within the quota too; an exec enters every namespace.
    let id = first["id"].as_str().expect("an id");
    let (status, body) = call(
        &server,
        &a,
        Method::PATCH,
        &format!("/containers/{id}/limits"),
        Some(json!({"pids": 1000})),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "quota_exceeded"), "{body}");
    let (status, body) = call(
        &server,
        &a,
        Method::POST,
        &format!("/containers/{id}/exec"),
        Some(json!({"namespaces": ["net"]})),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "namespace_required"), "{body}");

    // One container more than the quota's count.
    create_as(&server, &a, json!({})).await;
    let (status, body) = create(&a, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (429, "too_many_containers"),
        "{body}"
    );
    // The teacher's are not bound by it.
    let teacher = create_as(&server, &Who::Teacher, json!({"limits": {"pids": null}})).await;
    assert!(!teacher.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn progress_is_counted_and_exported_as_csv() {
    let server = class_server("progress", None).await;
    let ada = join(&server, "Ada").await;
    let odd = join(&server, "Lovelace, \"Ada\"").await;
    let report = |who: Who, lesson: &str, step: &str, passed: bool| {
        let server = &server;
        let body = json!({"lesson": lesson, "step": step, "passed": passed});
        async move {
            call(
                server,
                &who,
                Method::POST,
                "/classroom/progress",
                Some(body),
            )
            .await
            .0
        }
    };
    assert_eq!(report(ada.who(), "namespaces", "1", false).await, 204);
    assert_eq!(report(ada.who(), "namespaces", "1", true).await, 204);
    assert_eq!(report(ada.who(), "namespaces", "1", false).await, 204);
    assert_eq!(report(ada.who(), "namespaces", "2", false).await, 204);
    assert_eq!(report(odd.who(), "cgroups", "a,b", true).await, 204);
    assert_eq!(report(Who::Teacher, "namespaces", "1", true).await, 403);

    // Hands: the student raises, the roster shows it, the teacher lowers it.
    let (status, _) = call(&server, &ada.who(), Method::POST, "/classroom/hand", None).await;
    assert_eq!(status, 204);
    let (_, roster) = call(
        &server,
        &Who::Teacher,
        Method::GET,
        "/classroom/students",
        None,
    )
    .await;
    assert!(
        roster[0]["hand_raised_at_ms"].as_u64().is_some(),
        "{roster}"
    );
    assert_eq!(
        (
            roster[0]["steps_passed"].clone(),
            roster[0]["steps_tried"].clone()
        ),
        (json!(1), json!(2))
    );
    let path = format!("/classroom/students/{}/hand", ada.id);
    assert_eq!(
        call(&server, &Who::Teacher, Method::DELETE, &path, None)
            .await
            .0,
        204
    );
    let (_, roster) = call(
        &server,
        &Who::Teacher,
        Method::GET,
        "/classroom/students",
        None,
    )
    .await;
    assert_eq!(roster[0]["hand_raised_at_ms"], Value::Null, "{roster}");

    let response = server
        .http
        .get(server.url("/classroom/progress.csv"))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .expect("the export answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let csv = response.text().await.expect("text");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "student,lesson,step,passed_at,attempts");
    assert!(
        lines[1].starts_with("Ada,namespaces,1,20") && lines[1].ends_with("Z,3"),
        "{csv}"
    );
    assert_eq!(lines[2], "Ada,namespaces,2,,1", "{csv}");
    assert!(
        lines[3].starts_with("\"Lovelace, \"\"Ada\"\"\",cgroups,\"a,b\",20")
            && lines[3].ends_with(",1"),
        "{csv}"
    );
    assert_eq!(lines[4], "", "{csv}");
    server.shutdown().await;
}
