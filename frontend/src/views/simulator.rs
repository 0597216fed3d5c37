//! The simulator view: a model kernel that runs in this page (in a Web Worker), with
//! no server. The same views as Live, fed by [`Source::Simulated`], plus a scenario
//! chooser.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::workbench::{restore_tabs, Workbench};
use crate::source::simulated::{DEFAULT_SCENARIO, SCENARIOS};
use crate::source::Source;
use crate::state::{Action, Severity, State};

/// Props of [`SimulatorView`].
#[derive(Properties, PartialEq)]
pub struct SimulatorViewProps {
    pub state: UseReducerHandle<State>,
    /// `None` until the simulator is built (first render).
    pub source: Option<Source>,
}

/// The Simulator view.
#[function_component(SimulatorView)]
pub fn simulator_view(props: &SimulatorViewProps) -> Html {
    let chosen = use_state(|| DEFAULT_SCENARIO.to_string());
    let Some(source) = props.source.clone() else {
        // Until the worker answers; if it cannot start, say why.
        return match props
            .state
            .log
            .iter()
            .rev()
            .find(|e| e.severity == Severity::Error)
        {
            Some(e) => html! { <p class="card notice" role="alert">{ &e.text }</p> },
            None => html! { <p class="muted">{"Starting the simulator…"}</p> },
        };
    };
    let onchange = {
        let chosen = chosen.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            chosen.set(select.value());
        })
    };
    let reset = {
        let (source, chosen, state) = (source.clone(), chosen.clone(), props.state.clone());
        Callback::from(move |_| {
            if let Source::Simulated(sim) = &source {
                let (sim, chosen, state) = (sim.clone(), chosen.clone(), state.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = sim.reset(&chosen).await {
                        state.dispatch(Action::Notice(Severity::Error, e));
                    }
                });
            }
        })
    };
    // A reset bumps the generation in the same render that clears the state, so the
    // views (and the terminal) start over at once with the new machine.
    let generation = match &source {
        Source::Simulated(sim) => sim.generation(),
        Source::Live(_) => 0,
    };
    let description = SCENARIOS
        .iter()
        .find(|(n, _)| *n == chosen.as_str())
        .map(|(_, d)| *d)
        .unwrap_or_default();
    let initial_tabs = restore_tabs(&source, None);
    html! {
        <div class="simulator">
            <section class="card scenario-bar">
                <strong>{"Simulator"}</strong>
                <span class="muted">{" · a model of the kernel's isolation rules, running in this page. "}</span>
                <label>{"Scenario "}
                    <select {onchange} aria-label="scenario" id="scenario">
                        { for SCENARIOS.iter().map(|(name, _)| html! {
                            <option value={*name} selected={*name == chosen.as_str()}>{ *name }</option>
                        }) }
                    </select>
                </label>
                <button onclick={reset} class="primary">{"Reset to scenario"}</button>
                <span class="muted">{ description }</span>
            </section>
            <Workbench key={generation} state={props.state.clone()} {source} {initial_tabs} />
        </div>
    }
}
