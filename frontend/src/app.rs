//! The frame of the app: header, navigation, connection status and the chosen view.

use yew::prelude::*;

use crate::connection::{check_backend, take_token, Connection};
use crate::views::{ConnectionBadge, LearnView, LiveView, SimulatorView};

/// The views a person can switch between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Live,
    Simulator,
    Learn,
}

impl Tab {
    /// Every tab, in navigation order.
    pub const ALL: [Tab; 3] = [Tab::Live, Tab::Simulator, Tab::Learn];

    /// The label in the navigation bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Simulator => "Simulator",
            Tab::Learn => "Learn",
        }
    }
}

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    let tab = use_state(|| Tab::Live);
    let connection = use_state(|| Connection::Checking);
    {
        let connection = connection.clone();
        use_effect_with((), move |_| {
            let token = take_token();
            wasm_bindgen_futures::spawn_local(async move {
                connection.set(check_backend(token).await);
            });
        });
    }
    let nav = Tab::ALL.iter().map(|&t| {
        let tab_handle = tab.clone();
        let onclick = Callback::from(move |_| tab_handle.set(t));
        let current = *tab == t;
        html! {
            <button class={classes!("nav-tab", current.then_some("current"))}
                    aria-current={current.then_some("page")}
                    {onclick}>{ t.label() }</button>
        }
    });
    let body = match *tab {
        Tab::Live => html! { <LiveView connection={(*connection).clone()} /> },
        Tab::Simulator => html! { <SimulatorView /> },
        Tab::Learn => html! { <LearnView /> },
    };
    html! {
        <div class="frame">
            <header class="top">
                <h1 class="brand">{"isolab"}</h1>
                <nav class="tabs" aria-label="views">{ for nav }</nav>
                <ConnectionBadge connection={(*connection).clone()} />
            </header>
            <main class="view">{ body }</main>
        </div>
    }
}
