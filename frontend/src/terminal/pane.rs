//! [`TerminalPane`]: one xterm.js terminal in the page, attached to its target.
//!
//! Resize follows the element (ResizeObserver + fit addon). Copy: select, then
//! Ctrl+Shift+C; paste: Ctrl+Shift+V or the browser's paste. View mode re-attaches
//! read-only from the byte offset already shown.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent, ResizeObserver};
use yew::prelude::*;

use super::live_session::{Attach, LiveSession};
use super::replay::ReplayCursor;
use super::sim_session::SimShell;
use super::xterm::{self, FitAddon, XTerm};
use crate::source::{TerminalTab, TerminalTarget};

/// Props of [`TerminalPane`].
#[derive(Properties, PartialEq)]
pub struct TerminalPaneProps {
    pub tab: TerminalTab,
    /// View mode: output only (live terminals).
    #[prop_or_default]
    pub read_only: bool,
    /// A smaller font (the teacher's grid of students' terminals).
    #[prop_or_default]
    pub compact: bool,
}

/// The xterm.js instance of a pane and what keeps its callbacks alive.
struct Mounted {
    term: XTerm,
    fit: Rc<FitAddon>,
    observer: Option<ResizeObserver>,
    _on_resize_element: Closure<dyn FnMut()>,
    _on_key: Closure<dyn FnMut(KeyboardEvent) -> bool>,
}

/// One terminal.
#[function_component(TerminalPane)]
pub fn terminal_pane(props: &TerminalPaneProps) -> Html {
    let host = use_node_ref();
    let mounted = use_mut_ref(|| None::<Mounted>);
    let cursor = use_mut_ref(ReplayCursor::default);
    let status = use_state(String::new);
    // xterm.js is imported when the first terminal opens; None while that is under way.
    let ready = use_state(|| xterm::available().then_some(true));
    let available = *ready == Some(true);
    {
        let ready = ready.clone();
        use_effect_with((), move |_| {
            if ready.is_none() {
                wasm_bindgen_futures::spawn_local(async move {
                    ready.set(Some(xterm::load().await));
                });
            }
        });
    }

    {
        let host = host.clone();
        let mounted = mounted.clone();
        let compact = props.compact;
        use_effect_with((props.tab.key.clone(), available), move |_| {
            if available {
                if let Some(el) = host.cast::<HtmlElement>() {
                    *mounted.borrow_mut() = mount(&el, compact);
                }
            }
            move || {
                if let Some(m) = mounted.borrow_mut().take() {
                    if let Some(o) = &m.observer {
                        o.disconnect();
                    }
                    m.term.dispose();
                }
            }
        });
    }

    {
        let mounted = mounted.clone();
        let cursor = cursor.clone();
        let status = status.setter();
        let target = props.tab.target.clone();
        let read_only = props.read_only;
        use_effect_with((props.tab.key.clone(), read_only, available), move |_| {
            let cleanup = connect(&mounted, target, read_only, cursor, status);
            move || cleanup()
        });
    }

    if ready.is_none() {
        return html! { <p class="muted">{"Loading the terminal…"}</p> };
    }
    if !available {
        return html! {
            <div class="terminal-missing card notice">
                {"xterm.js is not loaded in this page, so terminals cannot be shown."}
            </div>
        };
    }
    html! {
        <div class="terminal-pane">
            <div class="terminal-status muted" aria-live="polite">{ (*status).clone() }</div>
            <div class="terminal-host" ref={host}></div>
        </div>
    }
}

