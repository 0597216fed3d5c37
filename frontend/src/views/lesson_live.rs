//! One lesson on live containers: the same two columns as on the simulator, driven by
//! a lesson session on the server (`POST /lessons/{id}/sessions`).
//!
//! The session's setup containers are the caller's; their own terminals (and, for the
//! admin or the teacher, the session's root shell on the host) are the lesson's
//! terminals. Beside them, the live picture ([`LessonPicture`]: namespace map, creation
//! steps, limits) of the session's containers, drawn from an events stream of this
//! view's own (it runs in the module fetched on demand, which cannot read the page's),
//! scoped to them ([`ContainerScope`]) and restarted with each new session. "Try" asks
//! the server to type the lesson's line. The current step's checks run on the server,
//! in exec sessions of their own, one run at a time: again as soon as any event arrives
//! on that stream (a student's carries only their own containers), and at least every
//! second, since a line typed on the host need make no event. When a step with a
//! prediction passes, the kernel's answer (the server's probe) and the simulator's (the
//! lesson's machine in the worker, with the same solutions typed) are shown side by
//! side. Leaving the lesson ends the session.

use std::cell::Cell;
use std::rc::Rc;

use isolab_shared::lesson::model::TerminalCommand;
use isolab_shared::sim_protocol::{CheckResult, LessonOutline};
use isolab_shared::LessonSessionInfo;
use yew::prelude::*;

use super::lesson_picture::LessonPicture;
use super::lesson_step::{KernelAnswer, StepPanel};
use super::terminals::Terminals;
use crate::lesson_state::{Progress, ProgressAction};
use crate::route::Route;
use crate::source::scope::{newest_seq, ContainerScope};
use crate::source::{LiveSource, SimSource, Source, TerminalTab};
use crate::state::{Action, State};

/// The fallback period of the check loop, and how often it looks for a new event.
const CHECK_EVERY_MS: u32 = 1000;
const LOOK_EVERY_MS: u32 = 100;

/// Props of [`LiveLessonView`].
#[derive(Properties, PartialEq)]
pub struct LiveLessonViewProps {
    pub lesson: LessonOutline,
    /// 1-based, within the lesson.
    pub step: usize,
    pub live: LiveSource,
    /// The lessons' worker, for the simulator's answer to a prediction.
    pub sim: SimSource,
    pub progress: UseReducerHandle<Progress>,
    /// A passed step (lesson, 1-based step), to keep and to report.
    pub on_passed: Callback<(String, usize)>,
}

