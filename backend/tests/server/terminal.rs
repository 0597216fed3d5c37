//! Terminal sessions on a real PTY running a real shell, driven through the
//! WebSocket loop over in-memory channels.

use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use isolab::live::terminal::TerminalSession;
use isolab::server::metrics::ServerMetrics;
use isolab::server::terminal_ws::{terminal_socket, AttachMode, TerminalQuery};
use isolab_shared::{ErrorCode, TerminalNotice};

/// A shell on a fresh PTY; killed on drop so a failing test leaves nothing running.
struct Shell {
    child: Child,
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shell_on_pty() -> (Shell, OwnedFd) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = pty.slave;
    let mut cmd = Command::new("/bin/sh");
    cmd.env("PS1", "$ ")
        .env("TERM", "dumb")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe syscalls, fine between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn sh");
    (Shell { child }, pty.master)
}

type ClientSide = (
    mpsc::UnboundedSender<Result<Message, axum::Error>>,
    mpsc::UnboundedReceiver<Message>,
);

fn connect(session: &Arc<TerminalSession>, mode: AttachMode, offset: Option<u64>) -> ClientSide {
    let (server_write, client_read) = mpsc::unbounded::<Message>();
    let (client_write, server_read) = mpsc::unbounded::<Result<Message, axum::Error>>();
    tokio::spawn(terminal_socket(
        server_write,
        server_read,
        session.clone(),
        TerminalQuery { mode, offset },
        Arc::new(ServerMetrics::default()),
    ));
    (client_write, client_read)
}

fn notice(frame: &Message) -> Option<TerminalNotice> {
    match frame {
        Message::Text(t) => serde_json::from_str(t).ok(),
        _ => None,
    }
}

/// Reads frames until the output so far contains `needle`; returns (output, first notice).
async fn read_until(rx: &mut mpsc::UnboundedReceiver<Message>, needle: &str) -> String {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&out).contains(needle) {
        let frame = tokio::time::timeout_at(deadline, rx.next())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", String::from_utf8_lossy(&out)))
            .expect("socket open");
        if let Message::Binary(b) = frame {
            out.extend_from_slice(&b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn echo_scrollback_view_mode_and_end() {
    let (shell, master) = shell_on_pty();
    let session = TerminalSession::start(master).expect("session starts");

    let (mut tx, mut rx) = connect(&session, AttachMode::Control, None);
    let hello = rx.next().await.expect("hello frame");
    assert!(matches!(
        notice(&hello),
        Some(TerminalNotice::Attached {
            read_only: false,
            ..
        })
    ));
    tx.send(Ok(Message::Binary(b"echo he''llo\n".to_vec().into())))
        .await
        .expect("send");
    read_until(&mut rx, "hello").await;

    // A client that reconnects without an offset gets the scrollback, hello included.
    let (_tx2, mut rx2) = connect(&session, AttachMode::Control, None);
    let out = read_until(&mut rx2, "hello").await;
    assert!(out.contains("echo he''llo"), "{out}");

    // Resuming at the current end replays nothing old.
    let end = session.output_len();
    let (mut tx3, mut rx3) = connect(&session, AttachMode::Control, Some(end));
    match notice(&rx3.next().await.expect("hello")) {
        Some(TerminalNotice::Attached { offset, .. }) => assert_eq!(offset, end),
        other => panic!("expected attached, got {other:?}"),
    }

    // A viewer's input is dropped; its resize too.
    let (mut viewer, mut viewer_rx) = connect(&session, AttachMode::View, Some(end));
    assert!(matches!(
        notice(&viewer_rx.next().await.expect("hello")),
        Some(TerminalNotice::Attached {
            read_only: true,
            ..
        })
    ));
    viewer
        .send(Ok(Message::Binary(b"echo from_vi''ewer\n".to_vec().into())))
        .await
        .expect("send");
    tx3.send(Ok(Message::Binary(
        b"echo from_cont''roller\n".to_vec().into(),
    )))
    .await
    .expect("send");
    let seen = read_until(&mut viewer_rx, "from_controller").await;
    assert!(
        !seen.contains("from_vi"),
        "viewer input reached the shell: {seen}"
    );

    // Control messages: resize works, bad input gets an error frame and the socket stays.
    tx3.send(Ok(Message::Text(
        r#"{"type":"resize","cols":100,"rows":30}"#.into(),
    )))
    .await
    .expect("send");
    tx3.send(Ok(Message::Binary(b"stty size\n".to_vec().into())))
        .await
        .expect("send");
    read_until(&mut rx3, "30 100").await;
    for (input, code) in [
        ("{oops", ErrorCode::BadJson),
        (r#"{"type":"paste"}"#, ErrorCode::UnknownMessage),
        (r#"{"type":"resize","cols":"wide"}"#, ErrorCode::BadRequest),
    ] {
        tx3.send(Ok(Message::Text(input.into())))
            .await
            .expect("send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let frame = tokio::time::timeout_at(deadline, rx3.next())
                .await
                .expect("an error frame")
                .expect("open");
            if let Some(TerminalNotice::Error { error }) = notice(&frame) {
                assert_eq!(error.code, code, "{input}");
                break;
            }
        }
    }
    // Huge sizes are clamped, not refused.
    tx3.send(Ok(Message::Text(
        r#"{"type":"resize","cols":65535,"rows":65535}"#.into(),
    )))
    .await
    .expect("send");
    tx3.send(Ok(Message::Binary(b"stty size\n".to_vec().into())))
        .await
        .expect("send");
    read_until(&mut rx3, "500 1000").await;

    // The session outlives its sockets, and ends with the shell.
    drop((tx, rx, tx3, rx3));
    let (mut tx4, mut rx4) = connect(&session, AttachMode::Control, None);
    tx4.send(Ok(Message::Binary(b"exit\n".to_vec().into())))
        .await
        .expect("send");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, rx4.next())
            .await
            .expect("the end notice");
        match frame {
            Some(f) if notice(&f) == Some(TerminalNotice::Ended) => break,
            Some(_) => continue,
            None => panic!("closed without the end notice"),
        }
    }
    assert!(session.has_ended());
    drop(shell);
}

#[tokio::test]
async fn a_slow_reader_loses_nothing_of_a_fast_writer() {
    const SIZE: usize = 4 << 20;
    let (shell, master) = shell_on_pty();
    let session = TerminalSession::start(master).expect("session starts");
    let (mut tx, mut rx) = connect(&session, AttachMode::Control, None);
    tx.send(Ok(Message::Binary(
        format!(
            "stty -echo; head -c {SIZE} /dev/zero | tr '\\0' '\\121'; echo; echo fin$((40+2))\n"
        )
        .into_bytes()
        .into(),
    )))
    .await
    .expect("send");
    // Octal 121 is Q, so the echoed command line itself holds no Q.
    // 16 times the scrollback, read by a client that dawdles on every frame.
    let mut xs = 0usize;
    let mut tail = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&tail).contains("fin42") {
        let frame = tokio::time::timeout_at(deadline, rx.next())
            .await
            .expect("output keeps coming")
            .expect("socket open");
        if let Message::Binary(b) = frame {
            xs += b.iter().filter(|&&c| c == b'Q').count();
            tail.extend_from_slice(&b);
            let keep = tail.len().saturating_sub(64);
            tail.drain(..keep);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert_eq!(xs, SIZE, "every byte arrived exactly once");
    drop(shell);
}
