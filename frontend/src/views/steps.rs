//! Creation steps: the runtime's recorded setup steps on a timeline with durations,
//! with the container's isolation facts beside what Docker sets by default. The event
//! stream leaves both out, so they are asked of the source when a container is shown.

use isolab_shared::hardening::DOCKER_CAPABILITIES;
use isolab_shared::{ContainerSteps, IsolationFacts, SetupPhase};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::ViewProps;

fn phase_name(p: SetupPhase) -> &'static str {
    match p {
        SetupPhase::Namespaces => "namespaces",
        SetupPhase::Mounts => "mounts",
        SetupPhase::Cgroup => "cgroup",
        SetupPhase::Limits => "limits",
        SetupPhase::Security => "security",
        SetupPhase::Process => "process",
    }
}

/// Rows comparing `facts` with Docker's defaults: (what, this container, Docker).
pub fn compare_with_docker(facts: &IsolationFacts) -> Vec<(&'static str, String, String)> {
    let uid = match facts.uid_map.as_slice() {
        [] => "none (uid 0 is host root)".to_string(),
        // Host ids outside the range (host root's files) have no name inside.
        [m] if m.inside == 0 => format!(
            "root is host uids {}–{}; host-owned files show as nobody",
            m.outside,
            u64::from(m.outside) + u64::from(m.count).saturating_sub(1)
        ),
        maps => maps
            .iter()
            .map(|m| format!("{}→{} ×{}", m.inside, m.outside, m.count))
            .collect::<Vec<_>>()
            .join(", "),
    };
    vec![
        (
            "capabilities",
            format!("{} effective", facts.capabilities.len()),
            format!("{} (default set)", DOCKER_CAPABILITIES.len()),
        ),
        (
            "no_new_privs",
            facts.no_new_privs.to_string(),
            "false (unless --security-opt no-new-privileges)".into(),
        ),
        (
            "seccomp",
            seccomp_summary(facts),
            "filter (an allowlist; the rest fail with EPERM)".into(),
        ),
        (
            "devices",
            if facts.devices.is_empty() {
                "not restricted".to_string()
            } else {
                format!(
                    "{} rules: null, zero, full, random, urandom, tty, ptys",
                    facts.devices.len()
                )
            },
            "the same list, through the device cgroup".into(),
        ),
        (
            "masked paths",
            facts.masked_paths.len().to_string(),
            "11 (/proc/kcore, /proc/keys, /sys/firmware…)".into(),
        ),
        (
            "read-only paths",
            facts.readonly_paths.len().to_string(),
            "5 (/proc/sys, /proc/bus, /proc/fs, /proc/irq, /proc/sysrq-trigger)".into(),
        ),
        (
            "user namespace",
            uid,
            "none by default (userns-remap off)".into(),
        ),
    ]
}

/// The seccomp mode, with the filter's counts when there is one.
pub fn seccomp_summary(facts: &IsolationFacts) -> String {
    if facts.seccomp == "filter" && facts.seccomp_allowed > 0 {
        format!(
            "filter: {} syscalls allowed, {} blocked",
            facts.seccomp_allowed,
            facts.seccomp_blocked.len()
        )
    } else {
        facts.seccomp.clone()
    }
}

fn timeline(c: &ContainerSteps) -> Html {
    let total: u64 = c.setup.iter().map(|s| s.duration_us).sum::<u64>().max(1);
    let mut start_us = 0u64;
    let rows = c.setup.iter().enumerate().map(|(i, s)| {
        // A Gantt row: the bar starts where the previous steps ended.
        let left = start_us as f64 / total as f64 * 100.0;
        let width = (s.duration_us as f64 / total as f64 * 100.0).max(0.4);
        start_us += s.duration_us;
        html! {
            <li key={i} class={classes!("step", format!("phase-{}", phase_name(s.phase)), s.error.is_some().then_some("failed"))}>
                <span class="phase">{ phase_name(s.phase) }</span>
                <span class="step-name">{ &s.name }</span>
                <span class="bar-wrap"><span class="bar" style={format!("margin-left:{left:.2}%;width:{width:.2}%")}></span></span>
                <span class="figure">{ format!("{} µs", s.duration_us) }</span>
                <code class="call">{ &s.call }</code>
                if let Some(e) = &s.error { <span class="form-error">{ e }</span> }
            </li>
        }
    });
    html! {
        <>
            <p class="muted">{ format!("{} steps, {:.2} ms in all", c.setup.len(), total as f64 / 1000.0) }</p>
            <ol class="timeline">{ for rows }</ol>
        </>
    }
}