/// The lesson view on live containers.
#[function_component(LiveLessonView)]
pub fn live_lesson_view(props: &LiveLessonViewProps) -> Html {
    let lesson = &props.lesson;
    let id = lesson.id.clone();
    let step = props.step.clamp(1, lesson.steps.len().max(1));
    let session = use_state(|| None::<LessonSessionInfo>);
    let failure = use_state(|| None::<String>);
    let busy = use_state(|| true);
    let verdicts = use_state(|| (0usize, Vec::<CheckResult>::new()));
    let answers = use_state(|| None::<(usize, Result<String, String>, KernelAnswer)>);
    let announce = use_state(String::new);
    let active = use_state(|| None::<String>);
    // Bumped by a reset: the host shell is a new one, so the terminals attach again.
    let resets = use_state(|| 0u32);
    // The session's id, for the end when the view goes.
    let sid_ref = use_mut_ref(|| None::<String>);
    // The last event's seq, read by the check loop.
    let event_seq = use_mut_ref(|| 0u64);
    // The session's containers as the picture draws them.
    let picture = use_reducer(State::default);

    // Start the session on open; end it when the lesson closes.
    {
        let (live, session, failure, busy, sid_ref) = (
            props.live.clone(),
            session.clone(),
            failure.clone(),
            busy.clone(),
            sid_ref.clone(),
        );
        use_effect_with(id.clone(), move |id| {
            let id = id.clone();
            let ended = Rc::new(Cell::new(false));
            {
                let (live, ended, sid_ref) = (live.clone(), ended.clone(), sid_ref.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    busy.set(true);
                    match live.start_lesson(&id, step - 1).await {
                        // The view closed while the setup was made.
                        Ok(info) if ended.get() => {
                            let _ = live.end_lesson(&info.id).await;
                        }
                        Ok(info) => {
                            *sid_ref.borrow_mut() = Some(info.id.clone());
                            session.set(Some(info));
                            failure.set(None);
                        }
                        Err(e) => failure.set(Some(e)),
                    }
                    busy.set(false);
                });
            }
            move || {
                ended.set(true);
                if let Some(sid) = sid_ref.borrow_mut().take() {
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = live.end_lesson(&sid).await;
                    });
                }
            }
        });
    }

    // The picture's events stream, for the session's containers and what descends from
    // its host shell; every event, the host's too, wakes the check loop.
    {
        let (live, picture, event_seq) = (props.live.clone(), picture.clone(), event_seq.clone());
        let ids: Option<(Vec<String>, Option<u32>)> = session
            .as_ref()
            .map(|s| (s.containers.values().cloned().collect(), s.host_pid));
        use_effect_with(ids, move |ids| {
            let stream = ids.clone().map(|(ids, host_pid)| {
                picture.dispatch(Action::Clear);
                let scope = ContainerScope::new(ids).with_host_root(host_pid);
                let dispatcher = picture.dispatcher();
                let dispatch = Callback::from(move |action: Action| {
                    if let Some(seq) = newest_seq(&action) {
                        *event_seq.borrow_mut() = seq;
                    }
                    if let Some(action) = scope.action(action) {
                        dispatcher.dispatch(action);
                    }
                });
                LiveSource::start(live.token(), dispatch)
            });
            move || {
                if let Some(stream) = stream {
                    stream.close();
                }
            }
        });
    }

    let done = props.progress.is_done(&id, step);
    let sid = session.as_ref().map(|s| s.id.clone());
    // The check loop of the current step: one run at a time, again on an event or
    // after a second, until the step passes or the view moves on.
    {
        let (live, verdicts, answers, announce, on_passed, sim, failure) = (
            props.live.clone(),
            verdicts.clone(),
            answers.clone(),
            announce.clone(),
            props.on_passed.clone(),
            props.sim.clone(),
            failure.clone(),
        );
        let seq = event_seq.clone();
        let this = lesson.steps.get(step - 1).cloned();
        let (id, count) = (id.clone(), lesson.steps.len());
        use_effect_with((sid.clone(), step, done), move |(sid, step, done)| {
            let stop = Rc::new(Cell::new(false));
            if let (Some(sid), Some(this), false) = (sid.clone(), this, *done) {
                let (stop, step) = (stop.clone(), *step);
                wasm_bindgen_futures::spawn_local(async move {
                    while !stop.get() {
                        let seen = *seq.borrow();
                        match live.check_lesson_step(&sid, step).await {
                            Err(e) if !stop.get() => failure.set(Some(e)),
                            Err(_) => return,
                            Ok(_) if stop.get() => return,
                            Ok(checked) => {
                                let shown = checked
                                    .checks
                                    .into_iter()
                                    .map(|v| CheckResult {
                                        passed: v.passed,
                                        reason: v.reason,
                                    })
                                    .collect();
                                verdicts.set((step, shown));
                                if checked.passed {
                                    on_passed.emit((id.clone(), step));
                                    announce.set(passed_text(step, count, &this.title));
                                    if this.predict.is_some() {
                                        let kernel = match live.probe_lesson_step(&sid, step).await
                                        {
                                            Ok(a) => KernelAnswer::Known(a),
                                            Err(e) => KernelAnswer::Unavailable(e),
                                        };
                                        let simulated = match sim.start_lesson(&id, step).await {
                                            Ok(()) => sim.prediction_answer(step - 1).await,
                                            Err(e) => Err(e),
                                        };
                                        answers.set(Some((step, simulated, kernel)));
                                    }
                                    return;
                                }
                            }
                        }
                        let mut waited = 0;
                        while waited < CHECK_EVERY_MS && !stop.get() && *seq.borrow() == seen {
                            gloo_timers::future::TimeoutFuture::new(LOOK_EVERY_MS).await;
                            waited += LOOK_EVERY_MS;
                        }
                    }
                });
            }
            move || stop.set(true)
        });
    }

    let Some(this) = lesson.steps.get(step - 1).cloned() else {
        return html! { <p class="card notice">{"This lesson has no steps."}</p> };
    };
    let tabs: Vec<TerminalTab> = match &*session {
        Some(info) => lesson
            .terminals
            .iter()
            .filter_map(|name| {
                let id = info.containers.get(name)?;
                Some(props.live.terminal(id, name))
            })
            .chain(info.host.then(|| props.live.lesson_host_terminal(&info.id)))
            .collect(),
        None => Vec::new(),
    };
    let key_of = {
        let (session, live) = (session.clone(), props.live.clone());
        move |terminal: &str| -> Option<String> {
            let info = session.as_ref()?;
            if terminal == "host" {
                return Some(live.lesson_host_terminal(&info.id).key);
            }
            info.containers
                .get(terminal)
                .map(|id| live.terminal(id, terminal).key)
        }
    };
    let on_try = {
        let (live, active, failure, sid, key_of) = (
            props.live.clone(),
            active.clone(),
            failure.clone(),
            sid.clone(),
            key_of.clone(),
        );
        Callback::from(move |cmd: TerminalCommand| {
            let Some(sid) = sid.clone() else { return };
            if let Some(key) = key_of(&cmd.terminal) {
                active.set(Some(key));
            }
            let (live, failure) = (live.clone(), failure.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = live.type_lesson_line(&sid, &cmd).await {
                    failure.set(Some(e));
                }
            });
        })
    };
    let on_set_limits = {
        let (live, failure, sid) = (props.live.clone(), failure.clone(), sid.clone());
        Callback::from(move |()| {
            let Some(sid) = sid.clone() else { return };
            let (live, failure) = (live.clone(), failure.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = live.set_lesson_limits(&sid, step).await {
                    failure.set(Some(e));
                }
            });
        })
    };
    let on_answer = {
        let (progress, id) = (props.progress.clone(), id.clone());
        Callback::from(move |answer: String| {
            progress.dispatch(ProgressAction::Answered {
                lesson: id.clone(),
                step,
                answer,
            })
        })
    };
    let on_reset = {
        let (live, progress, id, session, failure, busy) = (
            props.live.clone(),
            props.progress.clone(),
            id.clone(),
            session.clone(),
            failure.clone(),
            busy.clone(),
        );
        let (verdicts, answers, sid_ref, resets) = (
            verdicts.clone(),
            answers.clone(),
            sid_ref.clone(),
            resets.clone(),
        );
        Callback::from(move |_| {
            let Some(sid) = sid_ref.borrow().clone() else {
                return;
            };
            progress.dispatch(ProgressAction::ResetFrom {
                lesson: id.clone(),
                step,
            });
            verdicts.set((0, Vec::new()));
            answers.set(None);
            let (live, session, failure, busy) =
                (live.clone(), session.clone(), failure.clone(), busy.clone());
            let (sid_ref, resets) = (sid_ref.clone(), resets.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match live.reset_lesson(&sid, step - 1).await {
                    Ok(info) => {
                        session.set(Some(info));
                        failure.set(None);
                        resets.set(*resets + 1);
                    }
                    Err(e) => {
                        // A failed reset ended the session.
                        sid_ref.borrow_mut().take();
                        session.set(None);
                        failure.set(Some(e));
                    }
                }
                busy.set(false);
            });
        })
    };
    let first_try = this.try_commands.first().and_then(|c| key_of(&c.terminal));
    let active_key = (*active).clone().or(first_try);
    let on_select = {
        let active = active.clone();
        Callback::from(move |key: String| active.set(Some(key)))
    };
    let (truth, kernel) = match answers.as_ref().filter(|(s, ..)| *s == step) {
        Some((_, sim, kernel)) => (Some(sim.clone()), kernel.clone()),
        None => (
            None,
            KernelAnswer::Unavailable("appears when the step passes".to_string()),
        ),
    };
    let step_verdicts = if verdicts.0 == step {
        verdicts.1.clone()
    } else {
        Vec::new()
    };
    let next = (step < lesson.steps.len() && done).then(|| Route::Lesson {
        id: id.clone(),
        step: step + 1,
        live: true,
    });
    // Terminals remount with a new session (a reset makes new containers).
    let terminals_key = format!(
        "live-terminals-{}-{}",
        sid.clone().unwrap_or_default(),
        *resets
    );
    let on_open_terminal = {
        let active = active.clone();
        Callback::from(move |tab: TerminalTab| active.set(Some(tab.key)))
    };
    html! {
        <div class="lesson-body">
            <section class="lesson-text card" aria-labelledby="step-title">
                <h2 id="step-title" tabindex="-1">{"Step "}{ step }{": "}{ &this.title }</h2>
                if *busy {
                    <p class="muted" role="status">{"Setting up the lesson's containers…"}</p>
                }
                if let Some(e) = &*failure {
                    <p class="notice error" role="alert">{ e }</p>
                }
                <StepPanel key={format!("live-{id}/{step}")} number={step} step={this.clone()}
                    answered={props.progress.answer(&id, step).map(str::to_string)}
                    {done} verdicts={step_verdicts} {truth} {kernel}
                    {on_answer} {on_try} on_set_limits={Some(on_set_limits)} />
                <div class="step-actions">
                    <button onclick={on_reset} disabled={session.is_none()}>
                        {"Reset to the start of this step"}</button>
                    if let Some(next) = next {
                        <a class="button primary" href={next.to_hash()}>{"Next step →"}</a>
                    }
                </div>
            </section>
            <section class="lesson-machine" aria-label="the lesson's containers">
                <Terminals key={terminals_key} {tabs} active={active_key}
                    {on_select} on_close={Callback::noop()} closable={false} />
                if session.is_some() {
                    <LessonPicture state={picture.clone()} source={Source::Live(props.live.clone())}
                        parts={lesson.picture.clone()} {on_open_terminal} can_create={false} />
                }
            </section>
            <div class="sr-only" aria-live="polite" role="status">{ (*announce).clone() }</div>
        </div>
    }
}

/// What a screen reader hears when step `step` of `count` passes.
pub fn passed_text(step: usize, count: usize, title: &str) -> String {
    if step < count {
        format!("Step {step} done: {title}. Step {} is open.", step + 1)
    } else {
        format!("Step {step} done: {title}. The lesson is complete.")
    }
}
