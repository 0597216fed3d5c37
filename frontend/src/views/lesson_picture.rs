//! The picture beside a lesson's terminals: the namespace map, the creation steps, or
//! the containers with their limits, one at a time. The simulator's lesson machine and
//! a lesson session's live containers are drawn by the same views the dashboard uses.

use yew::prelude::*;

use super::dashboard::Dashboard;
use super::map::NamespaceMap;
use super::steps::SetupSteps;
use super::ViewProps;
use crate::source::{Source, TerminalTab};
use crate::state::State;

/// What the picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picture {
    Map,
    Steps,
    Limits,
}

impl Picture {
    /// Every picture, in the order of their buttons.
    pub const ALL: [Picture; 3] = [Picture::Map, Picture::Steps, Picture::Limits];

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            Picture::Map => "Namespace map",
            Picture::Steps => "Creation steps",
            Picture::Limits => "Containers and limits",
        }
    }
}

/// Props of [`LessonPicture`].
#[derive(Properties, PartialEq)]
pub struct LessonPictureProps {
    /// The state drawn (a live lesson's holds only its session's containers).
    pub state: UseReducerHandle<State>,
    pub source: Source,
    /// Focuses a terminal tab (a container's Terminal button).
    pub on_open_terminal: Callback<TerminalTab>,
    /// Offers "New container…" with the limits.
    #[prop_or(true)]
    pub can_create: bool,
}

/// The picture's buttons and the picture chosen.
#[function_component(LessonPicture)]
pub fn lesson_picture(props: &LessonPictureProps) -> Html {
    let picture = use_state(|| Picture::Map);
    let steps_for = use_state(|| None::<String>);
    let view = ViewProps {
        state: props.state.clone(),
        source: props.source.clone(),
        on_open_terminal: props.on_open_terminal.clone(),
        on_show_steps: {
            let (steps_for, picture) = (steps_for.clone(), picture.clone());
            Callback::from(move |id: String| {
                steps_for.set(Some(id));
                picture.set(Picture::Steps);
            })
        },
    };
    let buttons = Picture::ALL.iter().map(|&p| {
        let picture = picture.clone();
        let here = *picture == p;
        html! {
            <button class={classes!("sub-tab", here.then_some("current"))}
                aria-pressed={here.to_string()} onclick={Callback::from(move |_| picture.set(p))}>
                { p.label() }</button>
        }
    });
    html! {
        <>
            <nav class="sub-tabs" aria-label="picture of the machine">{ for buttons }</nav>
            { match *picture {
                Picture::Map => html! { <NamespaceMap ..view /> },
                Picture::Steps => html! { <SetupSteps {view} selected={(*steps_for).clone()} /> },
                Picture::Limits => html! { <Dashboard {view} can_create={props.can_create} /> },
            } }
        </>
    }
}
