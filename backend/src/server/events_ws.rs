//! `GET /api/v1/events`: a snapshot, then numbered events, over a WebSocket.
//!
//! The socket loop is generic over any Sink/Stream of messages, so tests drive it
//! over in-memory channels as well as over a real connection. Every snapshot and
//! event passes the caller's [`EventView`] (a student sees only their containers).

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use isolab_shared::{ApiErrorBody, ClientMessage, ErrorCode, StreamMessage};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::classroom_access::{revoked_close, socket_lease, Caller};
use super::error::HttpError;
use super::{origin, AppState, MAX_FRAME_BYTES};
use crate::classroom::access::EventView;
use crate::live::hub::{EventHub, StartPoint};

/// The query of `/events`.
#[derive(Deserialize)]
pub struct EventsQuery {
    /// Resume after this sequence number.
    pub since: Option<u64>,
}

/// Upgrades to the event stream, after the origin check.
pub async fn upgrade(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, HttpError> {
    origin::check(&headers, state.allowed_origins())?;
    let hub = state.hub().clone();
    let metrics = state.metrics().clone();
    let lease = socket_lease(&state, &caller);
    let view = EventView::new(caller);
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket: WebSocket| async move {
            metrics.clients.inc();
            let (mut write, mut read) = socket.split();
            tokio::select! {
                () = events_socket(&mut write, &mut read, hub, query.since, view) => {}
                () = lease => {
                    let _ = write.send(revoked_close()).await;
                }
            }
            metrics.clients.dec();
        }))
}

fn text(message: &StreamMessage) -> Option<Message> {
    serde_json::to_string(message)
        .ok()
        .map(|t| Message::Text(t.into()))
}

fn error_frame(code: ErrorCode, message: impl Into<String>) -> Option<Message> {
    text(&StreamMessage::Error {
        error: ApiErrorBody {
            code,
            message: message.into(),
        },
    })
}

