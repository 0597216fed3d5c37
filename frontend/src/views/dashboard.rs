//! The dashboard: the container list ([`super::container_list`]: filter, pages, usage
//! history, actions), the create dialog, and the events feed.

use isolab_shared::ContainerSpec;
use yew::prelude::*;

use super::container_list::ContainerList;
use super::create_dialog::CreateDialog;
use super::events_feed::EventsLog;
use super::ViewProps;
use crate::state::State;

/// Props of [`Dashboard`].
#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    pub view: ViewProps,
    /// Offers "New container…" (a lesson on live containers shows only its own, so it
    /// makes none there).
    #[prop_or(true)]
    pub can_create: bool,
}

/// The dashboard view.
#[function_component(Dashboard)]
pub fn dashboard(dashboard: &DashboardProps) -> Html {
    let (props, can_create) = (&dashboard.view, dashboard.can_create);
    let creating = use_state(|| false);
    let busy = use_state(|| false);
    let create_error = use_state(|| None::<String>);
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
                    if can_create {
                        <button class="primary" onclick={open_create} disabled={*creating}>{"New container…"}</button>
                    }
                </div>
                if *creating {
                    <CreateDialog {on_create} on_cancel={cancel} error={(*create_error).clone()} busy={*busy} />
                }
                if state.snapshot.containers.is_empty() {
                    <p class="muted empty">{"No containers yet. Create one to see its namespaces, cgroup and setup steps."}</p>
                } else {
                    <ContainerList ..props.clone() />
                }
            </section>
            <EventsLog state={props.state.clone()} />
        </div>
    }
}
