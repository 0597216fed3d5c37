//! The live view of this host: why live mode is off (and the simulator offered), or
//! the workbench fed by the backend's event stream.

use yew::prelude::*;

use super::workbench::{restore_tabs, Workbench};
use crate::connection::Connection;
use crate::source::Source;
use crate::state::State;

/// Props of [`LiveView`].
#[derive(Properties, PartialEq)]
pub struct LiveViewProps {
    pub connection: Connection,
    pub state: UseReducerHandle<State>,
    /// Set once the backend answered.
    #[prop_or_default]
    pub source: Option<Source>,
    #[prop_or_default]
    pub token: Option<String>,
    /// Switches to the Simulator tab.
    pub on_simulator: Callback<()>,
}

/// The Live view.
#[function_component(LiveView)]
pub fn live_view(props: &LiveViewProps) -> Html {
    let try_sim = props.on_simulator.reform(|_: MouseEvent| ());
    let offer = html! {
        <p><button class="primary" onclick={try_sim}>{"Open the simulator"}</button>
           {" It runs in this page and needs no server."}</p>
    };
    match &props.connection {
        Connection::Checking => html! { <p class="muted">{"Asking the isolab server…"}</p> },
        Connection::Connected(v) => {
            let Some(source) = props.source.clone() else {
                return html! { <p class="muted">{"Connecting to the event stream…"}</p> };
            };
            let initial_tabs = restore_tabs(&source, props.token.clone());
            html! {
                <>
                    <section class="card host-facts">
                        <h2>{"This host"}</h2>
                        <dl class="facts inline">
                            <dt>{"isolab"}</dt><dd>{ &v.version }</dd>
                            <dt>{"Kernel"}</dt><dd>{ &v.kernel_release }</dd>
                            <dt>{"cgroups"}</dt><dd>{ v.cgroup_mode.to_string() }</dd>
                            <dt>{"Live containers"}</dt>
                            <dd>{ if v.live.available { "available" } else { "off" } }</dd>
                        </dl>
                    </section>
                    if !v.live.available {
                        <section class="card notice live-off">
                            <h2>{"Live containers are off on this server"}</h2>
                            <p>{ v.live.reason.clone().unwrap_or_else(|| "the server did not say why".into()) }</p>
                            { offer }
                        </section>
                    }
                    <Workbench state={props.state.clone()} {source} {initial_tabs} />
                </>
            }
        }
        Connection::TokenNeeded(why) => html! {
            <section class="card notice">
                <h2>{"A token is needed"}</h2>
                <p>{ why }</p>
                <p>{"Start the server with "}<code>{"./x run"}</code>{" (or "}<code>{"isolab serve"}</code>
                   {") and open the URL it prints."}</p>
                { offer }
            </section>
        },
        Connection::Offline(why) => html! {
            <section class="card notice">
                <h2>{"No isolab server"}</h2>
                <p>{ why }</p>
                { offer }
            </section>
        },
    }
}
