//! [`Roster`]: the class's students: connected or not, their containers, a raised
//! hand (cleared here), lesson progress, and removing a student (confirmed first).

use isolab_shared::RosterEntry;
use yew::prelude::*;

use super::confirmed;
use crate::source::classroom::ClassroomApi;

/// Props of [`Roster`].
#[derive(Properties, PartialEq)]
pub struct RosterProps {
    pub api: ClassroomApi,
    pub students: Vec<RosterEntry>,
    /// Says how an action went (one line).
    pub on_result: Callback<String>,
    /// Asks for the roster again after a change.
    pub on_changed: Callback<()>,
}

/// The roster table.
#[function_component(Roster)]
pub fn roster(props: &RosterProps) -> Html {
    if props.students.is_empty() {
        return html! { <p class="muted">{"No student has joined yet."}</p> };
    }
    let act = |student: &RosterEntry, remove: bool| {
        let (api, on_result, on_changed) = (
            props.api.clone(),
            props.on_result.clone(),
            props.on_changed.clone(),
        );
        let (id, name) = (student.id.clone(), student.name.clone());
        Callback::from(move |_: MouseEvent| {
            if remove
                && !confirmed(&format!(
                    "Remove {name} from the class? Their token stops working and their containers are removed."
                ))
            {
                return;
            }
            let (api, on_result, on_changed) = (api.clone(), on_result.clone(), on_changed.clone());
            let (id, name) = (id.clone(), name.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let done = if remove {
                    api.remove_student(&id)
                        .await
                        .map(|_| format!("{name} was removed from the class"))
                } else {
                    api.lower_hand_of(&id)
                        .await
                        .map(|_| format!("{name}'s hand is lowered"))
                };
                on_result.emit(done.unwrap_or_else(|e| e));
                on_changed.emit(());
            });
        })
    };
    let rows = props.students.iter().map(|s| {
        let hand = s.hand_raised_at_ms.is_some();
        html! {
            <tr key={s.id.clone()} class={classes!("student", hand.then_some("hand-raised"))} data-name={s.name.clone()}>
                <th scope="row">{ &s.name }</th>
                <td class="connected">{ if s.connected { "connected" } else { "away" } }</td>
                <td class="containers">{ s.containers.len() }</td>
                <td class="hand">
                    if hand {
                        <span>{"✋ raised "}</span>
                        <button onclick={act(s, false)} aria-label={format!("lower {}'s hand", s.name)}>{"Lower"}</button>
                    }
                </td>
                <td class="progress">{ format!("{} of {} steps passed", s.steps_passed, s.steps_tried) }</td>
                <td><button class="danger" onclick={act(s, true)} aria-label={format!("remove {}", s.name)}>{"Remove…"}</button></td>
            </tr>
        }
    });
    let hands = props
        .students
        .iter()
        .filter(|s| s.hand_raised_at_ms.is_some())
        .count();
    html! {
        <>
            <p class="hands-summary" aria-live="polite">
                { match hands { 0 => "No hand raised.".to_string(), 1 => "1 hand raised.".to_string(), n => format!("{n} hands raised.") } }
            </p>
            <table class="roster">
                <thead><tr><th scope="col">{"Student"}</th><th scope="col">{"Connection"}</th>
                    <th scope="col">{"Containers"}</th><th scope="col">{"Hand"}</th>
                    <th scope="col">{"Progress"}</th><th scope="col"><span class="sr-only">{"Actions"}</span></th></tr></thead>
                <tbody>{ for rows }</tbody>
            </table>
        </>
    }
}
