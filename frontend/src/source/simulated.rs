//! [`SimSource`]: the simulator, running in a Web Worker (`sim-worker`), behind the same
//! interface as the live backend. Its replies feed the reducer.
//!
//! The worker's wasm is fetched only when the Simulator is first opened, which keeps
//! the model kernel out of the page's first load. A lesson runs in a worker of its own
//! (see [`super::sim_lessons`]); each of its terminals is a [`SimSource::for_terminal`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use isolab_shared::sim_protocol::{SimCall, SimOutcome, SimReply, SimRequest, SimView};
use isolab_shared::ContainerSpec;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};
use yew::Callback;

use super::{same, ActionResult, TerminalTab, TerminalTarget};
use crate::state::{Action, Severity, StreamStatus};

pub use isolab_shared::sim_protocol::{DEFAULT_SCENARIO, SCENARIOS};

/// The worker's loader script, which Trunk writes next to index.html.
const WORKER_URL: &str = "./sim-worker_loader.js";

/// The simulator's worker, shared by the views and the simulated terminal.
#[derive(Clone)]
pub struct SimSource {
    link: Rc<WorkerLink>,
    /// A lesson terminal's name (`host`, `box`); `None` is the free simulator's shell.
    terminal: Option<Rc<str>>,
}

impl PartialEq for SimSource {
    fn eq(&self, other: &Self) -> bool {
        same(&self.link, &other.link) && self.terminal == other.terminal
    }
}

/// A call waiting for its answer.
struct Pending {
    call: u32,
    /// A reset clears the reducer before its snapshot goes in.
    resets: bool,
    answer: oneshot::Sender<SimOutcome>,
}

/// What the terminal needs synchronously, from the last answer.
#[derive(Default)]
struct ShellState {
    prompt: String,
    finished: bool,
    scenario: String,
}

