//! The page's place in its URL: `#/live`, `#/simulator`, `#/lessons`,
//! `#/lessons/ID/STEP` (`#/lessons/ID/STEP/live` on live containers), `#/classroom` (a
//! class's teacher). A small hash router (the hash survives a reload and never reaches
//! the server), read by [`use_route`] and changed by [`go`]. The page and the views
//! fetched on demand (a Yew app of their own) each read the same address bar, so a
//! link in either moves both.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// A place in the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The live server's views.
    Live,
    /// The simulator's views.
    Simulator,
    /// The lesson list.
    Lessons,
    /// A lesson at a step (1-based), on the simulator or on live containers.
    Lesson { id: String, step: usize, live: bool },
    /// The teacher's view of a class.
    Classroom,
}

impl Route {
    /// The route a `#fragment` names; `None` for an empty or unknown one. The old
    /// one-word fragments (`#live`) still work.
    pub fn parse(hash: &str) -> Option<Route> {
        let path = hash.trim_start_matches('#').trim_start_matches('/');
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let route = match parts.next()? {
            "live" => Route::Live,
            "simulator" => Route::Simulator,
            "classroom" => Route::Classroom,
            "learn" | "lessons" => match parts.next() {
                None => Route::Lessons,
                Some(id) => Route::Lesson {
                    id: decode(id),
                    step: parts
                        .next()
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|&s| s > 0)
                        .unwrap_or(1),
                    live: parts.next() == Some("live"),
                },
            },
            _ => return None,
        };
        Some(route)
    }

    /// The `#fragment` of this route.
    pub fn to_hash(&self) -> String {
        match self {
            Route::Live => "#/live".to_string(),
            Route::Simulator => "#/simulator".to_string(),
            Route::Lessons => "#/lessons".to_string(),
            Route::Classroom => "#/classroom".to_string(),
            Route::Lesson { id, step, live } => {
                let on = if *live { "/live" } else { "" };
                format!("#/lessons/{}/{step}{on}", encode(id))
            }
        }
    }
}

/// Lesson ids are `[a-z0-9-]`, but a picked file may say anything: keep the URL whole.
fn encode(id: &str) -> String {
    js_sys::encode_uri_component(id).into()
}

fn decode(part: &str) -> String {
    js_sys::decode_uri_component(part)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| part.to_string())
}

/// The route in the address bar now, or `fallback`.
pub fn current(fallback: Route) -> Route {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .and_then(|h| Route::parse(&h))
        .unwrap_or(fallback)
}

/// Goes to `route`: a new history entry, so Back returns.
pub fn go(route: &Route) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_hash(&route.to_hash());
    }
}

/// The current route, updated on every `hashchange` (links, Back, typed URLs).
#[hook]
pub fn use_route(fallback: Route) -> Route {
    let route = use_state(|| current(fallback.clone()));
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = Closure::<dyn FnMut()>::new(move || {
                route.set(current(fallback.clone()));
            });
            let window = web_sys::window();
            if let Some(w) = &window {
                let _ = w.add_event_listener_with_callback(
                    "hashchange",
                    listener.as_ref().unchecked_ref(),
                );
            }
            move || {
                if let Some(w) = &window {
                    let _ = w.remove_event_listener_with_callback(
                        "hashchange",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }
    (*route).clone()
}
