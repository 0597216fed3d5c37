//! [`TerminalGrid`]: every student's running container's terminal, small and live in
//! view mode. One can be enlarged; typing into it needs "Take control", which
//! re-attaches without view mode (the server then tells the student).

use isolab_shared::{ContainerState, ContainerStatus};
use yew::prelude::*;

use crate::source::{TerminalTab, TerminalTarget};
use crate::terminal::TerminalPane;

/// One student's container in the grid.
#[derive(Clone, PartialEq)]
pub struct GridEntry {
    pub id: String,
    /// "student · container".
    pub title: String,
}

/// The students' running containers, titled with their owner's name (`name_of`).
pub fn grid_entries(
    containers: &[ContainerState],
    name_of: impl Fn(&str) -> Option<String>,
) -> Vec<GridEntry> {
    containers
        .iter()
        .filter(|c| c.status == ContainerStatus::Running)
        .filter_map(|c| {
            let owner = name_of(c.owner.as_deref()?)?;
            Some(GridEntry {
                id: c.id.clone(),
                title: format!("{owner} · {}", c.name),
            })
        })
        .collect()
}

/// Props of [`TerminalGrid`].
#[derive(Properties, PartialEq)]
pub struct TerminalGridProps {
    pub entries: Vec<GridEntry>,
    pub token: Option<String>,
}

fn tab(prefix: &str, entry: &GridEntry, token: &Option<String>) -> TerminalTab {
    TerminalTab {
        key: format!("{prefix}-{}", entry.id),
        title: entry.title.clone(),
        target: TerminalTarget::Live {
            path: format!("/api/v1/containers/{}/terminal", entry.id),
            token: token.clone(),
        },
    }
}

/// The grid, with one terminal enlarged at a time.
#[function_component(TerminalGrid)]
pub fn terminal_grid(props: &TerminalGridProps) -> Html {
    let enlarged = use_state(|| None::<String>);
    let control = use_state(|| false);
    let focus = (*enlarged)
        .as_ref()
        .and_then(|id| props.entries.iter().find(|e| &e.id == id))
        .cloned();
    let focused_id = focus.as_ref().map(|f| f.id.clone());
    let tiles = props.entries.iter().map(|e| {
        let open = {
            let (enlarged, control, id) = (enlarged.clone(), control.clone(), e.id.clone());
            Callback::from(move |_: MouseEvent| {
                control.set(false);
                enlarged.set(Some(id.clone()));
            })
        };
        let current = focused_id.as_deref() == Some(e.id.as_str());
        html! {
            <div key={e.id.clone()} class={classes!("grid-tile", current.then_some("current"))} data-id={e.id.clone()}
                 onclick={open.clone()}>
                <button class="grid-title" onclick={open} aria-label={format!("enlarge {}", e.title)}>{ &e.title }</button>
                <TerminalPane tab={tab("grid", e, &props.token)} read_only=true compact=true />
            </div>
        }
    });
    let focused = focus.map(|e| {
        let taking = *control;
        let toggle = {
            let control = control.clone();
            Callback::from(move |_| control.set(!taking))
        };
        let close = {
            let (enlarged, control) = (enlarged.clone(), control.clone());
            Callback::from(move |_| {
                control.set(false);
                enlarged.set(None);
            })
        };
        html! {
            <section class="card grid-focus" aria-label={format!("{}, enlarged", e.title)}>
                <div class="grid-focus-head">
                    <h3>{ &e.title }</h3>
                    <span class="muted" aria-live="polite">
                        { if taking { "You control this terminal: the student sees a notice." } else { "View only." } }
                    </span>
                    <button class={classes!(taking.then_some("danger"))} aria-pressed={taking.to_string()} onclick={toggle}>
                        { if taking { "Give back control" } else { "Take control" } }
                    </button>
                    <button onclick={close}>{"Close"}</button>
                </div>
                <TerminalPane tab={tab("focus", &e, &props.token)} read_only={!taking} />
            </section>
        }
    });
    html! {
        <section class="card terminal-grid-card">
            <h2>{"Students' terminals"}</h2>
            if props.entries.is_empty() {
                <p class="muted">{"No student has a running container yet."}</p>
            }
            { for focused }
            <div class="terminal-grid">{ for tiles }</div>
        </section>
    }
}
