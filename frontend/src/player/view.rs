//! [`Player`]: one recording played back: the terminal (xterm.js, fed the output up to
//! the playhead), the timeline with its markers, play/pause, speed, download, and
//! beside them the namespace map and the limits as they were at that moment.
//!
//! Keys, on the player: space plays or pauses, the left and right arrows seek 5 s,
//! Home and End go to either end.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use isolab_shared::limits::format_bytes;
use isolab_shared::{ContainerStatus, NamespaceKind};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;
use yew::prelude::*;

use super::api;
use super::cast::Cast;
use super::timeline::{
    format_time, index_at, moment_at, seek_ops, Clock, ClockAction, Moment, TermOp, ARROW_SEEK,
    SPEEDS,
};
use crate::state::{Action, State};
use crate::terminal::xterm::{self, XTerm};
use crate::views::map::MapCanvas;

/// How often the clock advances while playing, in milliseconds.
const TICK_MS: u32 = 50;

/// Props of [`Player`].
#[derive(Properties, PartialEq)]
pub struct PlayerProps {
    /// The recording's id in the index.
    pub id: AttrValue,
    pub token: Option<String>,
}

/// The terminal of a player and how many of the recording's events it shows.
struct Screen {
    term: XTerm,
    shown: usize,
}

/// The recording, read, and its file for the download link.
#[derive(PartialEq)]
struct Loaded {
    cast: Rc<Cast>,
    download_url: String,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.download_url);
    }
}