/// Props of [`SetupSteps`].
#[derive(Properties, PartialEq)]
pub struct StepsProps {
    pub view: ViewProps,
    /// The container to show first.
    #[prop_or_default]
    pub selected: Option<String>,
}

/// The creation-steps view.
#[function_component(SetupSteps)]
pub fn setup_steps(props: &StepsProps) -> Html {
    let choice = use_state(|| None::<String>);
    // The details of the container shown: (its id, the steps or why they are missing).
    let details = use_state(|| None::<(String, Result<ContainerSteps, String>)>);
    let containers = &props.view.state.snapshot.containers;
    let wanted = (*choice).clone().or_else(|| props.selected.clone());
    let current = wanted
        .and_then(|id| containers.iter().find(|c| c.id == id))
        .or_else(|| containers.first());
    let onchange = {
        let choice = choice.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            choice.set(Some(select.value()));
        })
    };
    {
        let details = details.clone();
        let source = props.view.source.clone();
        let shown = current.cloned();
        use_effect_with(current.map(|c| c.id.clone()), move |_| {
            if let Some(c) = shown {
                wasm_bindgen_futures::spawn_local(async move {
                    let steps = source.steps(&c).await;
                    details.set(Some((c.id, steps)));
                });
            }
        });
    }
    let Some(c) = current else {
        return html! { <section class="card"><h2>{"Creation steps"}</h2>
        <p class="muted">{"No container yet: create one to see how it was made."}</p></section> };
    };
    let steps = match &*details {
        Some((id, Ok(steps))) if *id == c.id => Ok(steps.clone()),
        Some((id, Err(e))) if *id == c.id => Err(e.clone()),
        _ => Err("Loading the steps…".to_string()),
    };
    let facts = steps
        .as_ref()
        .map(|s| s.isolation.clone())
        .unwrap_or_default();
    html! {
        <div class="steps-view">
            <section class="card">
                <div class="card-head">
                    <h2>{"Creation steps"}</h2>
                    <label>{"container "}
                        <select {onchange} aria-label="container">
                            { for containers.iter().map(|x| html! {
                                <option value={x.id.clone()} selected={x.id == c.id}>{ &x.name }</option>
                            }) }
                        </select>
                    </label>
                </div>
                { match &steps {
                    Err(why) => html! { <p class="muted">{ why }</p> },
                    Ok(s) if s.setup.is_empty() => html! { <p class="muted">{"No steps were recorded for this container."}</p> },
                    Ok(s) => timeline(s),
                } }
            </section>
            <section class="card facts-card">
                <h2>{"Isolation facts"}</h2>
                <table class="compare">
                    <thead><tr><th></th><th>{ &c.name }</th><th>{"Docker default"}</th></tr></thead>
                    <tbody>
                    { for compare_with_docker(&facts).into_iter().map(|(what, here, docker)| html! {
                        <tr><th>{ what }</th><td>{ here }</td><td class="muted">{ docker }</td></tr>
                    }) }
                    </tbody>
                </table>
                <details>
                    <summary>{ format!("{} effective capabilities", facts.capabilities.len()) }</summary>
                    <p><code>{ facts.capabilities.join(" ") }</code></p>
                </details>
                if !c.isolation.seccomp_blocked.is_empty() {
                    <details>
                        <summary>{ format!("{} syscalls the seccomp filter blocks", c.isolation.seccomp_blocked.len()) }</summary>
                        <p><code>{ c.isolation.seccomp_blocked.join(" ") }</code></p>
                    </details>
                }
                if !c.isolation.devices.is_empty() {
                    <details>
                        <summary>{"device cgroup rules"}</summary>
                        <p><code>{ c.isolation.devices.join(", ") }</code></p>
                    </details>
                }
            </section>
        </div>
    }
}
