//! The views fetched on demand, as a wasm module of their own (the `extra-views` bin):
//! the Lessons tab, the teacher's Classroom tab, the join page, a student's class bar,
//! and the recordings with their player. Only a learner, a class, or someone opening a
//! recording needs them, so the page's first load does not carry them;
//! [`crate::on_demand::OnDemand`] loads the module and mounts a view into an element
//! of the page.
//!
//! The Lessons tab follows the URL by itself: the page and the module each read the
//! address bar's hash ([`crate::route::use_route`] listens to `hashchange`), so a lesson
//! link or "Next step" in the module moves the page's navigation too, and a reload on
//! `#/lessons/ID/STEP` (or `…/STEP/live`) reopens that step, with no messages between
//! the two apps. The page gives the module only what it learnt at start: the token,
//! whether a server answered, and whether the caller is a student of its class (whose
//! passed steps the module reports to the class).
//!
//! The module is a Yew app of its own inside the page's. Yew tells apps apart by a
//! subtree number that each wasm instance counts from 1, and an event is handled by
//! the app whose number its element carries: so before its first mount the module
//! counts past the page's numbers ([`SUBTREES_TAKEN`]), or the page's handler would
//! take the module's events for its own.

use std::cell::Cell;

use yew::prelude::*;

use crate::player::Recordings;
use crate::route::{use_route, Route};
use crate::source::classroom::ClassroomApi;
use crate::source::{LiveSource, SimSource};
use crate::state::{Action, State};
use crate::views::classroom::{JoinPage, StudentBar, TeacherView};
use crate::views::lessons::LessonsView;

/// Subtree numbers the module leaves to the page (which uses one, and one per portal).
const SUBTREES_TAKEN: u32 = 64;

thread_local! {
    static COUNTED_PAST: Cell<bool> = const { Cell::new(false) };
}

/// A view the module shows.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtraView {
    /// The Lessons tab: the list and one lesson, at the URL's place.
    Lessons {
        /// An isolab server answered: lessons can run on live containers.
        server: bool,
        /// The caller is a student of the server's class.
        student: bool,
    },
    /// The teacher's Classroom tab, and every recording.
    Teacher,
    /// The join page of a class.
    Join { code: String },
    /// The bar above a student's page (a student joined on the join page, so the
    /// module is in the browser's cache by then).
    StudentBar,
    /// The recordings (of one container when named) and the player.
    Recordings { container: Option<String> },
}

impl ExtraView {
    /// The view that `name` (and `arg`) names, as the page asks for it. The lessons'
    /// `arg` is `server` or `student` when a server answered.
    pub fn named(name: &str, arg: Option<String>) -> Option<ExtraView> {
        match name {
            "lessons" => Some(ExtraView::Lessons {
                server: arg.is_some(),
                student: arg.as_deref() == Some("student"),
            }),
            "teacher" => Some(ExtraView::Teacher),
            "join" => Some(ExtraView::Join { code: arg? }),
            "student-bar" => Some(ExtraView::StudentBar),
            "recordings" => Some(ExtraView::Recordings { container: arg }),
            _ => None,
        }
    }
}

/// Props of [`ExtraRoot`].
#[derive(Properties, PartialEq)]
pub struct ExtraRootProps {
    pub view: ExtraView,
    pub token: Option<String>,
}

/// The root of one mounted view.
#[function_component(ExtraRoot)]
pub fn extra_root(props: &ExtraRootProps) -> Html {
    match &props.view {
        ExtraView::Lessons { server, student } => html! {
            <LessonsRoot token={props.token.clone()} server={*server} student={*student} />
        },
        ExtraView::Teacher => html! { <TeacherRoot token={props.token.clone()} /> },
        ExtraView::Join { code } => html! { <JoinPage code={code.clone()} /> },
        ExtraView::StudentBar => {
            html! { <StudentBar api={ClassroomApi::new(props.token.clone())} /> }
        }
        ExtraView::Recordings { container } => {
            html! { <Recordings token={props.token.clone()} container={container.clone()} /> }
        }
    }
}

#[derive(Properties, PartialEq)]
struct TeacherRootProps {
    token: Option<String>,
}

/// The teacher's view with an event stream of its own (the module cannot share the
/// page's state), then every recording of the class.
#[function_component(TeacherRoot)]
fn teacher_root(props: &TeacherRootProps) -> Html {
    let state = use_reducer(State::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(props.token.clone(), move |token| {
            let dispatch = Callback::from(move |a: Action| dispatcher.dispatch(a));
            let source = LiveSource::start(token.clone(), dispatch);
            move || source.close()
        });
    }
    html! {
        <>
            <TeacherView api={ClassroomApi::new(props.token.clone())} {state} />
            <Recordings token={props.token.clone()} />
        </>
    }
}

#[derive(Properties, PartialEq)]
struct LessonsRootProps {
    token: Option<String>,
    server: bool,
    student: bool,
}

/// The Lessons tab with a simulator worker of its own for the lessons' machines.
#[function_component(LessonsRoot)]
fn lessons_root(props: &LessonsRootProps) -> Html {
    let route = use_route(Route::Lessons);
    // The lessons' place while another tab shows (this stays mounted, hidden), so
    // coming back keeps the lesson.
    let kept = use_mut_ref(|| Route::Lessons);
    if matches!(route, Route::Lessons | Route::Lesson { .. }) {
        *kept.borrow_mut() = route;
    }
    let route = kept.borrow().clone();
    let state = use_reducer(State::default);
    let sim = use_state(|| None::<Result<SimSource, String>>);
    {
        let (sim, dispatcher) = (sim.clone(), state.dispatcher());
        use_effect_with((), move |_| {
            let dispatch = Callback::from(move |a: Action| dispatcher.dispatch(a));
            sim.set(Some(SimSource::spawn(dispatch)));
        });
    }
    let live = use_memo((props.token.clone(), props.server), |(token, server)| {
        server.then(|| LiveSource::without_events(token.clone()))
    });
    let class = props
        .student
        .then(|| ClassroomApi::new(props.token.clone()));
    match &*sim {
        Some(Ok(sim)) => html! {
            <LessonsView {route} sim={sim.clone()} {state} live={(*live).clone()} {class} />
        },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        None => {
            html! { <p class="muted" role="status">{"Starting the simulator for the lessons…"}</p> }
        }
    }
}

#[function_component(Nothing)]
fn nothing() -> Html {
    html! {}
}

/// Mounts `view` into `host`.
pub fn mount(
    host: web_sys::Element,
    view: ExtraView,
    token: Option<String>,
) -> yew::AppHandle<ExtraRoot> {
    if !COUNTED_PAST.with(|c| c.replace(true)) {
        let scratch = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("div").ok());
        if let Some(scratch) = scratch {
            for _ in 0..SUBTREES_TAKEN {
                yew::Renderer::<Nothing>::with_root(scratch.clone())
                    .render()
                    .destroy();
            }
        }
    }
    yew::Renderer::<ExtraRoot>::with_root_and_props(host, ExtraRootProps { view, token }).render()
}
