//! [`StudentBar`]: above a student's page: who they are, the raised hand, the
//! countdown, a notice while the teacher types in their terminal, and the teacher's
//! broadcast (read-only) while there is one. A removed student is told so.

use isolab_shared::ClassInfo;
use yew::prelude::*;

use super::countdown::Countdown;
use super::{local_now_ms, use_class_changes};
use crate::source::classroom::{ClassError, ClassroomApi};
use crate::source::{TerminalTab, TerminalTarget};
use crate::terminal::TerminalPane;

/// Props of [`StudentBar`].
#[derive(Properties, PartialEq)]
pub struct StudentBarProps {
    pub api: ClassroomApi,
}

/// What the bar last heard: the class, and the server's clock minus the browser's.
#[derive(Clone, PartialEq)]
struct Heard {
    info: Result<ClassInfo, ClassError>,
    skew_ms: f64,
}

/// The student's bar.
#[function_component(StudentBar)]
pub fn student_bar(props: &StudentBarProps) -> Html {
    let heard = use_state_eq(|| None::<Heard>);
    let refresh = use_state(|| 0u32);
    let changed = use_class_changes(&props.api);
    let hand_error = use_state(|| None::<String>);
    {
        let heard = heard.clone();
        use_effect_with(
            (props.api.clone(), *refresh, changed),
            move |(api, _, _)| {
                let api = api.clone();
                let fetch = move || {
                    let (api, heard) = (api.clone(), heard.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let info = api.info().await;
                        let skew_ms = info
                            .as_ref()
                            .map_or(0.0, |i| i.now_ms as f64 - local_now_ms());
                        heard.set(Some(Heard { info, skew_ms }));
                    });
                };
                fetch();
            },
        );
    }
    let Some(Heard { info, skew_ms }) = (*heard).clone() else {
        return html! {};
    };
    let info = match info {
        Ok(info) => info,
        Err(ClassError::Unauthorized(_)) => {
            return html! {
                <section class="card notice class-removed" role="alert">
                    <h2>{"You are no longer in this class"}</h2>
                    <p>{"The teacher removed you from the class, and your containers are gone. \
                         To come back, open the join link again."}</p>
                </section>
            };
        }
        // Not a class, or a passing failure: the page works as without a class.
        Err(_) => return html! {},
    };
    let name = info
        .student
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let raised = info.hand_raised_at_ms.is_some();
    let toggle_hand = {
        let (api, refresh, hand_error) = (props.api.clone(), refresh.clone(), hand_error.clone());
        Callback::from(move |_| {
            let (api, refresh, hand_error) = (api.clone(), refresh.clone(), hand_error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                hand_error.set(api.set_hand(!raised).await.err());
                refresh.set(*refresh + 1);
            });
        })
    };
    let broadcast = info.broadcast.clone().map(|id| TerminalTab {
        key: format!("broadcast-{id}"),
        title: "the teacher's terminal".to_string(),
        target: TerminalTarget::Live {
            path: format!("/api/v1/containers/{id}/terminal"),
            token: props.api.token(),
        },
    });
    let taken = !info.taken_over.is_empty();
    html! {
        <>
            <section class="class-bar" aria-label="this class">
                <span class="class-me">{"In class as "}<strong>{ name }</strong></span>
                if let Some(end) = info.ends_at_ms {
                    <Countdown ends_at_ms={end} {skew_ms} />
                }
                <button class={classes!("hand", raised.then_some("raised"))} aria-pressed={raised.to_string()}
                        onclick={toggle_hand}>
                    { if raised { "✋ Lower your hand" } else { "✋ Raise your hand" } }
                </button>
                <span class="class-notices" aria-live="polite">
                    if raised { <span class="hand-up">{"Your hand is up: the teacher sees it."}</span> }
                    if taken {
                        <span class="taken-over" role="status">
                            {"The teacher has taken control of your terminal and may type in it."}
                        </span>
                    }
                    if let Some(e) = (*hand_error).clone() { <span class="error">{ e }</span> }
                </span>
            </section>
            <div aria-live="polite">
                if let Some(tab) = broadcast {
                    <section class="card broadcast" aria-label="the teacher's broadcast">
                        <h2>{"The teacher's screen (read-only)"}</h2>
                        <TerminalPane {tab} read_only=true />
                    </section>
                }
            </div>
        </>
    }
}
