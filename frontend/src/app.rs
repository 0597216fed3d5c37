//! The frame of the app: header, navigation, connection status and the chosen view.
//! It owns both sources and their states, so switching views keeps them running.
//! The Lessons tab comes from the module fetched on demand, the first time it opens,
//! and follows the URL by itself (`crate::extra_views`). [`Root`] shows the join page
//! instead at `/join/CODE`; in a class, the teacher gets a Classroom tab and a student
//! the class bar above every view.

use yew::prelude::*;

use isolab_shared::ClassRole;

use crate::connection::{check_backend, join_code_in_path, take_token, Connection};
use crate::on_demand::OnDemand;
use crate::route::{go, use_route, Route};
use crate::source::classroom::ClassroomApi;
use crate::source::{simulated::DEFAULT_SCENARIO, LiveSource, SimSource, Source};
use crate::state::{Action, Severity, State, StreamStatus};
use crate::views::{ConnectionBadge, LiveView, SimulatorView};

/// The views a person can switch between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Live,
    Simulator,
    Lessons,
    /// The teacher's view of a class (only shown in one).
    Classroom,
}

impl Tab {
    /// Every tab, in navigation order.
    pub const ALL: [Tab; 3] = [Tab::Live, Tab::Simulator, Tab::Lessons];

    /// The label in the navigation bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Simulator => "Simulator",
            Tab::Lessons => "Lessons",
            Tab::Classroom => "Classroom",
        }
    }

    /// The tab a route belongs to.
    pub fn of(route: &Route) -> Tab {
        match route {
            Route::Live => Tab::Live,
            Route::Simulator => Tab::Simulator,
            Route::Lessons | Route::Lesson { .. } => Tab::Lessons,
            Route::Classroom => Tab::Classroom,
        }
    }

    /// Where the tab's button goes.
    pub fn route(self) -> Route {
        match self {
            Tab::Live => Route::Live,
            Tab::Simulator => Route::Simulator,
            Tab::Lessons => Route::Lessons,
            Tab::Classroom => Route::Classroom,
        }
    }
}

/// The stream status as a short text for the header.
pub fn stream_text(status: &StreamStatus) -> Option<String> {
    match status {
        StreamStatus::Idle | StreamStatus::Simulated => None,
        StreamStatus::Connecting => Some("events: connecting…".into()),
        StreamStatus::Open => Some("events: live".into()),
        StreamStatus::Reconnecting { attempt, retry_ms } => Some(format!(
            "events: lost, retry {attempt} in {:.1} s",
            *retry_ms as f64 / 1000.0
        )),
    }
}

/// The page's root: the join form at `/join/CODE`, the app anywhere else.
#[function_component(Root)]
pub fn root() -> Html {
    match join_code_in_path() {
        // The join page comes with the views fetched on demand.
        Some(code) => html! { <OnDemand view="join" token={None::<String>} arg={code} /> },
        None => html! { <App /> },
    }
}

