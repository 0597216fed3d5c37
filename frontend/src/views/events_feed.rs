//! The events feed: notifications (dismissable toasts) and the log.

use yew::prelude::*;

use crate::state::{Action, Severity, State};

/// Props of the feed components.
#[derive(Properties, PartialEq)]
pub struct FeedProps {
    pub state: UseReducerHandle<State>,
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// "12:04:31" (UTC) for a Unix time in milliseconds.
pub fn clock(at_ms: u64) -> String {
    let s = (at_ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// The notable events, newest first, until dismissed.
#[function_component(Notifications)]
pub fn notifications(props: &FeedProps) -> Html {
    let items = props.state.notifications(3).into_iter().map(|e| {
        let state = props.state.clone();
        let seq = e.seq;
        let dismiss = Callback::from(move |_| state.dispatch(Action::Dismiss(seq)));
        html! {
            <div key={seq.to_string()} class={classes!("toast", severity_class(e.severity))} role="status">
                <span>{ &e.text }</span>
                <button class="dismiss" onclick={dismiss} aria-label="dismiss">{"✕"}</button>
            </div>
        }
    });
    html! { <div class="toasts" aria-live="polite">{ for items }</div> }
}

/// The log of container events, newest first.
#[function_component(EventsLog)]
pub fn events_log(props: &FeedProps) -> Html {
    let entries = props.state.log.iter().rev().take(50).map(|e| {
        html! {
            <li key={e.seq.to_string()} class={severity_class(e.severity)}>
                <time>{ clock(e.at_ms) }</time>{" "}{ &e.text }
            </li>
        }
    });
    html! {
        <section class="card events">
            <h2>{"Events"}</h2>
            if props.state.log.is_empty() {
                <p class="muted">{"Nothing yet: container starts, exits, OOM kills and limit hits appear here."}</p>
            } else {
                <ol class="log">{ for entries }</ol>
            }
        </section>
    }
}
