//! The dashboard: every container with its usage history, the create dialog, actions,
//! and the events feed.

use isolab_shared::limits::format_bytes;
use isolab_shared::{ContainerSpec, ContainerState, ContainerStatus};
use yew::prelude::*;

use super::create_dialog::CreateDialog;
use super::events_feed::EventsLog;
use super::sparkline::Sparkline;
use super::ViewProps;
use crate::state::{js_now_ms, Action, Severity, State};

/// "3m 12s" for a duration in milliseconds.
pub fn format_uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn status_text(c: &ContainerState) -> String {
    match (c.status, &c.exit) {
        (ContainerStatus::Exited, Some(e)) if e.oom_killed => "OOM-killed".into(),
        (ContainerStatus::Exited, Some(e)) => e.describe(),
        (ContainerStatus::Exited, None) => "exited".into(),
        (ContainerStatus::Running, _) => "running".into(),
        (ContainerStatus::Created, _) => "created".into(),
    }
}

/// The dashboard view.
#[function_component(Dashboard)]
pub fn dashboard(props: &ViewProps) -> Html {
    let creating = use_state(|| false);
    let busy = use_state(|| false);
    let create_error = use_state(|| None::<String>);
    // Uptimes move on between events: re-render once a second.
    let refresh = use_force_update();
    {
        use_effect_with((), move |_| {
            let timer = gloo_timers::callback::Interval::new(1000, move || refresh.force_update());
            move || drop(timer)
        });
    }
    let state: &State = &props.state;

    let on_create = {
        let source = props.source.clone();
        let creating = creating.clone();
        let busy = busy.clone();
        let create_error = create_error.clone();
        Callback::from(move |spec: ContainerSpec| {
            let source = source.clone();
            let creating = creating.clone();
            let busy = busy.clone();
            let create_error = create_error.clone();
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = source.create(spec).await;
                busy.set(false);
                match result {
                    Ok(_) => {
                        create_error.set(None);
                        creating.set(false);
                    }
                    Err(e) => create_error.set(Some(e)),
                }
            });
        })
    };
    let now = if props.source.is_simulated() {
        state
            .snapshot
            .containers
            .iter()
            .map(|c| c.created_at_ms)
            .max()
            .unwrap_or(0)
    } else {
        js_now_ms()
    };
    let rows = state.snapshot.containers.iter().map(|c| {
        let history = state.history.get(&c.id);
        let series = |f: fn(&crate::state::Sample) -> f64| -> Vec<f64> {
            history.map(|h| h.iter().map(f).collect()).unwrap_or_default()
        };
        let usage = c.cgroup.clone().unwrap_or_default();
        let mem_label = format!(
            "memory {} of {}",
            usage.memory_current.map(format_bytes).unwrap_or_else(|| "?".into()),
            usage.memory_max.map(format_bytes).unwrap_or_else(|| "no limit".into())
        );
        let pids_label = format!(
            "tasks {} of {}",
            usage.pids_current.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
            usage.pids_max.map(|p| p.to_string()).unwrap_or_else(|| "no limit".into())
        );
        let cpu_now = history.and_then(|h| h.back()).map(|s| s.cpu_percent).unwrap_or(0.0);
        let uptime = match (c.status, c.started_at_ms) {
            (ContainerStatus::Running, Some(t)) => format_uptime(now.saturating_sub(t)),
            _ => "—".to_string(),
        };
        let running = c.status == ContainerStatus::Running;
        let act = |label: &'static str, what: fn(crate::source::Source, String) -> futures::future::LocalBoxFuture<'static, Result<(), String>>| {
            let source = props.source.clone();
            let state = props.state.clone();
            let id = c.id.clone();
            let name = c.name.clone();
            let onclick = Callback::from(move |_| {
                let (source, state, id, name) = (source.clone(), state.clone(), id.clone(), name.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = what(source, id).await {
                        state.dispatch(Action::Notice(Severity::Error, format!("{label} {name}: {e}")));
                    }
                });
            });
            html! { <button class={classes!("act", format!("act-{}", label.to_lowercase()))} {onclick}
                            aria-label={format!("{label} {}", c.name)}>{ label }</button> }
        };
        let exec = {
            let source = props.source.clone();
            let state = props.state.clone();
            let open = props.on_open_terminal.clone();
            let (id, name) = (c.id.clone(), c.name.clone());
            Callback::from(move |_| {
                let (source, state, open, id, name) = (source.clone(), state.clone(), open.clone(), id.clone(), name.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    match source.exec(&id, &name).await {
                        Ok(tab) => open.emit(tab),
                        Err(e) => state.dispatch(Action::Notice(Severity::Error, format!("exec in {name}: {e}"))),
                    }
                });
            })
        };
        let terminal = {
            let tab = props.source.terminal(&c.id, &c.name);
            let open = props.on_open_terminal.clone();
            Callback::from(move |_| open.emit(tab.clone()))
        };
        let steps = {
            let show = props.on_show_steps.clone();
            let id = c.id.clone();
            Callback::from(move |_| show.emit(id.clone()))
        };
        html! {
            <tr key={c.id.clone()} class={classes!("container-row", format!("status-{}", status_text(c).split(' ').next().unwrap_or("")))}
                data-id={c.id.clone()}>
                <td><strong class="cname">{ &c.name }</strong><br/><code class="muted">{ &c.id }</code></td>
                <td class="status">{ status_text(c) }</td>
                <td><code>{ &c.spec.image }</code><br/><code class="muted">{ c.spec.command.join(" ") }</code></td>
                <td class="pid1">{ c.init_pid.map(|p| p.to_string()).unwrap_or_else(|| "—".into()) }</td>
                <td>{ uptime }</td>
                <td><Sparkline values={series(|s| s.cpu_percent)} label={format!("cpu {cpu_now:.0}%")} />
                    <span class="figure">{ format!("{cpu_now:.0}%") }</span></td>
                <td><Sparkline values={series(|s| s.memory_bytes)} max={usage.memory_max.map(|m| m as f64)} label={mem_label.clone()} />
                    <span class="figure">{ usage.memory_current.map(format_bytes).unwrap_or_default() }</span></td>
                <td><Sparkline values={series(|s| s.pids)} max={usage.pids_max.map(|m| m as f64)} label={pids_label} />
                    <span class="figure">{ usage.pids_current.map(|p| p.to_string()).unwrap_or_default() }</span></td>
                <td class="actions">
                    if running {
                        <button class="act act-terminal" onclick={terminal} aria-label={format!("terminal of {}", c.name)}>{"Terminal"}</button>
                        <button class="act act-exec" onclick={exec} aria-label={format!("exec a shell in {}", c.name)}>{"Exec"}</button>
                        { act("Stop", |s, id| Box::pin(async move { s.stop(&id).await })) }
                        { act("Kill", |s, id| Box::pin(async move { s.kill(&id).await })) }
                    }
                    { act("Remove", |s, id| Box::pin(async move { s.remove(&id).await })) }
                    <button class="act act-steps" onclick={steps} aria-label={format!("creation steps of {}", c.name)}>{"Steps"}</button>
                </td>
            </tr>
        }
    });
    let open_create = {
        let creating = creating.clone();
        Callback::from(move |_| creating.set(true))
    };
    let cancel = {
        let creating = creating.clone();
        let create_error = create_error.clone();
        Callback::from(move |_| {
            create_error.set(None);
            creating.set(false);
        })
    };
    let host = &state.snapshot.host;
    html! {
        <div class="dashboard">
            <section class="card">
                <div class="card-head">
                    <h2>{"Containers"}</h2>
                    <span class="muted">{ format!("host {} · kernel {} · {} processes",
                        host.hostname, host.kernel_release, host.process_count) }</span>
                    <button class="primary" onclick={open_create} disabled={*creating}>{"New container…"}</button>
                </div>
                if *creating {
                    <CreateDialog {on_create} on_cancel={cancel} error={(*create_error).clone()} busy={*busy} />
                }
                if state.snapshot.containers.is_empty() {
                    <p class="muted empty">{"No containers yet. Create one to see its namespaces, cgroup and setup steps."}</p>
                } else {
                    <div class="table-scroll">
                    <table class="containers">
                        <thead><tr>
                            <th>{"Name"}</th><th>{"Status"}</th><th>{"Image · command"}</th><th>{"PID 1 (host)"}</th>
                            <th>{"Uptime"}</th><th>{"CPU"}</th><th>{"Memory"}</th><th>{"Tasks"}</th><th>{"Actions"}</th>
                        </tr></thead>
                        <tbody>{ for rows }</tbody>
                    </table>
                    </div>
                }
            </section>
            <EventsLog state={props.state.clone()} />
        </div>
    }
}