/// The worker, the calls in flight, and where answers go.
struct WorkerLink {
    worker: Worker,
    /// Calls are held back until the worker says it listens.
    ready: Cell<bool>,
    held: RefCell<Vec<String>>,
    next_call: Cell<u32>,
    pending: RefCell<Vec<Pending>>,
    /// Bumped by every reset that took effect.
    generation: Cell<u32>,
    /// Why the worker died, once it did.
    stopped: RefCell<Option<String>>,
    shell: RefCell<ShellState>,
    /// A lesson's terminal names and their prompts, from the last answer.
    prompts: RefCell<BTreeMap<String, String>>,
    /// Where a button's text goes to be typed, per terminal ("" for the free shell).
    typers: RefCell<BTreeMap<String, Callback<String>>>,
    /// Lines answered so far: a line may change what no event reports (a hostname).
    lines: Cell<u64>,
    dispatch: Callback<Action>,
    /// Where out-of-band terminal output goes (a notice after `exec`); set by the terminal.
    terminal_out: RefCell<Option<Callback<String>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Drop for WorkerLink {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

impl SimSource {
    /// Starts the worker and the simulator in `scenario`, feeding `dispatch`; resolves
    /// once the first state is in.
    pub async fn start(scenario: &str, dispatch: Callback<Action>) -> ActionResult<SimSource> {
        let source = SimSource::spawn(dispatch)?;
        source.reset(scenario).await?;
        Ok(source)
    }

    /// Starts a worker that answers `dispatch`, asking it nothing yet.
    pub fn spawn(dispatch: Callback<Action>) -> ActionResult<SimSource> {
        let worker = Worker::new(WORKER_URL)
            .map_err(|e| format!("the simulator's worker did not start: {e:?}"))?;
        let link = Rc::new_cyclic(|weak: &Weak<WorkerLink>| {
            let weak_for_error = weak.clone();
            let weak = weak.clone();
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let (Some(link), Some(text)) = (weak.upgrade(), e.data().as_string()) {
                    link.receive(&text);
                }
            });
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // A worker script that fails to load or throws: fail the calls in flight
            // (dropping their senders) rather than wait forever.
            let weak_err = weak_for_error.clone();
            let on_error =
                Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
                    if let Some(link) = weak_err.upgrade() {
                        *link.stopped.borrow_mut() = Some(e.message());
                        link.pending.borrow_mut().clear();
                        link.held.borrow_mut().clear();
                    }
                });
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            WorkerLink {
                worker,
                ready: Cell::new(false),
                held: RefCell::new(Vec::new()),
                next_call: Cell::new(1),
                pending: RefCell::new(Vec::new()),
                generation: Cell::new(0),
                stopped: RefCell::new(None),
                shell: RefCell::new(ShellState::default()),
                prompts: RefCell::new(BTreeMap::new()),
                typers: RefCell::new(BTreeMap::new()),
                lines: Cell::new(0),
                dispatch,
                terminal_out: RefCell::new(None),
                _on_message: on_message,
                _on_error: on_error,
            }
        });
        Ok(SimSource {
            link,
            terminal: None,
        })
    }

    /// Sends one request and waits for its outcome; a refusal is the `Err`.
    pub(super) async fn call(&self, request: SimRequest) -> ActionResult<SimOutcome> {
        match self.link.send(request).await {
            SimOutcome::Failed(e) => Err(e),
            outcome => Ok(outcome),
        }
    }

    /// Starts over from `scenario`.
    pub async fn reset(&self, scenario: &str) -> ActionResult<()> {
        self.call(SimRequest::Reset {
            scenario: scenario.to_string(),
        })
        .await
        .map(drop)
    }

    /// How many times the simulator started (over): views restart when it changes.
    pub fn generation(&self) -> u32 {
        self.link.generation.get()
    }

    /// The scenario the simulator started from.
    pub fn scenario(&self) -> String {
        self.link.shell.borrow().scenario.clone()
    }

    /// Runs one shell line (in this lesson terminal, if it is one) and returns its output.
    pub async fn run_line(&self, line: &str) -> String {
        let line = line.to_string();
        let request = match &self.terminal {
            Some(name) => SimRequest::LessonType {
                terminal: name.to_string(),
                line,
            },
            None => SimRequest::RunLine { line },
        };
        let out = match self.call(request).await {
            Ok(SimOutcome::Output(out)) => out,
            Ok(_) => String::new(),
            Err(e) => format!("isolab: {e}\n"),
        };
        self.link.lines.set(self.link.lines.get() + 1);
        out
    }

    /// How many shell lines were answered: checks run again when it changes.
    pub fn lines_run(&self) -> u64 {
        self.link.lines.get()
    }

    /// The prompt of the current shell (of this lesson terminal, if it is one).
    pub fn prompt(&self) -> String {
        match &self.terminal {
            Some(name) => self
                .link
                .prompts
                .borrow()
                .get(&**name)
                .cloned()
                .unwrap_or_else(|| "# ".to_string()),
            None => self.link.shell.borrow().prompt.clone(),
        }
    }

    /// True once the last shell exited (a lesson terminal starts a new one instead).
    pub fn is_finished(&self) -> bool {
        self.terminal.is_none() && self.link.shell.borrow().finished
    }

    /// The terminal's first line.
    pub fn greeting(&self) -> String {
        match &self.terminal {
            Some(name) => format!("isolab simulator · lesson terminal: {name}"),
            None => format!(
                "isolab simulator · scenario {} · try: ps, hostname, unshare -p -f --mount-proc sh, ip link, help",
                self.scenario()
            ),
        }
    }

    /// This worker's lesson terminal `name` (`host` or a setup container's name).
    pub fn for_terminal(&self, name: &str) -> SimSource {
        SimSource {
            link: self.link.clone(),
            terminal: Some(Rc::from(name)),
        }
    }

    /// The lesson terminal's name, if this is one.
    pub fn terminal_name(&self) -> Option<&str> {
        self.terminal.as_deref()
    }

    /// Lets this terminal's screen take text to type (a button's command).
    pub fn set_typer(&self, typer: Option<Callback<String>>) {
        let key = self.terminal.as_deref().unwrap_or_default().to_string();
        let mut typers = self.link.typers.borrow_mut();
        match typer {
            Some(t) => typers.insert(key, t),
            None => typers.remove(&key),
        };
    }

    /// Types `text` into this terminal's screen, as keys; false when no screen is open.
    pub fn type_text(&self, text: &str) -> bool {
        let key = self.terminal.as_deref().unwrap_or_default();
        let typer = self.link.typers.borrow().get(key).cloned();
        typer.map(|t| t.emit(text.to_string())).is_some()
    }

    /// Lets the terminal receive output that no keystroke caused.
    pub fn set_terminal_out(&self, out: Option<Callback<String>>) {
        *self.link.terminal_out.borrow_mut() = out;
    }

    /// Creates and starts a container.
    pub async fn create(&self, spec: ContainerSpec) -> ActionResult<String> {
        match self.call(SimRequest::Create { spec }).await? {
            SimOutcome::Created(id) => Ok(id),
            _ => Err("the simulator created nothing".to_string()),
        }
    }

    /// Ends the container's first process with `signal` (the model has no grace period).
    pub async fn signal(&self, id: &str, signal: i32) -> ActionResult<()> {
        self.call(SimRequest::Signal {
            id: id.to_string(),
            signal,
        })
        .await
        .map(drop)
    }

    /// Kills and forgets the container.
    pub async fn remove(&self, id: &str) -> ActionResult<()> {
        self.call(SimRequest::Remove { id: id.to_string() })
            .await
            .map(drop)
    }

    /// Opens a shell in the container's namespaces, in the simulated terminal.
    pub async fn exec(&self, id: &str, name: &str) -> ActionResult<TerminalTab> {
        self.call(SimRequest::Attach { id: id.to_string() }).await?;
        let out = self.link.terminal_out.borrow().clone();
        if let Some(out) = out {
            out.emit(format!(
                "\r\n[a shell in {name}'s namespaces and cgroup; `exit` returns]\r\n{}",
                self.prompt()
            ));
        }
        Ok(self.shell_tab())
    }

    /// The tab of the simulated shell (or of this lesson terminal).
    pub fn shell_tab(&self) -> TerminalTab {
        let (key, title) = match &self.terminal {
            Some(name) => (format!("lesson-{name}"), name.to_string()),
            None => ("sim-shell".to_string(), "simulated shell".to_string()),
        };
        TerminalTab {
            key,
            title,
            target: TerminalTarget::Simulated(self.clone()),
        }
    }
}

