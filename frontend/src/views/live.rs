//! The live dashboard of this host. For now: what the backend reported about itself.

use yew::prelude::*;

use crate::connection::Connection;

/// Props of [`LiveView`].
#[derive(Properties, PartialEq)]
pub struct LiveViewProps {
    pub connection: Connection,
}

/// The Live view: the host's facts, or why live mode is not available.
#[function_component(LiveView)]
pub fn live_view(props: &LiveViewProps) -> Html {
    match &props.connection {
        Connection::Checking => html! { <p class="muted">{"Asking the isolab server…"}</p> },
        Connection::Connected(v) => html! {
            <section class="card">
                <h2>{"This host"}</h2>
                <dl class="facts">
                    <dt>{"isolab"}</dt><dd>{ &v.version }</dd>
                    <dt>{"Kernel"}</dt><dd>{ &v.kernel_release }</dd>
                    <dt>{"cgroups"}</dt><dd>{ v.cgroup_mode.to_string() }</dd>
                    <dt>{"Live containers"}</dt>
                    <dd>{
                        if v.live.available { "available".to_string() }
                        else { format!("off: {}", v.live.reason.clone().unwrap_or_default()) }
                    }</dd>
                </dl>
            </section>
        },
        Connection::TokenNeeded(why) => html! {
            <section class="card notice">
                <h2>{"A token is needed"}</h2>
                <p>{ why }</p>
                <p>{"Start the server with "}<code>{"./x run"}</code>{" (or "}<code>{"isolab serve"}</code>
                   {") and open the URL it prints. The Simulator works without a server."}</p>
            </section>
        },
        Connection::Offline(why) => html! {
            <section class="card notice">
                <h2>{"No isolab server"}</h2>
                <p>{ why }</p>
                <p>{"The Simulator works without a server."}</p>
            </section>
        },
    }
}
