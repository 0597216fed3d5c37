//! The container table of the dashboard: a filter box, one page of rows at a time, and
//! the pager. Only one page is drawn, so 500 containers cost what 25 do; the filter
//! matches name, id, status and image, ignoring case.

use isolab_shared::limits::format_bytes;
use isolab_shared::{ContainerState, ContainerStatus};
use yew::prelude::*;

use super::sparkline::Sparkline;
use super::workbench::ShowRecordings;
use super::ViewProps;
use crate::state::{js_now_ms, Action, Severity};

/// Rows drawn per page.
pub const PAGE_SIZE: usize = 25;

/// "3m 12s" for a duration in milliseconds.
pub fn format_uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The status as the table shows it ("running", "OOM-killed", "exited (code 1)").
pub fn status_text(c: &ContainerState) -> String {
    match (c.status, &c.exit) {
        (ContainerStatus::Exited, Some(e)) if e.oom_killed => "OOM-killed".into(),
        (ContainerStatus::Exited, Some(e)) => e.describe(),
        (ContainerStatus::Exited, None) => "exited".into(),
        (ContainerStatus::Running, _) => "running".into(),
        (ContainerStatus::Created, _) => "created".into(),
    }
}

/// True when the container's name, id, status or image contains `query`, ignoring case
/// (an empty or blank query matches everything).
pub fn container_matches(c: &ContainerState, query: &str) -> bool {
    let needle = query.trim().to_lowercase();
    needle.is_empty()
        || [&c.name, &c.id, &status_text(c), &c.spec.image]
            .iter()
            .any(|field| field.to_lowercase().contains(&needle))
}

/// The containers the filter keeps, in the snapshot's order.
pub fn filter_containers<'a>(all: &'a [ContainerState], query: &str) -> Vec<&'a ContainerState> {
    all.iter().filter(|c| container_matches(c, query)).collect()
}

/// The filter box, one page of the table, and the pager.
#[function_component(ContainerList)]
pub fn container_list(props: &ViewProps) -> Html {
    let query = use_state(String::new);
    let page = use_state(|| 0usize);
    let show_recordings = use_context::<ShowRecordings>();
    // Uptimes move on between events: re-render once a second (only one page is drawn).
    let refresh = use_force_update();
    use_effect_with((), move |_| {
        let timer = gloo_timers::callback::Interval::new(1000, move || refresh.force_update());
        move || drop(timer)
    });
    let containers = &props.state.snapshot.containers;
    let shown = filter_containers(containers, &query);
    let pages = shown.len().div_ceil(PAGE_SIZE).max(1);
    // The list may have shrunk under the page the user was on.
    let current = (*page).min(pages - 1);
    let oninput = {
        let (query, page) = (query.clone(), page.clone());
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                query.set(input.value());
                page.set(0);
            }
        })
    };
    let go = |to: usize| {
        let page = page.clone();
        Callback::from(move |_: MouseEvent| page.set(to))
    };
    let now = if props.source.is_simulated() {
        containers
            .iter()
            .map(|c| c.created_at_ms)
            .max()
            .unwrap_or(0)
    } else {
        js_now_ms()
    };
    let first = current * PAGE_SIZE;
    let rows = shown
        .iter()
        .enumerate()
        .skip(first)
        .take(PAGE_SIZE)
        .map(|(i, c)| container_row(props, c, now, i + 2, show_recordings.clone()));
    html! {
        <>
            <div class="list-tools">
                // The input sits inside its label: two workbenches may share the page, so no ids.
                <label class="filter-label">{"Filter containers "}
                    <input class="container-filter" type="search" placeholder="name, id, status or image"
                           value={(*query).clone()} {oninput} />
                </label>
                <span class="muted filter-count" aria-live="polite">
                    { format!("{} of {}", shown.len(), containers.len()) }
                </span>
            </div>
            <div class="table-scroll">
            <table class="containers" aria-label="containers" aria-rowcount={(shown.len() + 1).to_string()}>
                <thead><tr aria-rowindex="1">
                    <th scope="col">{"Name"}</th><th scope="col">{"Status"}</th><th scope="col">{"Image · command"}</th>
                    <th scope="col">{"PID 1 (host)"}</th><th scope="col">{"Uptime"}</th><th scope="col">{"CPU"}</th>
                    <th scope="col">{"Memory"}</th><th scope="col">{"Tasks"}</th><th scope="col">{"Actions"}</th>
                </tr></thead>
                <tbody>
                    { for rows }
                    if shown.is_empty() {
                        <tr class="no-match"><td colspan="9" class="muted">
                            { format!("No container matches \u{201c}{}\u{201d}.", query.trim()) }
                        </td></tr>
                    }
                </tbody>
            </table>
            </div>
            if pages > 1 {
                <nav class="pager" aria-label="container pages">
                    <button class="page-prev" aria-label="previous page" disabled={current == 0}
                            onclick={go(current.saturating_sub(1))}>{"‹ Previous"}</button>
                    <span class="page-of">{ format!("Page {} of {pages}", current + 1) }</span>
                    <button class="page-next" aria-label="next page" disabled={current + 1 >= pages}
                            onclick={go(current + 1)}>{"Next ›"}</button>
                </nav>
            }
        </>
    }
}