fn blob_url(text: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/x-asciicast");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

fn apply_ops(term: &XTerm, ops: Vec<TermOp>) {
    for op in ops {
        match op {
            TermOp::Reset => term.reset(),
            TermOp::Resize(c, r) => term.resize(c.max(1), r.max(1)),
            TermOp::Write(text) => term.write_str(&text),
        }
    }
}

/// One recording's player.
#[function_component(Player)]
pub fn player(props: &PlayerProps) -> Html {
    let loaded = use_state(|| None::<Rc<Loaded>>);
    let error = use_state(|| None::<String>);
    let clock = use_reducer(Clock::default);
    let screen: Rc<RefCell<Option<Screen>>> = use_mut_ref(|| None);
    let host = use_node_ref();
    let map_state = use_reducer(State::default);
    let kind = use_state(|| NamespaceKind::Pid);
    let moment = use_state(Moment::default);

    // Fetch and read the recording, and load xterm.js beside it.
    {
        let (loaded, error, clock) = (loaded.clone(), error.clone(), clock.dispatcher());
        let token = props.token.clone();
        use_effect_with(props.id.clone(), move |id| {
            let id = id.to_string();
            wasm_bindgen_futures::spawn_local(async move {
                let text = match api::fetch(&id, &token).await {
                    Ok(t) => t,
                    Err(e) => return error.set(Some(e)),
                };
                let cast = match Cast::parse(&text) {
                    Ok(c) => Rc::new(c),
                    Err(e) => {
                        return error.set(Some(format!("this recording cannot be played: {e}")))
                    }
                };
                if !xterm::load().await {
                    return error.set(Some("xterm.js could not be loaded in this page".into()));
                }
                clock.dispatch(ClockAction::Load(cast.duration()));
                let download_url = blob_url(&text).unwrap_or_default();
                loaded.set(Some(Rc::new(Loaded { cast, download_url })));
            });
        });
    }
    // Open the terminal once the recording is read.
    {
        let (screen, host) = (screen.clone(), host.clone());
        use_effect_with(loaded.as_ref().map(|l| l.cast.clone()), move |cast| {
            if let (Some(cast), Some(el)) = (cast, host.cast::<HtmlElement>()) {
                let options = xterm::options();
                let set = |k: &str, v: JsValue| {
                    let _ = js_sys::Reflect::set(&options, &JsValue::from_str(k), &v);
                };
                set("cols", JsValue::from(cast.width.max(1)));
                set("rows", JsValue::from(cast.height.max(1)));
                set("disableStdin", JsValue::TRUE);
                set("cursorBlink", JsValue::FALSE);
                if let Ok(term) = XTerm::new(&options) {
                    term.open(&el);
                    *screen.borrow_mut() = Some(Screen { term, shown: 0 });
                }
            }
            move || {
                if let Some(s) = screen.borrow_mut().take() {
                    s.term.dispose();
                }
            }
        });
    }
    // Bring the screen, the map and the limits to the playhead.
    {
        let (screen, map_state, moment) = (screen.clone(), map_state.dispatcher(), moment.clone());
        let cast = loaded.as_ref().map(|l| l.cast.clone());
        let position = clock.position;
        use_effect_with((cast, position.to_bits()), move |(cast, _)| {
            if let Some(cast) = cast {
                let target = index_at(cast, position);
                if let Some(s) = screen.borrow_mut().as_mut() {
                    apply_ops(&s.term, seek_ops(cast, s.shown, target));
                    s.shown = target;
                }
                let now = moment_at(cast, position);
                if now.markers_passed != moment.markers_passed
                    || moment.snapshot.containers.is_empty()
                {
                    map_state.dispatch(Action::Snapshot(now.snapshot.clone()));
                    moment.set(now);
                }
            }
        });
    }
    // The clock runs while playing.
    {
        let dispatcher = clock.dispatcher();
        use_effect_with(clock.playing, move |playing| {
            let interval = playing.then(|| {
                Interval::new(TICK_MS, move || {
                    dispatcher.dispatch(ClockAction::Tick(f64::from(TICK_MS) / 1000.0))
                })
            });
            move || drop(interval)
        });
    }

    if let Some(e) = &*error {
        return html! { <p class="error player-error" role="alert">{ e }</p> };
    }
    let Some(loaded) = (*loaded).clone() else {
        return html! { <p class="muted" role="status">{"Loading the recording…"}</p> };
    };
    let cast = &loaded.cast;
    let duration = clock.duration;
    let toggle = {
        let clock = clock.dispatcher();
        Callback::from(move |_: MouseEvent| clock.dispatch(ClockAction::Toggle))
    };
    let onkeydown = {
        let clock = clock.dispatcher();
        Callback::from(move |e: KeyboardEvent| {
            // The slider and the speed list keep their own keys, and buttons and links
            // their space.
            let tag = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .map(|el| el.tag_name())
                .unwrap_or_default();
            let in_control = matches!(tag.as_str(), "INPUT" | "SELECT");
            let pressable = matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY");
            let action = match e.key().as_str() {
                _ if in_control => return,
                " " if !pressable => ClockAction::Toggle,
                "ArrowLeft" => ClockAction::SeekBy(-ARROW_SEEK),
                "ArrowRight" => ClockAction::SeekBy(ARROW_SEEK),
                "Home" => ClockAction::Seek(0.0),
                "End" => ClockAction::Seek(f64::MAX),
                _ => return,
            };
            e.prevent_default();
            clock.dispatch(action);
        })
    };
    let oninput = {
        let clock = clock.dispatcher();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if let Ok(t) = input.value().parse::<f64>() {
                    clock.dispatch(ClockAction::Seek(t));
                }
            }
        })
    };
    let onspeed = {
        let clock = clock.dispatcher();
        Callback::from(move |e: Event| {
            if let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                if let Ok(s) = select.value().parse::<f64>() {
                    clock.dispatch(ClockAction::SetSpeed(s));
                }
            }
        })
    };
    let markers = cast.markers();
    let percent = |t: f64| {
        if duration > 0.0 {
            t / duration * 100.0
        } else {
            0.0
        }
    };
    let ticks = markers.iter().map(|(_, at, label)| {
        html! { <span class="player-tick" style={format!("left: {:.2}%", percent(*at))} title={label.to_string()}></span> }
    });
    let shown = index_at(cast, clock.position);
    let marker_items = markers.iter().map(|(i, at, label)| {
        let passed = *i < shown;
        let clock = clock.dispatcher();
        let at = *at;
        let onclick = Callback::from(move |_| clock.dispatch(ClockAction::Seek(at)));
        html! {
            <li class={classes!("player-marker", passed.then_some("passed"))}>
                <button class="link" {onclick} aria-label={format!("jump to {}: {label}", format_time(at))}>
                    <span class="muted">{ format_time(at) }</span>{" "}{ label.to_string() }
                </button>
            </li>
        }
    });
    let kinds = NamespaceKind::ALL.iter().map(|&k| {
        let kind_handle = kind.clone();
        let current = *kind == k;
        html! {
            <button class={classes!("ns-chip", "kind", format!("ns-{}", k.name()), current.then_some("current"))}
                    aria-pressed={current.to_string()} title={k.description()}
                    onclick={Callback::from(move |_| kind_handle.set(k))}>{ k.name() }</button>
        }
    });
    let now_text = format!(
        "{} / {}",
        format_time(clock.position),
        format_time(duration)
    );
    let file_name = format!("recording-{}.cast", props.id);
    html! {
        <div class="player" role="region" aria-label={format!("recording player: {}", cast.title)}
             tabindex="0" {onkeydown}>
            <div class="player-main">
                <div class="player-screen" ref={host} aria-label="the recorded terminal"></div>
                <div class="player-controls" role="group" aria-label="playback">
                    <button class="player-play" onclick={toggle} aria-pressed={clock.playing.to_string()}
                            aria-label={if clock.playing { "Pause" } else { "Play" }}>
                        { if clock.playing { "⏸ Pause" } else { "▶ Play" } }
                    </button>
                    <span class="player-time" aria-live="off">{ now_text.clone() }</span>
                    <label>{"Speed "}
                        <select class="player-speed" onchange={onspeed} aria-label="playback speed">
                            { for SPEEDS.iter().map(|s| html! {
                                <option value={s.to_string()} selected={*s == clock.speed}>{ format!("{s}×") }</option>
                            }) }
                        </select>
                    </label>
                    <a class="player-download button" href={loaded.download_url.clone()} download={file_name}>{"Download .cast"}</a>
                </div>
                <div class="player-timeline-wrap">
                    <div class="player-ticks" aria-hidden="true">{ for ticks }</div>
                    <input type="range" class="player-timeline" min="0" max={duration.to_string()} step="any"
                           value={clock.position.to_string()} {oninput}
                           aria-label="position in the recording" aria-valuetext={now_text} />
                </div>
                if cast.truncated {
                    <p class="muted">{"The server cut this recording at its size cap; its end is missing."}</p>
                }
                <details class="player-markers-box" open=true>
                    <summary>{ format!("Markers ({})", markers.len()) }</summary>
                    <ol class="player-markers">{ for marker_items }</ol>
                </details>
            </div>
            <aside class="player-side">
                { limits_card(&moment) }
                <section class="card player-map">
                    <div class="card-head">
                        <h3>{"Namespaces at this moment"}</h3>
                        <div class="kind-chooser" role="group" aria-label="namespace kind">{ for kinds }</div>
                    </div>
                    <MapCanvas state={map_state.clone()} kind={*kind} on_hover={Callback::noop()} />
                </section>
            </aside>
        </div>
    }
}

