//! A class in progress survives kill -9 of its server: on the same state dir a new
//! server finds the student logged in, their container still theirs, and the roster
//! whole (classroom.db is the store).

use crate::support::server as support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::server::StateRootGuard;
use serde_json::{json, Value};
use support::{fresh_state_root, TOKEN};

/// `isolab serve --classroom` as its own process; killed on drop.
struct ClassServer {
    child: Child,
    base: String,
    join_url: String,
}

impl ClassServer {
    fn start(state_root: &std::path::Path) -> ClassServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_isolab"))
            .args(["serve", "--port", "0", "--token", TOKEN, "--classroom"])
            .args(["--student-quota", "containers=2,memory=64M"])
            .env("ISOLAB_STATE_ROOT", state_root)
            .env("ISOLAB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("isolab serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut urls = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.find("http://").map(|i| l[i..].to_string()));
        let teacher = urls.next().expect("the teacher's URL");
        let join_url = urls.next().expect("the join URL");
        let base = teacher
            .split("/?token=")
            .next()
            .expect("a base")
            .to_string();
        ClassServer {
            child,
            base,
            join_url,
        }
    }

    fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ClassServer {
    fn drop(&mut self) {
        self.kill_9();
    }
}

async fn send(
    http: &reqwest::Client,
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> (u16, Value) {
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    let response = http
        .execute(request.build().expect("a request"))
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_class_survives_kill_9_of_its_server() {
    let state_root = fresh_state_root("class-restart");
    let _guard = StateRootGuard(state_root.clone());
    let http = reqwest::Client::new();

    let mut first = ClassServer::start(&state_root);
    let code = first
        .join_url
        .rsplit("/join/")
        .next()
        .expect("a code")
        .to_string();
    assert!(
        first.join_url.starts_with(&first.base),
        "{}",
        first.join_url
    );
    let url = |base: &str, path: &str| format!("{base}/api/v1{path}");
    let (status, joined) = send(
        &http,
        http.post(url(&first.base, "/classroom/join"))
            .json(&json!({"code": code, "name": "Ada"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{joined}");
    let token = joined["token"].as_str().expect("a token").to_string();
    let student = joined["student"]["id"].as_str().expect("an id").to_string();
    let (status, made) = send(
        &http,
        http.post(url(&first.base, "/containers"))
            .json(&json!({"command": ["/bin/sleep", "600"], "tty": false})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let container = made["id"].as_str().expect("an id").to_string();
    first.kill_9();

    let second = ClassServer::start(&state_root);
    assert!(second.join_url.ends_with(&code), "the join code persists");
    // The student is still logged in and still owns the container.
    let (status, list) = send(
        &http,
        http.get(url(&second.base, "/containers")),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], json!(container));
    assert_eq!(list[0]["owner"], json!(student));
    let path = format!("/containers/{container}");
    let (status, state) = send(&http, http.get(url(&second.base, &path)), Some(&token)).await;
    assert_eq!((status, state["owner"].clone()), (200, json!(student)));
    // Made within the quota (the spec the container keeps).
    assert_eq!(state["spec"]["limits"]["memory_bytes"], json!(64 << 20));
    // The teacher's roster is whole.
    let (status, roster) = send(
        &http,
        http.get(url(&second.base, "/classroom/students")),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(roster[0]["id"], json!(student));
    assert_eq!(roster[0]["name"], "Ada");
    assert_eq!(roster[0]["containers"], json!([container]));
    // The student may remove it, as before.
    let (status, _) = send(&http, http.delete(url(&second.base, &path)), Some(&token)).await;
    assert_eq!(status, 204);
}
