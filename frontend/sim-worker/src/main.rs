//! The simulator's Web Worker: JSON [`SimCall`]s in, JSON [`SimReply`]s out.
//!
//! What each call does is [`SimSession`]'s business (in `isolab-shared`, tested
//! natively); this file only carries messages. Keeping the model kernel here keeps it
//! out of the page's own wasm, which then loads faster.

use isolab_shared::sim::SimSession;
use isolab_shared::sim_protocol::{SimCall, SimOutcome, SimReply, SimView};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        return;
    };
    let session = match SimSession::new() {
        Ok(s) => s,
        Err(e) => {
            post(&scope, &failure(0, e.to_string()));
            return;
        }
    };
    let session = std::cell::RefCell::new(session);
    let reply_to = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let text = e.data().as_string().unwrap_or_default();
        let reply = match serde_json::from_str::<SimCall>(&text) {
            Ok(call) => session.borrow_mut().answer(call),
            Err(err) => failure(
                0,
                format!("the simulator did not understand the page: {err}"),
            ),
        };
        post(&reply_to, &reply);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&scope, &SimReply::Ready);
}

/// An answer that reports `message` and carries no state.
fn failure(call: u32, message: String) -> SimReply {
    SimReply::Answer {
        call,
        outcome: SimOutcome::Failed(message),
        view: Box::new(SimView::default()),
    }
}

fn post(scope: &DedicatedWorkerGlobalScope, reply: &SimReply) {
    if let Ok(text) = serde_json::to_string(reply) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
