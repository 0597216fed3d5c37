//! Terminal WebSockets: binary frames carry the terminal's bytes both ways, text
//! frames carry JSON control messages. `?mode=view` attaches read-only (the teacher
//! broadcast); `?offset=N` resumes after the N bytes a client already has.

use std::sync::Arc;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use isolab_shared::{ApiErrorBody, ErrorCode, TerminalControl, TerminalNotice};
use serde::Deserialize;

use super::metrics::ServerMetrics;
use crate::live::terminal::TerminalSession;

/// The largest binary frame sent; keeps frames well under the client's cap.
const SEND_CHUNK: usize = 64 * 1024;

/// How a client is attached.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    /// Input and resize are taken.
    #[default]
    Control,
    /// Output only; input is dropped.
    View,
}

/// The query of a terminal WebSocket.
#[derive(Deserialize, Default)]
pub struct TerminalQuery {
    #[serde(default)]
    pub mode: AttachMode,
    /// Bytes of output the client already has.
    pub offset: Option<u64>,
}

fn notice(n: &TerminalNotice) -> Option<Message> {
    serde_json::to_string(n)
        .ok()
        .map(|t| Message::Text(t.into()))
}

fn error_notice(code: ErrorCode, message: impl Into<String>) -> Option<Message> {
    notice(&TerminalNotice::Error {
        error: ApiErrorBody {
            code,
            message: message.into(),
        },
    })
}

/// Sends `bytes` as binary frames of at most [`SEND_CHUNK`].
async fn send_bytes<W: Sink<Message> + Unpin>(
    write: &mut W,
    bytes: &[u8],
    metrics: &ServerMetrics,
) -> bool {
    for chunk in bytes.chunks(SEND_CHUNK) {
        if write
            .send(Message::Binary(chunk.to_vec().into()))
            .await
            .is_err()
        {
            return false;
        }
        metrics.frames_out.inc();
    }
    true
}

/// Handles one client frame; returns a frame to send back, if any.
async fn take_frame(
    frame: Message,
    session: &TerminalSession,
    mode: AttachMode,
) -> Option<Message> {
    match frame {
        Message::Binary(bytes) => {
            if mode == AttachMode::View {
                return None;
            }
            match session.write_input(&bytes).await {
                Ok(()) => None,
                Err(e) => error_notice(
                    ErrorCode::Internal,
                    format!("cannot write to the terminal: {e}"),
                ),
            }
        }
        Message::Text(text) => {
            let value = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => v,
                Err(e) => return error_notice(ErrorCode::BadJson, format!("not JSON: {e}")),
            };
            match serde_json::from_value::<TerminalControl>(value.clone()) {
                Ok(TerminalControl::Resize { cols, rows }) => {
                    if mode == AttachMode::View {
                        return None;
                    }
                    match session.resize(cols, rows) {
                        Ok(()) => None,
                        Err(e) => error_notice(ErrorCode::Internal, format!("cannot resize: {e}")),
                    }
                }
                Err(e) if value.get("type").and_then(|t| t.as_str()) == Some("resize") => {
                    error_notice(ErrorCode::BadRequest, format!("bad resize message: {e}"))
                }
                Err(_) => error_notice(
                    ErrorCode::UnknownMessage,
                    format!(
                        "unknown message type {}: terminals take binary input and {{\"type\":\"resize\",\"cols\":N,\"rows\":N}}",
                        value.get("type").unwrap_or(&serde_json::Value::Null)
                    ),
                ),
            }
        }
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

/// Runs one attached client until it leaves or the terminal ends.
pub async fn terminal_socket<W, R>(
    mut write: W,
    mut read: R,
    session: Arc<TerminalSession>,
    query: TerminalQuery,
    metrics: Arc<ServerMetrics>,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut reader = session.attach(query.offset);
    let hello = TerminalNotice::Attached {
        offset: reader.offset(),
        read_only: query.mode == AttachMode::View,
    };
    let Some(hello) = notice(&hello) else { return };
    if write.send(hello).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            output = reader.next() => match output {
                // Everything since the last send, coalesced into few large frames.
                Some((_, bytes)) => {
                    if !send_bytes(&mut write, &bytes, &metrics).await {
                        return;
                    }
                }
                None => break,
            },
            frame = read.next() => {
                let frame = match frame {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(frame)) => frame,
                };
                metrics.frames_in.inc();
                if let Some(reply) = take_frame(frame, &session, query.mode).await {
                    metrics.errors.inc();
                    if write.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    if let Some(bye) = notice(&TerminalNotice::Ended) {
        let _ = write.send(bye).await;
    }
    let _ = write.send(Message::Close(None)).await;
}