/// The limits, status and processes of the container at the playhead.
fn limits_card(moment: &Moment) -> Html {
    let Some(c) = moment.snapshot.containers.first() else {
        return html! {
            <section class="card player-limits">
                <h3>{"Limits at this moment"}</h3>
                <p class="muted">{"This recording carries no container events (it predates them)."}</p>
            </section>
        };
    };
    let status = match c.status {
        ContainerStatus::Created => "created".to_string(),
        ContainerStatus::Running => "running".to_string(),
        ContainerStatus::Exited => match c.exit.as_ref().and_then(|e| e.code) {
            Some(code) => format!("exited, code {code}"),
            None => "exited".to_string(),
        },
    };
    let limits = &c.spec.limits;
    let (pids_hits, memory_hits, cpu_hits) = moment.limit_hits;
    let unlimited = || "unlimited".to_string();
    html! {
        <section class="card player-limits" aria-live="polite">
            <h3>{ format!("{} at this moment", c.name) }</h3>
            <dl class="facts">
                <dt>{"status"}</dt><dd class="player-status">{ status }</dd>
                <dt>{"processes"}</dt><dd class="player-processes">{ c.processes.len() }</dd>
                <dt>{"pids.max"}</dt><dd class="player-limit-pids">{ limits.pids.map(|p| p.to_string()).unwrap_or_else(unlimited) }</dd>
                <dt>{"memory"}</dt><dd class="player-limit-memory">{ limits.memory_bytes.map(format_bytes).unwrap_or_else(unlimited) }</dd>
                <dt>{"cpus"}</dt><dd class="player-limit-cpus">{ limits.cpus.map(|p| p.to_string()).unwrap_or_else(unlimited) }</dd>
                <dt>{"limit hits"}</dt><dd>{ format!("pids {pids_hits}, memory {memory_hits}, cpu {cpu_hits}") }</dd>
                <dt>{"OOM kills"}</dt><dd>{ moment.oom_kills }</dd>
            </dl>
        </section>
    }
}