/// One container's row; `row_index` is its 1-based position among the table's rows
/// (the head is 1), so a screen reader knows where a page sits in the whole list.
fn container_row(
    props: &ViewProps,
    c: &ContainerState,
    now: u64,
    row_index: usize,
    show_recordings: Option<ShowRecordings>,
) -> Html {
    let state = &props.state;
    let history = state.history.get(&c.id);
    let series = |f: fn(&crate::state::Sample) -> f64| -> Vec<f64> {
        history
            .map(|h| h.iter().map(f).collect())
            .unwrap_or_default()
    };
    let usage = c.cgroup.clone().unwrap_or_default();
    let mem_label = format!(
        "memory {} of {}",
        usage
            .memory_current
            .map(format_bytes)
            .unwrap_or_else(|| "?".into()),
        usage
            .memory_max
            .map(format_bytes)
            .unwrap_or_else(|| "no limit".into())
    );
    let pids_label = format!(
        "tasks {} of {}",
        usage
            .pids_current
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into()),
        usage
            .pids_max
            .map(|p| p.to_string())
            .unwrap_or_else(|| "no limit".into())
    );
    let cpu_now = history
        .and_then(|h| h.back())
        .map(|s| s.cpu_percent)
        .unwrap_or(0.0);
    let uptime = match (c.status, c.started_at_ms) {
        (ContainerStatus::Running, Some(t)) => format_uptime(now.saturating_sub(t)),
        _ => "—".to_string(),
    };
    let running = c.status == ContainerStatus::Running;
    let act = |label: &'static str,
               what: fn(
        crate::source::Source,
        String,
    ) -> futures::future::LocalBoxFuture<'static, Result<(), String>>| {
        let source = props.source.clone();
        let state = props.state.clone();
        let id = c.id.clone();
        let name = c.name.clone();
        let onclick = Callback::from(move |_| {
            let (source, state, id, name) =
                (source.clone(), state.clone(), id.clone(), name.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = what(source, id).await {
                    state.dispatch(Action::Notice(
                        Severity::Error,
                        format!("{label} {name}: {e}"),
                    ));
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
            let (source, state, open, id, name) = (
                source.clone(),
                state.clone(),
                open.clone(),
                id.clone(),
                name.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match source.exec(&id, &name).await {
                    Ok(tab) => open.emit(tab),
                    Err(e) => state.dispatch(Action::Notice(
                        Severity::Error,
                        format!("exec in {name}: {e}"),
                    )),
                }
            });
        })
    };
    let terminal = {
        let tab = props.source.terminal(&c.id, &c.name);
        let open = props.on_open_terminal.clone();
        Callback::from(move |_| open.emit(tab.clone()))
    };
    // A live workbench gives the way to a container's recordings.
    let recordings = show_recordings
        .filter(|_| !props.source.is_simulated())
        .map(|show| {
            let id = c.id.clone();
            Callback::from(move |_| show.0.emit(id.clone()))
        });
    let steps = {
        let show = props.on_show_steps.clone();
        let id = c.id.clone();
        Callback::from(move |_| show.emit(id.clone()))
    };
    html! {
        <tr key={c.id.clone()} class={classes!("container-row", format!("status-{}", status_text(c).split(' ').next().unwrap_or("")))}
            data-id={c.id.clone()} aria-rowindex={row_index.to_string()}>
            <td><strong class="cname">{ &c.name }</strong><br/><code class="muted">{ &c.id }</code></td>
            <td class="status">{ status_text(c) }</td>
            <td><code>{ &c.spec.image }</code><br/><code class="muted">{ c.spec.command.join(" ") }</code></td>
            <td class="pid1">{ c.init_pid.map(|p| p.to_string()).unwrap_or_else(|| "—".into()) }</td>
            <td>{ uptime }</td>
            <td><Sparkline values={series(|s| s.cpu_percent)} label={format!("cpu {cpu_now:.0}%")} />
                <span class="figure">{ format!("{cpu_now:.0}%") }</span></td>
            <td><Sparkline values={series(|s| s.memory_bytes)} max={usage.memory_max.map(|m| m as f64)} label={mem_label} />
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
                if let Some(onclick) = recordings {
                    <button class="act act-recording" {onclick} aria-label={format!("recordings of {}", c.name)}>{"Recording"}</button>
                }
            </td>
        </tr>
    }
}
