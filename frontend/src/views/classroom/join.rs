//! [`JoinPage`]: what a student sees at `/join/CODE`: a display name to type, then
//! their own token (kept in sessionStorage) and the app at `/`.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::connection::keep_token;
use crate::source::classroom;

/// Props of [`JoinPage`].
#[derive(Properties, PartialEq)]
pub struct JoinPageProps {
    /// The join code from the link.
    pub code: String,
}

/// The join form.
#[function_component(JoinPage)]
pub fn join_page(props: &JoinPageProps) -> Html {
    let name = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (name, error, busy, code) = (
            name.clone(),
            error.clone(),
            busy.clone(),
            props.code.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = name
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let (error, busy, code) = (error.clone(), busy.clone(), code.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match classroom::join(&code, &typed).await {
                    Ok(answer) => {
                        if !keep_token(&answer.token) {
                            error.set(Some("this browser keeps no session storage, so the page cannot remember you: allow it and try again".into()));
                            busy.set(false);
                            return;
                        }
                        if let Some(w) = web_sys::window() {
                            // A fresh page at / starts the app with the student's token.
                            let _ = w.location().replace("/");
                        }
                    }
                    Err(e) => {
                        error.set(Some(e.message()));
                        busy.set(false);
                    }
                }
            });
        })
    };
    html! {
        <div class="frame">
            <header class="top"><h1 class="brand">{"isolab"}</h1></header>
            <main class="view join-page">
                <section class="card">
                    <h2>{"Join the class"}</h2>
                    <p>{"Class code "}<code class="join-code">{ &props.code }</code></p>
                    <form {onsubmit}>
                        <label for="join-name">{"Your name, as the class knows you"}</label>
                        <input id="join-name" ref={name} type="text" maxlength="40" required=true
                               autocomplete="nickname" autofocus=true />
                        <button class="primary" type="submit" disabled={*busy}>{"Join"}</button>
                    </form>
                    <p class="join-error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
                </section>
            </main>
        </div>
    }
}
