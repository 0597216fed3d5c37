//! Several terminals as tabs, each with a read-only "view" toggle. Live tabs are kept
//! in sessionStorage, so a reload re-attaches them and replays their scrollback.

use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::source::{TerminalTab, TerminalTarget};
use crate::terminal::TerminalPane;

const SAVED_TABS_KEY: &str = "isolab.terminals";

/// A live tab as saved across reloads (the token comes from the session).
#[derive(Serialize, Deserialize)]
struct SavedTab {
    key: String,
    title: String,
    path: String,
}

/// The live tabs saved by this browser tab.
pub fn saved_tabs(token: Option<String>) -> Vec<TerminalTab> {
    let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    let text = storage.and_then(|s| s.get_item(SAVED_TABS_KEY).ok().flatten());
    let saved: Vec<SavedTab> = text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    saved
        .into_iter()
        .map(|s| TerminalTab {
            key: s.key,
            title: s.title,
            target: TerminalTarget::Live {
                path: s.path,
                token: token.clone(),
            },
        })
        .collect()
}

/// Saves the live tabs of `tabs`.
pub fn save_tabs(tabs: &[TerminalTab]) {
    let saved: Vec<SavedTab> = tabs
        .iter()
        .filter_map(|t| match &t.target {
            TerminalTarget::Live { path, .. } => Some(SavedTab {
                key: t.key.clone(),
                title: t.title.clone(),
                path: path.clone(),
            }),
            TerminalTarget::Simulated(_) => None,
        })
        .collect();
    if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        if let Ok(text) = serde_json::to_string(&saved) {
            let _ = s.set_item(SAVED_TABS_KEY, &text);
        }
    }
}

/// Props of [`Terminals`].
#[derive(Properties, PartialEq)]
pub struct TerminalsProps {
    pub tabs: Vec<TerminalTab>,
    pub active: Option<String>,
    pub on_select: Callback<String>,
    pub on_close: Callback<String>,
    /// Whether tabs offer a close button (a lesson's terminals stay).
    #[prop_or(true)]
    pub closable: bool,
}

/// The terminal tabs; every terminal stays mounted so switching keeps its screen.
#[function_component(Terminals)]
pub fn terminals(props: &TerminalsProps) -> Html {
    let read_only = use_state(std::collections::BTreeSet::<String>::new);
    if props.tabs.is_empty() {
        return html! {
            <section class="card"><h2>{"Terminals"}</h2>
                <p class="muted">{"No terminal open: use Terminal or Exec on a running container."}</p>
            </section>
        };
    }
    let active = props
        .active
        .clone()
        .filter(|k| props.tabs.iter().any(|t| &t.key == k))
        .unwrap_or_else(|| props.tabs[0].key.clone());
    let heads = props.tabs.iter().map(|t| {
        let key = t.key.clone();
        let select = props.on_select.reform(move |_| key.clone());
        let key = t.key.clone();
        let close = props.on_close.reform(move |_| key.clone());
        let current = t.key == active;
        html! {
            <span class={classes!("term-tab", current.then_some("current"))} key={t.key.clone()}>
                <button class="term-title" role="tab" aria-selected={current.to_string()} onclick={select}>{ &t.title }</button>
                if props.closable {
                    <button class="term-close" aria-label={format!("close {}", t.title)} onclick={close}>{"✕"}</button>
                }
            </span>
        }
    });
    let panes = props.tabs.iter().map(|t| {
        let is_live = matches!(t.target, TerminalTarget::Live { .. });
        let ro = read_only.contains(&t.key);
        let toggle = {
            let read_only = read_only.clone();
            let key = t.key.clone();
            Callback::from(move |_| {
                let mut set = (*read_only).clone();
                if !set.remove(&key) {
                    set.insert(key.clone());
                }
                read_only.set(set);
            })
        };
        html! {
            <div key={t.key.clone()} class="term-body" hidden={t.key != active} data-key={t.key.clone()}>
                if is_live {
                    <label class="view-toggle">
                        <input type="checkbox" checked={ro} onchange={toggle} />
                        {" view only (read-only)"}
                    </label>
                }
                <TerminalPane tab={t.clone()} read_only={ro} />
            </div>
        }
    });
    html! {
        <section class="card terminals">
            <div class="term-tabs" role="tablist">{ for heads }</div>
            { for panes }
        </section>
    }
}