impl WorkerLink {
    /// Sends a call (or holds it until the worker listens) and waits for its outcome.
    async fn send(&self, request: SimRequest) -> SimOutcome {
        if let Some(why) = self.stopped.borrow().as_ref() {
            return SimOutcome::Failed(format!("the simulator stopped: {why}"));
        }
        let call = self.next_call.get();
        self.next_call.set(call.wrapping_add(1));
        let resets = matches!(
            request,
            SimRequest::Reset { .. } | SimRequest::LessonStart { .. }
        );
        let text = match serde_json::to_string(&SimCall { call, request }) {
            Ok(text) => text,
            Err(e) => return SimOutcome::Failed(e.to_string()),
        };
        let (answer, outcome) = oneshot::channel();
        self.pending.borrow_mut().push(Pending {
            call,
            resets,
            answer,
        });
        if self.ready.get() {
            self.post(&text);
        } else {
            self.held.borrow_mut().push(text);
        }
        outcome.await.unwrap_or_else(|_| {
            let why = self.stopped.borrow().clone().unwrap_or_default();
            SimOutcome::Failed(format!("the simulator stopped: {why}"))
        })
    }

    fn post(&self, text: &str) {
        if let Err(e) = self.worker.post_message(&JsValue::from_str(text)) {
            self.notice(format!("the simulator's worker refused a message: {e:?}"));
        }
    }

    /// Handles one message of the worker.
    fn receive(&self, text: &str) {
        match serde_json::from_str::<SimReply>(text) {
            Ok(SimReply::Ready) => {
                self.ready.set(true);
                let held = std::mem::take(&mut *self.held.borrow_mut());
                for text in held {
                    self.post(&text);
                }
            }
            Ok(SimReply::Answer {
                call,
                outcome,
                view,
            }) => {
                let pending = {
                    let mut list = self.pending.borrow_mut();
                    list.iter()
                        .position(|p| p.call == call)
                        .map(|i| list.remove(i))
                };
                let resets = pending.as_ref().is_some_and(|p| p.resets);
                // A failed reset left the old machine: nothing to publish.
                if !(resets && matches!(outcome, SimOutcome::Failed(_))) {
                    self.publish(*view, resets);
                }
                match pending {
                    Some(p) => {
                        let _ = p.answer.send(outcome);
                    }
                    None => {
                        if let SimOutcome::Failed(e) = outcome {
                            self.notice(e);
                        }
                    }
                }
            }
            Err(e) => self.notice(format!("the simulator answered nonsense: {e}")),
        }
    }

    /// Sends what happened to the reducer: the events (for the feed) then the fresh
    /// snapshot (cgroup figures the events do not carry).
    fn publish(&self, view: SimView, resets: bool) {
        *self.shell.borrow_mut() = ShellState {
            prompt: view.prompt,
            finished: view.finished,
            scenario: view.scenario,
        };
        *self.prompts.borrow_mut() = view.terminals;
        if resets {
            self.generation.set(self.generation.get().wrapping_add(1));
            self.dispatch.emit(Action::Clear);
            self.dispatch.emit(Action::Status(StreamStatus::Simulated));
        } else if !view.events.is_empty() {
            self.dispatch.emit(Action::Events(view.events));
        }
        self.dispatch.emit(Action::Snapshot(view.snapshot));
    }

    fn notice(&self, text: String) {
        self.dispatch.emit(Action::Notice(Severity::Error, text));
    }
}
