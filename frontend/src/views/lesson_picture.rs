//! The picture beside a lesson's terminals: the tabs its lesson names
//! ([`PicturePart`]: the namespace map, the creation steps, the containers with their
//! limits, the measured figures next to VMs'), one at a time. The simulator's lesson
//! machine and a lesson session's live containers are drawn by the same views the
//! dashboard and the VMs view use.

use isolab_shared::lesson::PicturePart;
use yew::prelude::*;

use super::dashboard::Dashboard;
use super::map::NamespaceMap;
use super::steps::SetupSteps;
use super::vms::VmFigures;
use super::ViewProps;
use crate::source::{Source, TerminalTab};
use crate::state::State;

/// Props of [`LessonPicture`].
#[derive(Properties, PartialEq)]
pub struct LessonPictureProps {
    /// The state drawn (a live lesson's holds only its session's containers).
    pub state: UseReducerHandle<State>,
    pub source: Source,
    /// The tabs, in order, as the lesson names them (the first is shown first).
    pub parts: Vec<PicturePart>,
    /// Focuses a terminal tab (a container's Terminal button).
    pub on_open_terminal: Callback<TerminalTab>,
    /// Offers "New container…" with the limits.
    #[prop_or(true)]
    pub can_create: bool,
}

/// The picture's buttons and the picture chosen.
#[function_component(LessonPicture)]
pub fn lesson_picture(props: &LessonPictureProps) -> Html {
    let first = props.parts.first().copied().unwrap_or(PicturePart::Map);
    // The choice holds for the parts it was made among: another lesson opened in the
    // same view shows its own first part.
    let chosen = use_state(|| (props.parts.clone(), first));
    let shown = if chosen.0 == props.parts {
        chosen.1
    } else {
        first
    };
    let choose = {
        let (chosen, parts) = (chosen.clone(), props.parts.clone());
        Callback::from(move |p: PicturePart| chosen.set((parts.clone(), p)))
    };
    let steps_for = use_state(|| None::<String>);
    let view = ViewProps {
        state: props.state.clone(),
        source: props.source.clone(),
        on_open_terminal: props.on_open_terminal.clone(),
        on_show_steps: {
            let (steps_for, choose) = (steps_for.clone(), choose.clone());
            Callback::from(move |id: String| {
                steps_for.set(Some(id));
                choose.emit(PicturePart::Steps);
            })
        },
    };
    let buttons = props.parts.iter().map(|&p| {
        let choose = choose.clone();
        let here = shown == p;
        html! {
            <button class={classes!("sub-tab", here.then_some("current"))}
                aria-pressed={here.to_string()} onclick={Callback::from(move |_| choose.emit(p))}>
                { p.label() }</button>
        }
    });
    html! {
        <>
            <nav class="sub-tabs" aria-label="picture of the machine">{ for buttons }</nav>
            { match shown {
                PicturePart::Map => html! { <NamespaceMap ..view /> },
                PicturePart::Steps => html! { <SetupSteps {view} selected={(*steps_for).clone()} /> },
                PicturePart::Limits => html! { <Dashboard {view} can_create={props.can_create} /> },
                PicturePart::Figures => html! {
                    <VmFigures containers={props.state.snapshot.containers.clone()}
                        simulated={props.source.is_simulated()} />
                },
            } }
        </>
    }
}