/// Opens xterm.js in `el`, with fit-on-resize and the copy/paste keys.
fn mount(el: &HtmlElement, compact: bool) -> Option<Mounted> {
    let options = xterm::options();
    if compact {
        let _ = js_sys::Reflect::set(&options, &"fontSize".into(), &JsValue::from_f64(11.0));
    }
    let term = XTerm::new(&options).ok()?;
    let fit = Rc::new(FitAddon::new().ok()?);
    term.load_addon(&fit);
    term.open(el);
    let _ = fit.fit();

    let fit_for_resize = fit.clone();
    let on_resize_element = Closure::<dyn FnMut()>::new(move || {
        let _ = fit_for_resize.fit();
    });
    let observer = ResizeObserver::new(on_resize_element.as_ref().unchecked_ref()).ok();
    if let Some(o) = &observer {
        o.observe(el);
    }

    let term_for_keys = term.clone().unchecked_into::<XTerm>();
    let on_key = Closure::<dyn FnMut(KeyboardEvent) -> bool>::new(move |e: KeyboardEvent| {
        if e.type_() != "keydown" || !(e.ctrl_key() && e.shift_key()) {
            return true;
        }
        let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) else {
            return true;
        };
        match e.key().to_ascii_lowercase().as_str() {
            "c" => {
                // Not the browser's Ctrl+Shift+C (it opens the inspector).
                e.prevent_default();
                let _ = clipboard.write_text(&term_for_keys.get_selection());
                false
            }
            // The browser's own paste ("paste as plain text") reaches xterm's textarea
            // as a paste event, in order with the keys typed after it; xterm must only
            // not turn the key into ^V. (Reading the clipboard here would be async and
            // let a quick Enter overtake the pasted text.)
            "v" => false,
            _ => true,
        }
    });
    term.attach_custom_key_event_handler(&on_key);
    Some(Mounted {
        term,
        fit,
        observer,
        _on_resize_element: on_resize_element,
        _on_key: on_key,
    })
}

/// Attaches the mounted terminal to `target`; returns the detach function.
fn connect(
    mounted: &Rc<RefCell<Option<Mounted>>>,
    target: TerminalTarget,
    read_only: bool,
    cursor: Rc<RefCell<ReplayCursor>>,
    status: UseStateSetter<String>,
) -> Box<dyn FnOnce()> {
    let Some(term) = mounted
        .borrow()
        .as_ref()
        .map(|m| m.term.clone().unchecked_into::<XTerm>())
    else {
        return Box::new(|| {});
    };
    if let Some(m) = mounted.borrow().as_ref() {
        let _ = m.fit.fit();
    }
    xterm::set_option(&term, "disableStdin", JsValue::from_bool(read_only));
    match target {
        TerminalTarget::Live { path, token } => {
            let status_cb = Callback::from(move |s: String| status.set(s));
            let session = Rc::new(LiveSession::start(
                term.clone().unchecked_into(),
                Attach {
                    path,
                    token,
                    read_only,
                },
                cursor,
                status_cb,
            ));
            let input = session.clone();
            let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
                if !read_only {
                    input.send_input(&data);
                }
            });
            let sizes = session.clone();
            let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
                let get = |k: &str| {
                    js_sys::Reflect::get(&size, &JsValue::from_str(k))
                        .ok()
                        .and_then(|v| v.as_f64())
                        .unwrap_or(0.0) as u16
                };
                sizes.send_resize(get("cols"), get("rows"));
            });
            let data_listener = term.on_data(&on_data);
            let resize_listener = term.on_resize(&on_resize);
            Box::new(move || {
                session.stop();
                data_listener.dispose_listener();
                resize_listener.dispose_listener();
                drop(on_data);
                drop(on_resize);
            })
        }
        TerminalTarget::Simulated(sim) => {
            status.set("simulated shell · runs in this page".to_string());
            term.reset();
            let shell = SimShell::start(sim.clone(), term.clone().unchecked_into::<XTerm>());
            let out_shell = shell.clone();
            sim.set_terminal_out(Some(Callback::from(move |text: String| {
                out_shell.borrow_mut().notice(&text);
            })));
            let in_shell = shell.clone();
            let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
                SimShell::input(&in_shell, &data);
            });
            // A lesson's "try" button types here, as keys would.
            let typed_shell = shell.clone();
            sim.set_typer(Some(Callback::from(move |text: String| {
                SimShell::input(&typed_shell, &text);
            })));
            let data_listener = term.on_data(&on_data);
            // The free shell takes the keys at once; a lesson's terminals wait to be
            // chosen, so the page's focus order stays the reader's.
            if sim.terminal_name().is_none() {
                term.focus();
            }
            Box::new(move || {
                shell.borrow_mut().close();
                sim.set_typer(None);
                sim.set_terminal_out(None);
                data_listener.dispose_listener();
                drop(on_data);
            })
        }
    }
}
