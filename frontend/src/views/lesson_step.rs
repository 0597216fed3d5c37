//! One lesson step's text column: the explanation, the prediction (asked first, then
//! the simulator's and the kernel's true answers side by side), the "try" buttons, "show
//! me" with the solution, and what the checks say.

use isolab_shared::lesson::judge::answer_is_right;
use isolab_shared::lesson::model::TerminalCommand;
use isolab_shared::sim_protocol::{CheckResult, StepOutline};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::markdown::{render, render_inline};

/// The kernel's side of a prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelAnswer {
    /// No isolab server is connected: only the simulator can answer.
    NoServer,
    /// A server is connected but cannot run the probe for the page yet.
    Unavailable(String),
    /// The kernel's true answer.
    Known(String),
}

/// How the simulator's and the kernel's true answers relate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Only one side answered.
    OneSide,
    /// Both answered the same (compared as answers are: trimmed, ignoring case).
    Same,
    /// They differ: a finding about the model, not an error of the student.
    Differ,
}

/// Compares the simulator's answer with the kernel's.
pub fn compare(sim: Option<&str>, kernel: &KernelAnswer) -> Comparison {
    match (sim, kernel) {
        (Some(s), KernelAnswer::Known(k)) if answer_is_right(s, k) => Comparison::Same,
        (Some(_), KernelAnswer::Known(_)) => Comparison::Differ,
        _ => Comparison::OneSide,
    }
}

/// Props of [`StepPanel`].
#[derive(Properties, PartialEq)]
pub struct StepPanelProps {
    /// 1-based.
    pub number: usize,
    pub step: StepOutline,
    /// The student's prediction, once given.
    pub answered: Option<String>,
    pub done: bool,
    /// The last verdicts of the step's checks.
    pub verdicts: Vec<CheckResult>,
    /// The simulator's true answer (after the step passed), or why there is none.
    pub truth: Option<Result<String, String>>,
    pub kernel: KernelAnswer,
    pub on_answer: Callback<String>,
    /// Types a command into its terminal.
    pub on_try: Callback<TerminalCommand>,
    /// Makes the step's `set_limits` change, where the source can (live).
    #[prop_or_default]
    pub on_set_limits: Option<Callback<()>>,
}

/// The step's text column.
#[function_component(StepPanel)]
pub fn step_panel(props: &StepPanelProps) -> Html {
    let show_solution = use_state(|| false);
    let step = &props.step;
    let waiting = step.predict.is_some() && props.answered.is_none();
    let try_buttons = step.try_commands.iter().map(|cmd| {
        html! { <li>{ command_button(cmd, "Try", waiting, &props.on_try) }</li> }
    });
    let toggle = {
        let show = show_solution.clone();
        Callback::from(move |_| show.set(!*show))
    };
    let solution = step.solution.iter().map(|cmd| {
        html! { <li>{ command_button(cmd, "Type it", false, &props.on_try) }</li> }
    });
    html! {
        <div class="step-panel">
            <div class="step-text">{ render(&step.text) }</div>
            if let Some((question, choices)) = &step.predict {
                <PredictionBox question={question.clone()} choices={choices.clone()} answered={props.answered.clone()}
                    truth={props.truth.clone()} kernel={props.kernel.clone()}
                    on_answer={props.on_answer.clone()} number={props.number} />
            }
            if !step.try_commands.is_empty() {
                <h3>{"Try"}</h3>
                if waiting {
                    <p class="muted">{"Answer the question first: then try it and see."}</p>
                }
                <ul class="try-list">{ for try_buttons }</ul>
            }
            <button class="show-me" aria-expanded={show_solution.to_string()}
                    aria-controls={format!("solution-{}", props.number)} onclick={toggle}>
                { if *show_solution { "Hide the solution" } else { "Show me" } }
            </button>
            <ul class="try-list solution" id={format!("solution-{}", props.number)} hidden={!*show_solution}>
                { for solution }
            </ul>
            if let (Some(change), Some(apply)) = (&step.set_limits, &props.on_set_limits) {
                <button class="try" disabled={waiting} onclick={apply.reform(|_: MouseEvent| ())}>
                    <span class="try-verb">{"Set limits"}</span>
                    <span class="try-where">{ &change.container }</span>
                    <code>{ limits_text(&change.limits) }</code>
                </button>
            }
            <Checks verdicts={props.verdicts.clone()} done={props.done} />
        </div>
    }
}

/// A limits change in words: `pids 64, memory 67108864 bytes`.
fn limits_text(limits: &isolab_shared::limits::Limits) -> String {
    let mut parts = Vec::new();
    if let Some(p) = limits.pids {
        parts.push(format!("pids {p}"));
    }
    if let Some(m) = limits.memory_bytes {
        parts.push(format!("memory {m} bytes"));
    }
    if let Some(c) = limits.cpus {
        parts.push(format!("cpus {c}"));
    }
    parts.join(", ")
}

