//! `GET /api/v1/events`: a snapshot, then numbered events, over a WebSocket.
//!
//! The socket loop is generic over any Sink/Stream of messages, so tests drive it
//! over in-memory channels as well as over a real connection. Every snapshot and
//! event passes the caller's [`EventView`] (a student sees only their containers):
//! staff get the hub's shared frames as they are, a student's are cut down per frame.

use axum::extract::ws::Message;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use isolab_shared::{ApiErrorBody, ClientMessage, ErrorCode, StreamMessage};
use serde::Deserialize;

use super::classroom_access::{revoked_close, socket_lease, Caller};
use super::error::HttpError;
use super::websocket::{self, Upgrade};
use super::{origin, AppState};
use crate::classroom::access::EventView;
use crate::live::feed::{self, Feed};
use crate::live::hub::EventHub;

/// The query of `/events`.
#[derive(Deserialize)]
pub struct EventsQuery {
    /// Resume after this sequence number.
    pub since: Option<u64>,
    /// Stats every this many milliseconds (default 1000, at least 250).
    pub stats_ms: Option<u64>,
}

/// Upgrades to the event stream, after the origin check; compressed when the client
/// offers permessage-deflate.
pub async fn upgrade(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Result<Response, HttpError> {
    origin::check(&headers, state.allowed_origins())?;
    let hub = state.hub().clone();
    let metrics = state.metrics().clone();
    let lease = socket_lease(&state, &caller);
    let view = EventView::new(caller);
    websocket::upgrade(ws, &headers, move |socket| async move {
        metrics.clients.inc();
        let (mut write, mut read) = socket.split();
        let stats_period = feed::stats_period(query.stats_ms);
        let feed = Feed::new(hub, query.since, stats_period);
        tokio::select! {
            () = events_socket(&mut write, &mut read, feed, view) => {}
            () = lease => {
                let _ = write.send(revoked_close()).await;
            }
        }
        metrics.clients.dec();
    })
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

/// A frame the hub made (shared by every client: no copy is made here).
fn shared_text(frame: bytes::Bytes) -> Option<Message> {
    axum::extract::ws::Utf8Bytes::try_from(frame)
        .ok()
        .map(Message::Text)
}

/// A hub frame as `view`'s caller may see it: the shared frame itself when the view
/// hides nothing, else the message cut down and written anew; `None` when none of it
/// is the caller's.
fn frame_for(frame: bytes::Bytes, view: &mut EventView) -> Option<Message> {
    if view.sees_everything() {
        return shared_text(frame);
    }
    let message = match serde_json::from_slice::<StreamMessage>(&frame).ok()? {
        StreamMessage::Snapshot { snapshot } => StreamMessage::Snapshot {
            snapshot: view.snapshot(snapshot),
        },
        StreamMessage::Event { event } => StreamMessage::Event {
            event: view.event(event)?,
        },
        other => other,
    };
    text(&message)
}

/// Answers one frame from the client: `None` to ignore it, or a frame to send back.
fn answer(frame: Message, hub: &EventHub, view: &mut EventView) -> Option<Message> {
    match frame {
        Message::Text(t) => match serde_json::from_str::<serde_json::Value>(&t) {
            Err(e) => error_frame(ErrorCode::BadJson, format!("not JSON: {e}")),
            Ok(value) => match serde_json::from_value::<ClientMessage>(value.clone()) {
                Ok(ClientMessage::Ping) => None,
                Ok(ClientMessage::Resync) => frame_for(hub.snapshot_frame(), view),
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

/// Runs one subscriber until either side closes. Frames go out one at a time: a
/// client that stops reading holds up only itself, and [`Feed`] starts it over with a
/// fresh snapshot once it has fallen too far behind.
pub async fn events_socket<W, R>(mut write: W, mut read: R, mut feed: Feed, mut view: EventView)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        tokio::select! {
            frame = feed.next() => {
                let Some(frame) = frame else { return };
                let Some(message) = frame_for(frame, &mut view) else { continue };
                if write.send(message).await.is_err() {
                    return;
                }
            }
            frame = read.next() => {
                let frame = match frame {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(frame)) => frame,
                };
                if let Some(reply) = answer(frame, feed.hub(), &mut view) {
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
    use std::sync::Arc;

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
        let feed = Feed::new(hub.clone(), None, feed::stats_period(None));
        let view = EventView::new(Principal::Admin);
        let task = tokio::spawn(events_socket(server_write, server_read, feed, view));

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
        let feed = Feed::new(hub.clone(), Some(2), feed::stats_period(None));
        let view = EventView::new(Principal::Admin);
        tokio::spawn(events_socket(server_write, server_read, feed, view));
        for want in [3, 4] {
            match parse(client_read.next().await.expect("frame")) {
                StreamMessage::Event { event } => assert_eq!(event.seq, want),
                other => panic!("expected event {want}, got {other:?}"),
            }
        }
    }
}
