//! [`Recordings`]: the recordings of the index the caller may see (a container's own,
//! when one is named), newest first, and the player of the one chosen. Recordings
//! outlive their containers, so the list comes from the index, not the live state.

use yew::prelude::*;

use super::api::{self, RecordingEntry};
use super::view::Player;

/// Props of [`Recordings`].
#[derive(Properties, PartialEq)]
pub struct RecordingsProps {
    pub token: Option<String>,
    /// Only this container's recordings (an id or a name); the newest plays at once.
    #[prop_or_default]
    pub container: Option<String>,
}

fn started(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

fn length(r: &RecordingEntry) -> String {
    match r.ended_at_ms {
        Some(end) => {
            super::timeline::format_time(end.saturating_sub(r.started_at_ms) as f64 / 1000.0)
        }
        None => "recording…".to_string(),
    }
}

/// The list, and the player below it.
#[function_component(Recordings)]
pub fn recordings(props: &RecordingsProps) -> Html {
    let list = use_state(|| None::<Result<Vec<RecordingEntry>, String>>);
    let chosen = use_state(|| None::<String>);
    let refresh = use_state(|| 0u32);
    {
        let (list, chosen) = (list.clone(), chosen.clone());
        let (token, container) = (props.token.clone(), props.container.clone());
        use_effect_with(*refresh, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let answer = api::list(&token).await.map(|all| {
                    all.into_iter()
                        .filter(|r| container.as_deref().is_none_or(|c| r.is_of(c)))
                        .collect::<Vec<_>>()
                });
                if container.is_some() && chosen.is_none() {
                    if let Some(first) = answer.as_ref().ok().and_then(|l| l.first()) {
                        chosen.set(Some(first.id.clone()));
                    }
                }
                list.set(Some(answer));
            });
        });
    }
    let body = match &*list {
        None => html! { <p class="muted" role="status">{"Loading the recordings…"}</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        Some(Ok(rows)) if rows.is_empty() => html! {
            <p class="muted">{"No recordings yet: every terminal opened on this server is recorded."}</p>
        },
        Some(Ok(rows)) => {
            let rows = rows.iter().map(|r| {
                let current = chosen.as_deref() == Some(r.id.as_str());
                let onclick = {
                    let (chosen, id) = (chosen.clone(), r.id.clone());
                    Callback::from(move |_| chosen.set(Some(id.clone())))
                };
                html! {
                    <tr key={r.id.clone()} class={classes!("recording-row", current.then_some("current"))} data-id={r.id.clone()}>
                        <td><strong>{ r.title() }</strong><br/><code class="muted">{ &r.container }</code></td>
                        <td>{ r.owner.clone().unwrap_or_else(|| "teacher / admin".into()) }</td>
                        <td>{ started(r.started_at_ms) }</td>
                        <td>{ length(r) }</td>
                        <td>{ isolab_shared::limits::format_bytes(r.bytes) }{ if r.truncated { " (cut)" } else { "" } }</td>
                        <td><button class="act act-play" {onclick} aria-pressed={current.to_string()}
                                    aria-label={format!("play the recording of {} started {}", r.title(), started(r.started_at_ms))}>{"Play"}</button></td>
                    </tr>
                }
            });
            html! {
                <table class="recordings-table">
                    <thead><tr><th>{"terminal"}</th><th>{"owner"}</th><th>{"started"}</th><th>{"length"}</th><th>{"size"}</th><th></th></tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
            }
        }
    };
    let reload = {
        let refresh = refresh.clone();
        Callback::from(move |_| refresh.set(*refresh + 1))
    };
    html! {
        <section class="card recordings">
            <div class="card-head">
                <h2>{ match &props.container {
                    Some(c) => format!("Recordings of {c}"),
                    None => "Recordings".to_string(),
                } }</h2>
                <button class="act" onclick={reload}>{"Refresh"}</button>
            </div>
            { body }
            if let Some((key, id)) = (*chosen).clone().map(|id| (id.clone(), AttrValue::from(id))) {
                <Player {key} {id} token={props.token.clone()} />
            }
        </section>
    }
}
