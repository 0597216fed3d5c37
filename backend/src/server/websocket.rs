//! WebSocket upgrades for the events and terminal sockets, with permessage-deflate
//! (RFC 7692) when the client offers it (browsers do) and plain frames when it does
//! not. The protocol and the compression are yawc's; this module only turns its frames
//! into axum's [`Message`]s, so the socket loops (and their in-memory tests) stay
//! written against one message type.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, Stream};
use isolab_shared::ErrorCode;
use yawc::close::CloseCode;
use yawc::frame::{Frame, OpCode};
use yawc::{CompressionLevel, HttpStream, IncomingUpgrade, Options};

use super::error::HttpError;
use super::MAX_FRAME_BYTES;

/// Messages shorter than this go out uncompressed: a few dozen bytes of JSON do not
/// shrink, and a socket that only ever sends such messages never builds a compressor.
const COMPRESSION_THRESHOLD: usize = 128;

/// The upgrade request, or why it is not one (the handler answers that in JSON).
pub type Upgrade = Result<IncomingUpgrade, StatusCode>;

/// The options every socket is served with: messages and frames up to
/// [`MAX_FRAME_BYTES`], and deflate at its fastest level when negotiated. The
/// compression context is kept between messages (context takeover): the event stream
/// repeats the same keys and names message after message, which is what makes it shrink.
fn options() -> Options {
    Options::default()
        .with_max_payload_read(MAX_FRAME_BYTES + 1)
        .with_max_read_buffer(MAX_FRAME_BYTES + 1)
        .with_utf8()
        .with_compression_level(CompressionLevel::fast())
        .with_compression_threshold(COMPRESSION_THRESHOLD)
}

/// Answers the upgrade and runs `serve` on the socket once the client has it.
/// A request that is not a WebSocket upgrade gets a 400 in the API's JSON error.
pub fn upgrade<F, Fut>(ws: Upgrade, headers: &HeaderMap, serve: F) -> Result<Response, HttpError>
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let asks_websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let not_websocket = |why: &str| {
        HttpError::new(
            ErrorCode::BadRequest,
            format!("this is a WebSocket endpoint: {why}"),
        )
    };
    if !asks_websocket {
        return Err(not_websocket(
            "the request does not ask to upgrade to websocket",
        ));
    }
    let ws = ws.map_err(|_| {
        not_websocket("the handshake needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13")
    })?;
    let (response, upgraded) = ws
        .upgrade(options())
        .map_err(|e| not_websocket(&e.to_string()))?;
    tokio::spawn(async move {
        // The client may go before the handshake completes: then there is nothing to serve.
        if let Ok(socket) = upgraded.await {
            serve(Socket { inner: socket }).await;
        }
    });
    Ok(response.into_response())
}

/// One upgraded connection, as a sink and stream of axum [`Message`]s. Pings are
/// answered and a client's close is acknowledged by yawc itself; they still come
/// through the stream.
pub struct Socket {
    inner: yawc::WebSocket<HttpStream>,
}

/// A received frame as a message; `None` for a text frame that is not UTF-8 (which
/// yawc already refuses) or a stray continuation (yawc reassembles fragments).
fn to_message(frame: Frame) -> Option<Message> {
    let (opcode, _fin, payload) = frame.into_parts();
    Some(match opcode {
        OpCode::Text => Message::Text(Utf8Bytes::try_from(payload).ok()?),
        OpCode::Binary => Message::Binary(payload),
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        OpCode::Close => {
            let close = (payload.len() >= 2).then(|| {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = std::str::from_utf8(&payload[2..]).unwrap_or_default();
                CloseFrame {
                    code,
                    reason: reason.into(),
                }
            });
            Message::Close(close)
        }
        OpCode::Continuation => return None,
    })
}

/// A message as the frame that carries it (shared text is not copied).
fn to_frame(message: Message) -> Frame {
    match message {
        Message::Text(text) => Frame::text(bytes::Bytes::from(text)),
        Message::Binary(bytes) => Frame::binary(bytes),
        Message::Ping(bytes) => Frame::ping(bytes),
        Message::Pong(bytes) => Frame::pong(bytes),
        Message::Close(Some(close)) => {
            Frame::close(CloseCode::from(close.code), close.reason.as_bytes())
        }
        Message::Close(None) => Frame::close(CloseCode::Normal, b""),
    }
}

impl Stream for Socket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            // yawc ends the stream on a protocol or I/O error, as the socket loops do.
            let Some(frame) = std::task::ready!(Pin::new(&mut self.inner).poll_next(cx)) else {
                return Poll::Ready(None);
            };
            if let Some(message) = to_message(frame) {
                return Poll::Ready(Some(Ok(message)));
            }
        }
    }
}

impl Sink<Message> for Socket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner)
            .start_send(to_frame(message))
            .map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_close(cx)
            .map_err(axum::Error::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_frames_convert_both_ways() {
        let cases = [
            Message::Text("{\"type\":\"ping\"}".into()),
            Message::Binary(bytes::Bytes::from_static(b"\x1b[1m")),
            Message::Ping(bytes::Bytes::from_static(b"p")),
            Message::Pong(bytes::Bytes::new()),
            Message::Close(Some(CloseFrame {
                code: 4001,
                reason: "revoked".into(),
            })),
        ];
        for message in cases {
            let back = to_message(to_frame(message.clone()));
            assert_eq!(back, Some(message));
        }
        // A bare close goes out as "normal closure".
        assert!(matches!(
            to_message(to_frame(Message::Close(None))),
            Some(Message::Close(Some(CloseFrame { code: 1000, .. })))
        ));
        assert_eq!(to_message(Frame::continuation("x")), None);
    }
}
