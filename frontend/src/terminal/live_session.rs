//! A live terminal WebSocket: attach, write output exactly once, send keystrokes and
//! sizes, and reconnect with backoff from the byte offset already shown.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use isolab_shared::{TerminalControl, TerminalNotice};
use js_sys::Uint8Array;
use yew::Callback;

use super::replay::{AttachGap, ReplayCursor};
use super::xterm::XTerm;
use crate::source::live::{retry_delay_ms, websocket_url};

/// A running attachment; dropping it does not stop it, [`LiveSession::stop`] does.
pub struct LiveSession {
    sender: Rc<RefCell<Option<mpsc::UnboundedSender<Message>>>>,
    stop: RefCell<Option<oneshot::Sender<()>>>,
}

/// Where and how to attach.
pub struct Attach {
    /// The API path of the terminal WebSocket.
    pub path: String,
    pub token: Option<String>,
    /// View mode: output only.
    pub read_only: bool,
}

impl LiveSession {
    /// Attaches `term` and keeps it attached until [`LiveSession::stop`].
    /// `cursor` survives sessions so a re-attach gets only the missing bytes.
    pub fn start(
        term: XTerm,
        attach: Attach,
        cursor: Rc<RefCell<ReplayCursor>>,
        status: Callback<String>,
    ) -> LiveSession {
        let sender = Rc::new(RefCell::new(None));
        let (stop_tx, stop_rx) = oneshot::channel();
        wasm_bindgen_futures::spawn_local(run(
            term,
            attach,
            cursor,
            status,
            sender.clone(),
            stop_rx,
        ));
        LiveSession {
            sender,
            stop: RefCell::new(Some(stop_tx)),
        }
    }

    /// Sends keystrokes (ignored while not attached).
    pub fn send_input(&self, data: &str) {
        if let Some(tx) = self.sender.borrow().as_ref() {
            let _ = tx.unbounded_send(Message::Bytes(data.as_bytes().to_vec()));
        }
    }

    /// Tells the server the terminal's size.
    pub fn send_resize(&self, cols: u16, rows: u16) {
        if let Some(tx) = self.sender.borrow().as_ref() {
            let _ = tx.unbounded_send(resize_message(cols, rows));
        }
    }

    /// Detaches and stops reconnecting.
    pub fn stop(&self) {
        if let Some(tx) = self.stop.borrow_mut().take() {
            let _ = tx.send(());
        }
        *self.sender.borrow_mut() = None;
    }
}

fn resize_message(cols: u16, rows: u16) -> Message {
    let control = TerminalControl::Resize { cols, rows };
    Message::Text(serde_json::to_string(&control).unwrap_or_default())
}

async fn run(
    term: XTerm,
    attach: Attach,
    cursor: Rc<RefCell<ReplayCursor>>,
    status: Callback<String>,
    sender: Rc<RefCell<Option<mpsc::UnboundedSender<Message>>>>,
    mut stop: oneshot::Receiver<()>,
) {
    let attempt = Cell::new(0u32);
    loop {
        let written = cursor.borrow().written;
        let mut query = format!("?token={}", attach.token.clone().unwrap_or_default());
        if attach.read_only {
            query.push_str("&mode=view");
        }
        if written > 0 {
            query.push_str(&format!("&offset={written}"));
        }
        status.emit("connecting…".to_string());
        let mut ended = false;
        if let Ok(socket) = WebSocket::open(&websocket_url(&format!("{}{query}", attach.path))) {
            let (mut write, mut read) = socket.split();
            let (tx, mut rx) = mpsc::unbounded::<Message>();
            let _ = tx.unbounded_send(resize_message(term.cols(), term.rows()));
            *sender.borrow_mut() = Some(tx);
            wasm_bindgen_futures::spawn_local(async move {
                while let Some(m) = rx.next().await {
                    if write.send(m).await.is_err() {
                        break;
                    }
                }
            });
            loop {
                let message = match select(read.next(), &mut stop).await {
                    Either::Left((Some(m), _)) => m,
                    Either::Left((None, _)) => break,
                    Either::Right(_) => {
                        *sender.borrow_mut() = None;
                        return;
                    }
                };
                match message {
                    Ok(Message::Text(text)) => {
                        match serde_json::from_str::<TerminalNotice>(&text) {
                            Ok(TerminalNotice::Attached { offset, read_only }) => {
                                attempt.set(0);
                                if let AttachGap::Lost(n) = cursor.borrow_mut().attached(offset) {
                                    term.write_str(&format!(
                                    "\r\n\x1b[2m[{n} bytes of older output were no longer kept]\x1b[0m\r\n"
                                ));
                                }
                                let mode = if read_only { "view only" } else { "attached" };
                                status.emit(mode.to_string());
                            }
                            Ok(TerminalNotice::Ended) => ended = true,
                            Ok(TerminalNotice::Error { error }) => {
                                status.emit(format!("refused: {}", error.message));
                            }
                            Err(_) => {}
                        }
                    }
                    Ok(Message::Bytes(frame)) => {
                        let fresh = cursor.borrow_mut().accept(&frame).to_vec();
                        if !fresh.is_empty() {
                            term.write_bytes(&Uint8Array::from(fresh.as_slice()));
                        }
                    }
                    Err(_) => break,
                }
            }
            *sender.borrow_mut() = None;
        }
        if ended {
            term.write_str("\r\n\x1b[2m[the process ended]\x1b[0m\r\n");
            status.emit("ended".to_string());
            return;
        }
        attempt.set(attempt.get().saturating_add(1));
        let delay = retry_delay_ms(attempt.get());
        status.emit(format!(
            "disconnected; retrying in {:.1} s",
            delay as f64 / 1000.0
        ));
        let timer = gloo_timers::future::TimeoutFuture::new(delay);
        if let Either::Right(_) = select(timer, &mut stop).await {
            return;
        }
    }
}
