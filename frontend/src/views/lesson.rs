//! One lesson: the step list, then two columns: the step's text ([`StepPanel`]) and
//! the lesson's machine (its terminals and the live picture, [`LessonPicture`]). With a
//! server connected, a lesson marked `live` can run on live containers instead of the
//! simulator ([`LiveLessonView`]); the choice is part of the URL, so a reload keeps it.
//! In a class, a lesson that types into the host's root shell runs there for the
//! teacher only.
//!
//! The lesson starts on a machine of its own in the worker, with the solutions of the
//! steps before the URL's step replayed, so a link to step N lands where N begins. The
//! current step is judged again whenever the machine answers (a pushed snapshot, a
//! typed line), so it turns green within a moment, not on a poll.

use isolab_shared::lesson::model::TerminalCommand;
use isolab_shared::sim_protocol::{CheckResult, LessonOutline};
use yew::prelude::*;

use super::lesson_live::{passed_text, LiveLessonView};
use super::lesson_picture::LessonPicture;
use super::lesson_step::{KernelAnswer, StepPanel};
use super::markdown::render_inline;
use super::terminals::Terminals;
use crate::lesson_state::{Progress, ProgressAction};
use crate::route::{go, Route};
use crate::source::{LiveSource, SimSource, Source, TerminalTab};
use crate::state::{Severity, State};

/// Props of [`LessonView`].
#[derive(Properties, PartialEq)]
pub struct LessonViewProps {
    pub lesson: LessonOutline,
    /// 1-based, within the lesson.
    pub step: usize,
    /// The URL asks for live containers (used when the lesson and the caller may).
    pub on_live: bool,
    /// The lesson worker.
    pub sim: SimSource,
    /// The lesson machine's state.
    pub state: UseReducerHandle<State>,
    pub progress: UseReducerHandle<Progress>,
    /// The isolab server, when one is connected: lessons marked `live` can run there.
    pub live: Option<LiveSource>,
    /// The caller is a student of a class (host lessons are the teacher's on live).
    pub student: bool,
    /// A passed step (lesson, 1-based step), to keep and to report.
    pub on_passed: Callback<(String, usize)>,
}

/// A check's outcome for one step, kept with the step it is about.
type StepVerdicts = (usize, Vec<CheckResult>);

