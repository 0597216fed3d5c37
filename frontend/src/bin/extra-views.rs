//! The `extra-views` module: views the page fetches on demand (see
//! `isolab_frontend::extra_views`). `index.html`'s `isolabLoadExtraViews()` imports it;
//! the page calls [`mount`] and, when the view goes, [`Mounted::destroy`].

use wasm_bindgen::prelude::*;

use isolab_frontend::extra_views::{self, ExtraRoot, ExtraView};

/// A mounted view.
#[wasm_bindgen]
pub struct Mounted(Option<yew::AppHandle<ExtraRoot>>);

#[wasm_bindgen]
impl Mounted {
    /// Unmounts the view (its sockets and timers end with it).
    pub fn destroy(&mut self) {
        if let Some(app) = self.0.take() {
            app.destroy();
        }
    }
}

/// Mounts the view named `view` (`lessons` with `server` or `student` as `arg` when a
/// server answered, `teacher`, `join` with the code as `arg`, `student-bar`,
/// `recordings` with a container as `arg` or none) into `host`.
#[wasm_bindgen]
pub fn mount(
    host: web_sys::Element,
    view: &str,
    token: Option<String>,
    arg: Option<String>,
) -> Result<Mounted, JsError> {
    let view = ExtraView::named(view, arg).ok_or_else(|| JsError::new("no such view"))?;
    Ok(Mounted(Some(extra_views::mount(host, view, token))))
}

fn main() {}
