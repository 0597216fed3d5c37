//! The simulator view: a model kernel that runs in this page, with no server.

use yew::prelude::*;

/// The Simulator view.
#[function_component(SimulatorView)]
pub fn simulator_view() -> Html {
    html! {
        <section class="card">
            <h2>{"Simulator"}</h2>
            <p>{"A model of the kernel's isolation rules that runs in your browser, with no server: \
                 namespaces, cgroups and a shell to try them with."}</p>
        </section>
    }
}