/// A button that types `cmd` into its terminal.
fn command_button(
    cmd: &TerminalCommand,
    verb: &str,
    disabled: bool,
    on_try: &Callback<TerminalCommand>,
) -> Html {
    let onclick = {
        let cmd = cmd.clone();
        on_try.reform(move |_: MouseEvent| cmd.clone())
    };
    html! {
        <button class="try" {disabled} {onclick}
                aria-label={format!("{verb}: type {} into the {} terminal", cmd.run, cmd.terminal)}>
            <span class="try-verb">{ verb }</span>
            <span class="try-where">{ &cmd.terminal }</span>
            <code>{ &cmd.run }</code>
        </button>
    }
}

#[derive(Properties, PartialEq)]
struct ChecksProps {
    verdicts: Vec<CheckResult>,
    done: bool,
}

/// What the step's checks say now.
#[function_component(Checks)]
fn checks(props: &ChecksProps) -> Html {
    if props.done {
        return html! { <p class="step-state done">{"✓ Done: the machine shows it."}</p> };
    }
    html! {
        <div class="checks">
            <h3>{"Checks"}</h3>
            <ul>
                { for props.verdicts.iter().map(|v| html! {
                    <li class={classes!(if v.passed { "pass" } else { "fail" })}>
                        { if v.passed { "✓ " } else { "… " } }{ &v.reason }
                    </li>
                }) }
            </ul>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct PredictionProps {
    number: usize,
    question: String,
    /// Empty: a free answer.
    choices: Vec<String>,
    answered: Option<String>,
    truth: Option<Result<String, String>>,
    kernel: KernelAnswer,
    on_answer: Callback<String>,
}

/// The question, the student's answer, then the true answers side by side.
#[function_component(PredictionBox)]
fn prediction_box(props: &PredictionProps) -> Html {
    let draft = use_state(String::new);
    let id = format!("predict-{}", props.number);
    let Some(given) = &props.answered else {
        let onsubmit = {
            let (draft, on_answer) = (draft.clone(), props.on_answer.clone());
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                if !draft.trim().is_empty() {
                    on_answer.emit(draft.trim().to_string());
                }
            })
        };
        let choices = props.choices.iter().map(|c| {
            let pick = {
                let (draft, c) = (draft.clone(), c.clone());
                Callback::from(move |_: Event| draft.set(c.clone()))
            };
            html! {
                <label class="choice">
                    <input type="radio" name={id.clone()} value={c.clone()}
                           checked={*draft == *c} onchange={pick} />
                    <code>{ c }</code>
                </label>
            }
        });
        let typed = {
            let draft = draft.clone();
            Callback::from(move |e: InputEvent| {
                let input: HtmlInputElement = e.target_unchecked_into();
                draft.set(input.value());
            })
        };
        return html! {
            <form class="predict card" {onsubmit} aria-labelledby={format!("{id}-q")}>
                <h3 id={format!("{id}-q")}>{"Predict: "}{ render_inline(&props.question) }</h3>
                if props.choices.is_empty() {
                    <label>{"Your answer "}
                        <input type="text" value={(*draft).clone()} oninput={typed} />
                    </label>
                } else {
                    <fieldset><legend class="sr-only">{"choices"}</legend>{ for choices }</fieldset>
                }
                <button type="submit" class="primary" disabled={draft.trim().is_empty()}>{"Answer"}</button>
            </form>
        };
    };
    let sim = props.truth.as_ref().and_then(|t| t.as_ref().ok());
    let sim_text = match &props.truth {
        None => "appears when the step passes".to_string(),
        Some(Ok(t)) => t.clone(),
        Some(Err(e)) => format!("no answer: {e}"),
    };
    let kernel_text = match &props.kernel {
        KernelAnswer::NoServer => "no server".to_string(),
        KernelAnswer::Unavailable(why) => why.clone(),
        KernelAnswer::Known(k) => k.clone(),
    };
    let verdict = sim.map(|t| {
        if answer_is_right(given, t) {
            "your prediction matches the simulator"
        } else {
            "your prediction differs from the simulator"
        }
    });
    html! {
        <section class="predict card" aria-labelledby={format!("{id}-q")}>
            <h3 id={format!("{id}-q")}>{"Predict: "}{ render_inline(&props.question) }</h3>
            <table class="answers">
                <tr><th scope="row">{"your prediction"}</th><td><code>{ given }</code></td></tr>
                <tr><th scope="row">{"the simulator"}</th><td class="sim-answer"><code>{ sim_text }</code></td></tr>
                <tr><th scope="row">{"the real kernel"}</th><td class="kernel-answer">{ kernel_text }</td></tr>
            </table>
            if let Some(v) = verdict { <p class="muted">{ v }</p> }
            if compare(sim.map(String::as_str), &props.kernel) == Comparison::Differ {
                <p class="finding" role="note">
                    <strong>{"Finding: "}</strong>
                    {"the simulator and the real kernel answer differently here. The model \
                      is a simplification; the kernel's answer is the true one."}
                </p>
            }
        </section>
    }
}