/// Answers one frame from the client: `None` to ignore it, or a frame to send back.
fn answer(frame: Message, hub: &EventHub, view: &mut EventView) -> Option<Message> {
    match frame {
        Message::Text(t) => match serde_json::from_str::<serde_json::Value>(&t) {
            Err(e) => error_frame(ErrorCode::BadJson, format!("not JSON: {e}")),
            Ok(value) => match serde_json::from_value::<ClientMessage>(value.clone()) {
                Ok(ClientMessage::Ping) => None,
                Ok(ClientMessage::Resync) => text(&StreamMessage::Snapshot {
                    snapshot: view.snapshot(hub.snapshot()),
                }),
                Err(_) => error_frame(
                    ErrorCode::UnknownMessage,
                    format!(
                        "unknown message type {}: the events socket takes \"resync\" and \"ping\"",
                        value.get("type").unwrap_or(&serde_json::Value::Null)
                    ),
                ),
            },
        },
        Message::Binary(_) => error_frame(
            ErrorCode::UnknownMessage,
            "binary frames are not used on the events socket",
        ),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

/// Runs one subscriber, seeing what `view` lets through, until either side closes.
pub async fn events_socket<W, R>(
    mut write: W,
    mut read: R,
    hub: Arc<EventHub>,
    since: Option<u64>,
    mut view: EventView,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut subscription = hub.subscribe(since);
    let first: Vec<StreamMessage> =
        match std::mem::replace(&mut subscription.start, StartPoint::Replay(Vec::new())) {
            StartPoint::Snapshot(snapshot) => vec![StreamMessage::Snapshot {
                snapshot: view.snapshot(snapshot),
            }],
            StartPoint::Replay(events) => events
                .into_iter()
                .filter_map(|event| view.event(event))
                .map(|event| StreamMessage::Event { event })
                .collect(),
        };
    for m in &first {
        let Some(frame) = text(m) else { continue };
        if write.send(frame).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            received = subscription.live.recv() => {
                let message = match received {
                    Ok(event) => match view.event(event) {
                        Some(event) => StreamMessage::Event { event },
                        None => continue,
                    },
                    // Too slow to keep up: start it over from a fresh snapshot.
                    Err(RecvError::Lagged(_)) => {
                        subscription = hub.subscribe(None);
                        match std::mem::replace(&mut subscription.start, StartPoint::Replay(Vec::new())) {
                            StartPoint::Snapshot(snapshot) => StreamMessage::Snapshot {
                                snapshot: view.snapshot(snapshot),
                            },
                            StartPoint::Replay(_) => continue,
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                let Some(frame) = text(&message) else { continue };
                if write.send(frame).await.is_err() {
                    return;
                }
            }
            frame = read.next() => {
                let frame = match frame {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(frame)) => frame,
                };
                if let Some(reply) = answer(frame, &hub, &mut view) {
                    if write.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classroom::Principal;
    use futures::channel::mpsc;
    use isolab_shared::EventKind;

    fn parse(frame: Message) -> StreamMessage {
        match frame {
            Message::Text(t) => serde_json::from_str(&t).expect("a StreamMessage"),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn snapshot_then_events_then_errors_on_bad_input() {
        let hub = Arc::new(EventHub::new(16));
        hub.publish(EventKind::ContainerRemoved {
            id: "before".into(),
        });
        let (server_write, mut client_read) = mpsc::unbounded::<Message>();
        let (mut client_write, server_read) = mpsc::unbounded::<Result<Message, axum::Error>>();
        let task = tokio::spawn(events_socket(
            server_write,
            server_read,
            hub.clone(),
            None,
            EventView::new(Principal::Admin),
        ));

        match parse(client_read.next().await.expect("first frame")) {
            StreamMessage::Snapshot { snapshot } => assert_eq!(snapshot.seq, 1),
            other => panic!("expected a snapshot, got {other:?}"),
        }
        hub.publish(EventKind::ContainerRemoved { id: "after".into() });
        match parse(client_read.next().await.expect("event frame")) {
            StreamMessage::Event { event } => assert_eq!(event.seq, 2),
            other => panic!("expected an event, got {other:?}"),
        }
        for (input, code) in [
            ("{not json", ErrorCode::BadJson),
            (r#"{"type":"dance"}"#, ErrorCode::UnknownMessage),
            (r#"{"type":7}"#, ErrorCode::UnknownMessage),
        ] {
            client_write
                .send(Ok(Message::Text(input.into())))
                .await
                .expect("send");
            match parse(client_read.next().await.expect("error frame")) {
                StreamMessage::Error { error } => assert_eq!(error.code, code, "{input}"),
                other => panic!("expected an error for {input}, got {other:?}"),
            }
        }
        // Still open: a resync answers with a snapshot.
        client_write
            .send(Ok(Message::Text(r#"{"type":"resync"}"#.into())))
            .await
            .expect("send");
        assert!(matches!(
            parse(client_read.next().await.expect("snapshot frame")),
            StreamMessage::Snapshot { .. }
        ));
        drop(client_write);
        task.await.expect("socket loop ends when the client goes");
    }

    #[tokio::test]
    async fn resuming_client_gets_only_missed_events() {
        let hub = Arc::new(EventHub::new(16));
        for i in 0..4 {
            hub.publish(EventKind::ContainerRemoved { id: i.to_string() });
        }
        let (server_write, mut client_read) = mpsc::unbounded::<Message>();
        let (_client_write, server_read) = mpsc::unbounded::<Result<Message, axum::Error>>();
        tokio::spawn(events_socket(
            server_write,
            server_read,
            hub.clone(),
            Some(2),
            EventView::new(Principal::Admin),
        ));
        for want in [3, 4] {
            match parse(client_read.next().await.expect("frame")) {
                StreamMessage::Event { event } => assert_eq!(event.seq, want),
                other => panic!("expected event {want}, got {other:?}"),
            }
        }
    }
}
