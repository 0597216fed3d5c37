//! [`TeacherView`]: the teacher's Classroom tab: the join link and code (rotate, close
//! or open joining), the end time (set, extend, remove; end the class), the
//! broadcast of one of the teacher's containers, the progress export, the roster and
//! the grid of students' terminals. The roster and class are fetched again whenever the
//! class changes (see [`use_class_changes`]).

use isolab_shared::{ClassInfo, ClassSettings, ContainerStatus, RosterEntry};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::countdown::Countdown;
use super::grid::{grid_entries, TerminalGrid};
use super::roster::Roster;
use super::{confirmed, local_now_ms, use_class_changes};
use crate::source::classroom::ClassroomApi;
use crate::state::State;

/// Props of [`TeacherView`].
#[derive(Properties, PartialEq)]
pub struct TeacherViewProps {
    pub api: ClassroomApi,
    /// The live state (every container, the students' too).
    pub state: UseReducerHandle<State>,
}

/// The class and roster as last fetched, with the server's clock skew.
#[derive(Clone, PartialEq, Default)]
struct Class {
    info: Option<ClassInfo>,
    students: Vec<RosterEntry>,
    skew_ms: f64,
    error: Option<String>,
}

/// Saves `bytes` as a file named `name` (the browser's download).
fn save_file(name: &str, bytes: &[u8]) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|_| "the browser could not hold the file".to_string())?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|_| "the browser could not save the file".to_string())?;
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        .ok_or("the browser could not save the file")?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// The teacher's view.
#[function_component(TeacherView)]
pub fn teacher_view(props: &TeacherViewProps) -> Html {
    let class = use_state_eq(Class::default);
    let refresh = use_state(|| 0u32);
    let changed = use_class_changes(&props.api);
    let said = use_state(String::new);
    let minutes = use_node_ref();
    let broadcast_pick = use_node_ref();
    {
        let class = class.clone();
        use_effect_with(
            (props.api.clone(), *refresh, changed),
            move |(api, _, _)| {
                let api = api.clone();
                let fetch = move || {
                    let (api, class) = (api.clone(), class.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let (info, roster) = (api.info().await, api.roster().await);
                        let error = info
                            .as_ref()
                            .err()
                            .or(roster.as_ref().err())
                            .map(|e| e.message());
                        let skew_ms = info
                            .as_ref()
                            .map_or(0.0, |i| i.now_ms as f64 - local_now_ms());
                        class.set(Class {
                            info: info.ok(),
                            students: roster.unwrap_or_default(),
                            skew_ms,
                            error,
                        });
                    });
                };
                fetch();
            },
        );
    }
    let on_result = {
        let said = said.clone();
        Callback::from(move |s: String| said.set(s))
    };
    let on_changed = {
        let refresh = refresh.clone();
        Callback::from(move |()| refresh.set(*refresh + 1))
    };
    // Runs one class action, then says how it went and fetches the class again.
    let run = {
        let (on_result, on_changed) = (on_result.clone(), on_changed.clone());
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>>>>| {
            let (on_result, on_changed) = (on_result.clone(), on_changed.clone());
            wasm_bindgen_futures::spawn_local(async move {
                on_result.emit(work.await.unwrap_or_else(|e| e));
                on_changed.emit(());
            });
        }
    };
    let api = props.api.clone();
    let info = class.info.clone();
    let joining = info.as_ref().is_some_and(|i| i.joining);
    let ends_at = info.as_ref().and_then(|i| i.ends_at_ms);
    let broadcasting = info.as_ref().and_then(|i| i.broadcast.clone());
    let server_now = local_now_ms() + class.skew_ms;

    let rotate = {
        let (api, run) = (api.clone(), run.clone());
        Callback::from(move |_| {
            let api = api.clone();
            run(Box::pin(async move {
                api.rotate_code()
                    .await
                    .map(|_| "A new join code: the old one no longer works.".to_string())
            }));
        })
    };
    let toggle_joining = {
        let (api, run) = (api.clone(), run.clone());
        Callback::from(move |_| {
            let api = api.clone();
            run(Box::pin(async move {
                api.update(ClassSettings {
                    joining: Some(!joining),
                    ends_at_ms: None,
                })
                .await
                .map(|_| {
                    if joining {
                        "Joining is closed."
                    } else {
                        "Joining is open."
                    }
                    .to_string()
                })
            }));
        })
    };
    let set_end = {
        let (api, run) = (api.clone(), run.clone());
        move |end_ms: Option<u64>| {
            let (api, run) = (api.clone(), run.clone());
            move || {
                let api = api.clone();
                run(Box::pin(async move {
                    api.update(ClassSettings {
                        joining: None,
                        ends_at_ms: Some(end_ms.unwrap_or(0)),
                    })
                    .await
                    .map(|_| match end_ms {
                        Some(_) => "The end time is set.".to_string(),
                        None => "The class has no end time now.".to_string(),
                    })
                }));
            }
        }
    };
    let end_in = {
        let (minutes, on_result) = (minutes.clone(), on_result.clone());
        let set_end = set_end.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = minutes
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            match typed.trim().parse::<f64>() {
                Ok(m) if m > 0.0 && m <= 24.0 * 60.0 => {
                    set_end(Some((server_now + m * 60_000.0) as u64))()
                }
                _ => on_result.emit("Type the minutes from now, 1 to 1440.".to_string()),
            }
        })
    };
    let extend = {
        let set_end = set_end.clone();
        Callback::from(move |_| {
            let from = ends_at.map_or(server_now, |e| (e as f64).max(server_now));
            set_end(Some((from + 10.0 * 60_000.0) as u64))();
        })
    };
    let no_end = {
        let set_end = set_end.clone();
        Callback::from(move |_| set_end(None)())
    };
    let end_class = {
        let (api, run) = (api.clone(), run.clone());
        Callback::from(move |_| {
            if !confirmed(
                "End the class now? Every student's container is removed (the roster stays).",
            ) {
                return;
            }
            let api = api.clone();
            run(Box::pin(async move {
                api.end_class().await.map(|_| {
                    "The class has ended: the students' containers are removed.".to_string()
                })
            }));
        })
    };
    let download = {
        let (api, on_result) = (api.clone(), on_result.clone());
        Callback::from(move |_| {
            let (api, on_result) = (api.clone(), on_result.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let saved = match api.progress_csv().await {
                    Ok(bytes) => save_file("progress.csv", &bytes)
                        .map(|_| "progress.csv is saved.".to_string()),
                    Err(e) => Err(e),
                };
                on_result.emit(saved.unwrap_or_else(|e| e));
            });
        })
    };
    let own: Vec<(String, String)> = props
        .state
        .snapshot
        .containers
        .iter()
        .filter(|c| c.owner.is_none() && c.status == ContainerStatus::Running)
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let start_broadcast = {
        let (api, run, pick) = (api.clone(), run.clone(), broadcast_pick.clone());
        Callback::from(move |_| {
            let Some(id) = pick
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .filter(|v| !v.is_empty())
            else {
                return;
            };
            let api = api.clone();
            run(Box::pin(async move {
                api.broadcast(Some(&id))
                    .await
                    .map(|_| "Broadcasting to every student.".to_string())
            }));
        })
    };
    let stop_broadcast = {
        let (api, run) = (api.clone(), run.clone());
        Callback::from(move |_| {
            let api = api.clone();
            run(Box::pin(async move {
                api.broadcast(None)
                    .await
                    .map(|_| "The broadcast has stopped.".to_string())
            }));
        })
    };
    let students = class.students.clone();
    let entries = grid_entries(&props.state.snapshot.containers, |id| {
        students.iter().find(|s| s.id == id).map(|s| s.name.clone())
    });
    let join_url = info.as_ref().and_then(|i| i.join_code.clone()).map(|code| {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        format!("{origin}/join/{code}")
    });
    let broadcast_name = broadcasting.as_ref().map(|id| {
        own.iter()
            .find(|(c, _)| c == id)
            .map_or(id.clone(), |(_, n)| n.clone())
    });
    html! {
        <div class="classroom teacher">
            <p class="class-said" role="status" aria-live="polite">{ (*said).clone() }</p>
            if let Some(e) = &class.error { <p class="error" role="alert">{ e }</p> }
            <section class="card class-controls">
                <h2>{"Class"}</h2>
                <dl class="facts inline">
                    <dt>{"Join link"}</dt><dd><code class="join-url">{ join_url.unwrap_or_default() }</code></dd>
                    <dt>{"Joining"}</dt><dd>{ if joining { "open" } else { "closed" } }</dd>
                    <dt>{"Ends"}</dt><dd>
                        if let Some(end) = ends_at { <Countdown ends_at_ms={end} skew_ms={class.skew_ms} /> } else { {"no end time"} }
                    </dd>
                </dl>
                <div class="actions">
                    <button onclick={rotate}>{"New join code"}</button>
                    <button onclick={toggle_joining}>{ if joining { "Close joining" } else { "Open joining" } }</button>
                    <button onclick={download}>{"Download progress (CSV)"}</button>
                    <button class="danger" onclick={end_class}>{"End the class…"}</button>
                </div>
                <form class="actions" onsubmit={end_in}>
                    <label for="class-end-minutes">{"End in (minutes)"}</label>
                    <input id="class-end-minutes" ref={minutes} type="number" min="1" max="1440" value="45" />
                    <button type="submit">{"Set end time"}</button>
                    <button type="button" onclick={extend}>{"+10 min"}</button>
                    if ends_at.is_some() { <button type="button" onclick={no_end}>{"No end time"}</button> }
                </form>
                <div class="actions broadcast-controls">
                    if let Some(name) = broadcast_name {
                        <span aria-live="polite">{"Broadcasting "}<strong>{ name }</strong>{" to every student."}</span>
                        <button onclick={stop_broadcast}>{"Stop broadcast"}</button>
                    } else {
                        <label for="broadcast-pick">{"Broadcast your terminal"}</label>
                        <select id="broadcast-pick" ref={broadcast_pick} disabled={own.is_empty()}>
                            { for own.iter().map(|(id, name)| html! { <option value={id.clone()}>{ name }</option> }) }
                        </select>
                        <button onclick={start_broadcast} disabled={own.is_empty()}>{"Broadcast"}</button>
                        if own.is_empty() { <span class="muted">{"Start a container of your own (Live tab) to broadcast it."}</span> }
                    }
                </div>
            </section>
            <section class="card">
                <h2>{ format!("Students ({})", class.students.len()) }</h2>
                <Roster api={api.clone()} students={class.students.clone()} {on_result} {on_changed} />
            </section>
            <TerminalGrid {entries} token={api.token()} />
        </div>
    }
}