/// The lesson view.
#[function_component(LessonView)]
pub fn lesson_view(props: &LessonViewProps) -> Html {
    let lesson = &props.lesson;
    let id = lesson.id.clone();
    let step = props.step.clamp(1, lesson.steps.len().max(1));
    let restarts = use_state(|| 0u32);
    let ready = use_state(|| false);
    let verdicts = use_state(|| -> StepVerdicts { (0, Vec::new()) });
    let truth = use_state(|| None::<(usize, Result<String, String>)>);
    let announce = use_state(String::new);
    let active = use_state(|| None::<String>);
    // (step, generation) and the seq at which that step began, for event checks.
    let began = use_mut_ref(|| ((0usize, 0u32), 0u64));
    let current = use_mut_ref(|| 0usize);
    *current.borrow_mut() = step;
    let host_only = props.student && lesson.types_on_host();
    let live_possible = props.live.is_some() && lesson.live;
    let on_live_now = props.on_live && live_possible && !host_only;

    // (Re)start the lesson's machine: on open, and on Reset.
    {
        let (sim, ready, state) = (props.sim.clone(), ready.clone(), props.state.clone());
        use_effect_with((id.clone(), *restarts), move |(id, _)| {
            ready.set(false);
            let id = id.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match sim.start_lesson(&id, step - 1).await {
                    Ok(()) => ready.set(true),
                    Err(e) => state.dispatch(crate::state::Action::Notice(Severity::Error, e)),
                }
            });
        });
    }

    let generation = props.sim.generation();
    let seq = props.state.snapshot.seq;
    if began.borrow().0 != (step, generation) {
        *began.borrow_mut() = ((step, generation), seq);
    }
    let done = props.progress.is_done(&id, step);
    // Judge the current step whenever the machine changed.
    {
        let (sim, on_passed, verdicts, truth, announce, current) = (
            props.sim.clone(),
            props.on_passed.clone(),
            verdicts.clone(),
            truth.clone(),
            announce.clone(),
            current.clone(),
        );
        let since = began.borrow().1;
        let this = lesson.steps.get(step - 1).cloned();
        let (id, count) = (id.clone(), lesson.steps.len());
        let lines = props.sim.lines_run();
        use_effect_with(
            (*ready, step, seq, lines, generation, done, on_live_now),
            move |&(ready, step, .., on_live_now)| {
                let Some(this) = this.filter(|_| ready && !done && !on_live_now) else {
                    return;
                };
                wasm_bindgen_futures::spawn_local(async move {
                    let Ok(result) = sim.check_step(step - 1, since).await else {
                        return;
                    };
                    // The student may have moved on while the worker judged.
                    if *current.borrow() != step {
                        return;
                    }
                    let passed = !result.is_empty() && result.iter().all(|v| v.passed);
                    verdicts.set((step, result));
                    if !passed {
                        return;
                    }
                    if this.predict.is_some() {
                        truth.set(Some((step, sim.prediction_answer(step - 1).await)));
                    }
                    on_passed.emit((id.clone(), step));
                    announce.set(passed_text(step, count, &this.title));
                });
            },
        );
    }

    let Some(this) = lesson.steps.get(step - 1).cloned() else {
        return html! { <p class="card notice">{"This lesson has no steps."}</p> };
    };
    let on_try = {
        let (sim, active, state) = (props.sim.clone(), active.clone(), props.state.clone());
        Callback::from(move |cmd: TerminalCommand| {
            let terminal = sim.for_terminal(&cmd.terminal);
            active.set(Some(terminal.shell_tab().key));
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = terminal.type_command(&cmd.run).await {
                    state.dispatch(crate::state::Action::Notice(Severity::Error, e));
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
        let (progress, id, restarts, verdicts, truth) = (
            props.progress.clone(),
            id.clone(),
            restarts.clone(),
            verdicts.clone(),
            truth.clone(),
        );
        Callback::from(move |_| {
            progress.dispatch(ProgressAction::ResetFrom {
                lesson: id.clone(),
                step,
            });
            verdicts.set((0, Vec::new()));
            truth.set(None);
            restarts.set(*restarts + 1);
        })
    };
    let step_list = lesson.steps.iter().enumerate().map(|(i, s)| {
        let n = i + 1;
        let is_done = props.progress.is_done(&id, n);
        let open = n == 1 || n == step || props.progress.is_done(&id, n - 1) || is_done;
        let here = n == step;
        // Marks that every font has; the words for a screen reader follow.
        let mark = if is_done { "✓" } else if open { "○" } else { "×" };
        let href = Route::Lesson { id: id.clone(), step: n, live: on_live_now }.to_hash();
        html! {
            <li class={classes!(is_done.then_some("done"), here.then_some("current"))}>
                if open {
                    <a {href} aria-current={here.then_some("step")}>
                        <span aria-hidden="true">{ mark }</span>{" "}{ n }{". "}{ &s.title }
                        if is_done { <span class="sr-only">{" (done)"}</span> }
                    </a>
                } else {
                    <span aria-disabled="true"><span aria-hidden="true">{ mark }</span>
                        {" "}{ n }{". "}{ &s.title }<span class="sr-only">{" (locked)"}</span></span>
                }
            </li>
        }
    });
    let names: Vec<String> = lesson
        .terminals
        .iter()
        .cloned()
        .chain(["host".to_string()])
        .collect();
    let tabs: Vec<TerminalTab> = names
        .iter()
        .map(|n| props.sim.for_terminal(n).shell_tab())
        .collect();
    let first_try = this
        .try_commands
        .first()
        .map(|c| props.sim.for_terminal(&c.terminal).shell_tab().key);
    let active_key = (*active).clone().or(first_try);
    let on_select = {
        let active = active.clone();
        Callback::from(move |key: String| active.set(Some(key)))
    };
    let on_open_terminal = {
        let active = active.clone();
        Callback::from(move |tab: TerminalTab| active.set(Some(tab.key)))
    };
    let kernel = if live_possible && !host_only {
        KernelAnswer::Unavailable("run the lesson on live containers to ask it".to_string())
    } else {
        KernelAnswer::NoServer
    };
    let source_switch = {
        // The choice is a new URL (Back returns to the other), which the router brings.
        let choose = |live: bool| {
            let (id, step) = (id.clone(), step);
            Callback::from(move |_| {
                go(&Route::Lesson {
                    id: id.clone(),
                    step,
                    live,
                })
            })
        };
        html! {
            <div class="sub-tabs" role="group" aria-label="where the lesson runs">
                <button class={classes!("sub-tab", (!on_live_now).then_some("current"))}
                    aria-pressed={(!on_live_now).to_string()} onclick={choose(false)}>{"Simulator"}</button>
                <button class={classes!("sub-tab", on_live_now.then_some("current"))}
                    aria-pressed={on_live_now.to_string()} disabled={host_only} onclick={choose(true)}>
                    {"Live containers"}</button>
            </div>
        }
    };
    let step_verdicts = if verdicts.0 == step {
        verdicts.1.clone()
    } else {
        Vec::new()
    };
    let step_truth = truth
        .as_ref()
        .filter(|(s, _)| *s == step)
        .map(|(_, t)| t.clone());
    let count = lesson.steps.len();
    let next = (step < count && done).then(|| Route::Lesson {
        id: id.clone(),
        step: step + 1,
        live: false,
    });
    html! {
        <div class="lesson">
            <header class="lesson-head card">
                <a href={Route::Lessons.to_hash()}>{"← All lessons"}</a>
                <h2>{ &lesson.title }</h2>
                <p class="muted">{ render_inline(&lesson.summary) }</p>
                if live_possible {
                    { source_switch }
                    if host_only {
                        <p class="muted" role="note">{"This lesson types into a root shell on the \
                            server's host, so in a class only the teacher runs it on live \
                            containers: run it here on the simulator."}</p>
                    }
                }
                <nav aria-label="steps of this lesson"><ol class="step-list">{ for step_list }</ol></nav>
            </header>
            if let (true, Some(live)) = (on_live_now, props.live.clone()) {
                <LiveLessonView lesson={lesson.clone()} {step} {live}
                    sim={props.sim.clone()} progress={props.progress.clone()} on_passed={props.on_passed.clone()} />
            } else {
            <div class="lesson-body">
                <section class="lesson-text card" aria-labelledby="step-title">
                    <h2 id="step-title" tabindex="-1">{"Step "}{ step }{": "}{ &this.title }</h2>
                    if !*ready {
                        <p class="muted" role="status">{"Setting up the lesson's machine…"}</p>
                    }
                    <StepPanel key={format!("{id}/{step}")} number={step} step={this.clone()}
                        answered={props.progress.answer(&id, step).map(str::to_string)}
                        {done} verdicts={step_verdicts} truth={step_truth} {kernel}
                        {on_answer} {on_try} />
                    <div class="step-actions">
                        <button onclick={on_reset}>{"Reset to the start of this step"}</button>
                        if let Some(next) = next {
                            <a class="button primary" href={next.to_hash()}>{"Next step →"}</a>
                        }
                    </div>
                </section>
                <section class="lesson-machine" aria-label="the lesson's machine">
                    <Terminals key={format!("terminals-{generation}")} {tabs} active={active_key}
                        {on_select} on_close={Callback::noop()} closable={false} />
                    <LessonPicture state={props.state.clone()} source={Source::Simulated(props.sim.clone())}
                        parts={lesson.picture.clone()} {on_open_terminal} />
                </section>
            </div>
            }
            <div class="sr-only" aria-live="polite" role="status">{ (*announce).clone() }</div>
        </div>
    }
}
