//! The sub-views of one source, switched by tabs: Dashboard, Namespace map,
//! Containers vs VMs, Creation steps, Terminals, and on a live server Recordings (the
//! player, fetched on demand). A container's row opens its recordings through the
//! [`ShowRecordings`] context.

use yew::prelude::*;

use super::dashboard::Dashboard;
use super::events_feed::Notifications;
use super::map::NamespaceMap;
use super::steps::SetupSteps;
use super::terminals::{save_tabs, saved_tabs, Terminals};
use super::vms::VmCompare;
use super::ViewProps;
use crate::on_demand::OnDemand;
use crate::source::{Source, TerminalTab, TerminalTarget};
use crate::state::State;

/// The sub-views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubView {
    Dashboard,
    Map,
    Vms,
    Steps,
    Terminals,
    /// Terminal recordings and their player (a live server's only).
    Recordings,
}

/// Opens the recordings of a container (by id); given by the live workbench.
#[derive(Clone, PartialEq)]
pub struct ShowRecordings(pub Callback<String>);

impl SubView {
    /// Every sub-view, in tab order.
    pub const ALL: [SubView; 6] = [
        SubView::Dashboard,
        SubView::Map,
        SubView::Vms,
        SubView::Steps,
        SubView::Terminals,
        SubView::Recordings,
    ];

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            SubView::Dashboard => "Dashboard",
            SubView::Map => "Namespace map",
            SubView::Vms => "Containers vs VMs",
            SubView::Steps => "Creation steps",
            SubView::Terminals => "Terminals",
            SubView::Recordings => "Recordings",
        }
    }
}

/// Props of [`Workbench`].
#[derive(Properties, PartialEq)]
pub struct WorkbenchProps {
    pub state: UseReducerHandle<State>,
    pub source: Source,
    /// Tabs to open at start (saved live terminals, the simulated shell).
    #[prop_or_default]
    pub initial_tabs: Vec<TerminalTab>,
}

/// The live token of a source's terminal tabs, to restore saved tabs.
pub fn restore_tabs(source: &Source, token: Option<String>) -> Vec<TerminalTab> {
    match source {
        Source::Live(_) => saved_tabs(token),
        Source::Simulated(s) => vec![s.shell_tab()],
    }
}

/// One source's views.
#[function_component(Workbench)]
pub fn workbench(props: &WorkbenchProps) -> Html {
    let sub = use_state(|| SubView::Dashboard);
    let tabs = use_state(|| props.initial_tabs.clone());
    let active_tab = use_state(|| None::<String>);
    let steps_for = use_state(|| None::<String>);
    // Whose recordings show (`None`: all), and a count that remounts the list.
    let recordings_for = use_state(|| (None::<String>, 0u32));

    let live = !props.source.is_simulated();
    // Close live tabs whose container is gone (a removed container's socket would retry forever).
    {
        let tabs = tabs.clone();
        let ids: Vec<String> = props
            .state
            .snapshot
            .containers
            .iter()
            .map(|c| c.id.clone())
            .collect();
        let ready = props.state.snapshot.seq > 0 || !props.state.snapshot.containers.is_empty();
        use_effect_with((ids, ready), move |(ids, ready)| {
            if live && *ready {
                let keep: Vec<TerminalTab> = tabs
                    .iter()
                    .filter(|t| match &t.target {
                        TerminalTarget::Live { path, .. } => ids
                            .iter()
                            .any(|id| path.contains(&format!("/containers/{id}/"))),
                        TerminalTarget::Simulated(_) => true,
                    })
                    .cloned()
                    .collect();
                if keep.len() != tabs.len() {
                    save_tabs(&keep);
                    tabs.set(keep);
                }
            }
        });
    }

    let on_open_terminal = {
        let (tabs, active_tab, sub) = (tabs.clone(), active_tab.clone(), sub.clone());
        Callback::from(move |tab: TerminalTab| {
            let mut list = (*tabs).clone();
            if !list.iter().any(|t| t.key == tab.key) {
                list.push(tab.clone());
                save_tabs(&list);
                tabs.set(list);
            }
            active_tab.set(Some(tab.key));
            sub.set(SubView::Terminals);
        })
    };
    let on_show_steps = {
        let (steps_for, sub) = (steps_for.clone(), sub.clone());
        Callback::from(move |id: String| {
            steps_for.set(Some(id));
            sub.set(SubView::Steps);
        })
    };
    let show_recordings = {
        let (recordings_for, sub) = (recordings_for.clone(), sub.clone());
        ShowRecordings(Callback::from(move |id: String| {
            recordings_for.set((Some(id), recordings_for.1 + 1));
            sub.set(SubView::Recordings);
        }))
    };
    let on_select = {
        let active_tab = active_tab.clone();
        Callback::from(move |key: String| active_tab.set(Some(key)))
    };
    let on_close = {
        let tabs = tabs.clone();
        Callback::from(move |key: String| {
            let list: Vec<TerminalTab> = tabs.iter().filter(|t| t.key != key).cloned().collect();
            save_tabs(&list);
            tabs.set(list);
        })
    };
    let view = ViewProps {
        state: props.state.clone(),
        source: props.source.clone(),
        on_open_terminal,
        on_show_steps,
    };
    let nav = SubView::ALL.iter().filter(|&&v| live || v != SubView::Recordings).map(|&v| {
        let sub = sub.clone();
        let current = *sub == v;
        let recordings_for = recordings_for.clone();
        let onclick = Callback::from(move |_| {
            if v == SubView::Recordings && *sub != v {
                recordings_for.set((None, recordings_for.1 + 1));
            }
            sub.set(v)
        });
        let count = if v == SubView::Terminals && !tabs.is_empty() {
            format!(" ({})", tabs.len())
        } else {
            String::new()
        };
        html! {
            <button class={classes!("sub-tab", current.then_some("current"))}
                    aria-current={current.then_some("page")} {onclick}>{ v.label() }{ count }</button>
        }
    });
    let body = match *sub {
        SubView::Dashboard => html! { <Dashboard view={view.clone()} /> },
        SubView::Map => html! { <NamespaceMap ..view.clone() /> },
        SubView::Vms => html! { <VmCompare ..view.clone() /> },
        SubView::Steps => {
            html! { <SetupSteps view={view.clone()} selected={(*steps_for).clone()} /> }
        }
        SubView::Terminals => html! {},
        SubView::Recordings => match &props.source {
            Source::Live(l) => {
                let (container, n) = (*recordings_for).clone();
                html! { <OnDemand key={n.to_string()} view="recordings" token={l.token()} arg={container} /> }
            }
            Source::Simulated(_) => html! {},
        },
    };
    html! {
        <ContextProvider<ShowRecordings> context={show_recordings}>
        <div class="workbench">
            <nav class="sub-tabs" aria-label="views of this source">{ for nav }</nav>
            <Notifications state={props.state.clone()} />
            { body }
            // Terminals stay mounted (hidden) so their screens and sockets survive view switches.
            <div hidden={*sub != SubView::Terminals}>
                <Terminals tabs={(*tabs).clone()} active={(*active_tab).clone()} {on_select} {on_close} />
            </div>
        </div>
        </ContextProvider<ShowRecordings>>
    }
}
