//! The simulator's Web Worker: JSON [`SimCall`]s in, JSON [`SimReply`]s out.
//!
//! - [`machine`]: which machine runs (free or a lesson's) and how it answers a call.
//! - [`lesson`]: a lesson's machine: setup, terminals, checks, prediction answers.
//!
//! What the free simulator does is [`isolab_shared::sim::SimSession`]'s business (tested
//! natively); this file only carries messages. Keeping the model kernel (and the lesson
//! parser) here keeps them out of the page's own wasm, which then loads faster.

mod lesson;
mod machine;

use isolab_shared::sim_protocol::{SimCall, SimOutcome, SimReply, SimView};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use machine::Machine;

fn main() {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        return;
    };
    let machine = match Machine::new() {
        Ok(m) => m,
        Err(e) => {
            post(&scope, &failure(0, e));
            return;
        }
    };
    let machine = std::cell::RefCell::new(machine);
    let reply_to = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let text = e.data().as_string().unwrap_or_default();
        let reply = match serde_json::from_str::<SimCall>(&text) {
            Ok(call) => machine.borrow_mut().answer(call),
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

#[cfg(test)]
mod tests;