/// The app.
#[function_component(App)]
pub fn app() -> Html {
    let route = use_route(Route::Live);
    let tab = Tab::of(&route);
    let connection = use_state(|| Connection::Checking);
    let token = use_state(|| None::<String>);
    let live_state = use_reducer(State::default);
    let sim_state = use_reducer(State::default);
    let live_source = use_state(|| None::<Source>);
    let sim_source = use_state(|| None::<Source>);
    let class_role = use_state(|| None::<ClassRole>);
    {
        let (connection, token, live_source) =
            (connection.clone(), token.clone(), live_source.clone());
        let class_role = class_role.clone();
        let dispatcher = live_state.dispatcher();
        use_effect_with((), move |_| {
            let t = take_token();
            token.set(t.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = check_backend(t.clone()).await;
                if matches!(answer, Connection::Connected(_)) {
                    let dispatch = Callback::from(move |a: Action| dispatcher.dispatch(a));
                    live_source.set(Some(Source::Live(LiveSource::start(t.clone(), dispatch))));
                    // In a class, who this is decides the class bar or the Classroom tab.
                    if let Ok(info) = ClassroomApi::new(t.clone()).info().await {
                        class_role.set(Some(info.role));
                    }
                }
                connection.set(answer);
            });
        });
    }
    // The simulator's worker (and its wasm) is fetched the first time its tab opens.
    let sim_started = use_mut_ref(|| false);
    {
        let sim_source = sim_source.clone();
        let (dispatcher, notices) = (sim_state.dispatcher(), sim_state.dispatcher());
        use_effect_with(tab == Tab::Simulator, move |wanted| {
            if *wanted && !sim_started.replace(true) {
                let dispatch = Callback::from(move |a: Action| dispatcher.dispatch(a));
                wasm_bindgen_futures::spawn_local(async move {
                    match SimSource::start(DEFAULT_SCENARIO, dispatch).await {
                        Ok(s) => sim_source.set(Some(Source::Simulated(s))),
                        Err(e) => notices.dispatch(Action::Notice(Severity::Error, e)),
                    }
                });
            }
        });
    }
    // The Lessons tab stays mounted once opened, so a lesson's machine survives a look
    // elsewhere. It waits for the server's answer, which decides what it may offer.
    let lessons_opened = use_mut_ref(|| false);
    if tab == Tab::Lessons && *connection != Connection::Checking {
        *lessons_opened.borrow_mut() = true;
    }
    let lessons_opened = *lessons_opened.borrow();
    let lessons_arg = match (&*connection, *class_role) {
        (Connection::Connected(_), Some(ClassRole::Student)) => Some("student".to_string()),
        (Connection::Connected(_), _) => Some("server".to_string()),
        _ => None,
    };
    let teacher = *class_role == Some(ClassRole::Teacher);
    // The teacher's view stays mounted once opened, like the other tabs.
    let classroom_opened = use_mut_ref(|| false);
    if teacher && tab == Tab::Classroom {
        *classroom_opened.borrow_mut() = true;
    }
    let classroom_opened = *classroom_opened.borrow();
    let tabs = Tab::ALL.iter().chain(teacher.then_some(&Tab::Classroom));
    let nav = tabs.map(|&t| {
        let onclick = Callback::from(move |_| go(&t.route()));
        let current = tab == t;
        html! {
            <button class={classes!("nav-tab", current.then_some("current"))}
                    aria-current={current.then_some("page")}
                    {onclick}>{ t.label() }</button>
        }
    });
    let on_simulator = Callback::from(move |_| go(&Route::Simulator));
    let stream = stream_text(&live_state.status);
    html! {
        <div class="frame">
            <header class="top">
                <h1 class="brand">{"isolab"}</h1>
                <nav class="tabs" aria-label="views">{ for nav }</nav>
                <span class="status-area">
                    if let Some(s) = stream {
                        <span class={classes!("badge", "stream", (live_state.status == StreamStatus::Open).then_some("connected"))}
                              role="status">{ s }</span>
                    }
                    <ConnectionBadge connection={(*connection).clone()} />
                </span>
            </header>
            if *class_role == Some(ClassRole::Student) {
                <OnDemand view="student-bar" token={(*token).clone()} />
            }
            <main class="view">
                <div class="pane-live" hidden={tab != Tab::Live}>
                    <LiveView connection={(*connection).clone()} state={live_state.clone()}
                              source={(*live_source).clone()} token={(*token).clone()} {on_simulator} />
                </div>
                <div class="pane-sim" hidden={tab != Tab::Simulator}>
                    <SimulatorView state={sim_state.clone()} source={(*sim_source).clone()} />
                </div>
                <div class="pane-lessons" hidden={tab != Tab::Lessons}>
                    if lessons_opened {
                        <OnDemand view="lessons" token={(*token).clone()} arg={lessons_arg} />
                    } else if tab == Tab::Lessons {
                        <p class="muted" role="status">{"Asking the isolab server…"}</p>
                    }
                </div>
                if teacher {
                    <div class="pane-classroom" hidden={tab != Tab::Classroom}>
                        // Fetched on demand, the first time the teacher opens the tab.
                        if tab == Tab::Classroom || classroom_opened {
                            <OnDemand view="teacher" token={(*token).clone()} />
                        }
                    </div>
                }
            </main>
        </div>
    }
}
