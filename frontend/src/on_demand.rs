//! [`OnDemand`]: a place in the page for a view of the `extra-views` module, which is
//! fetched the first time one is shown (`window.isolabLoadExtraViews()` in
//! `index.html`), so the page's first load does not carry it.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

/// Props of [`OnDemand`].
#[derive(Properties, PartialEq)]
pub struct OnDemandProps {
    /// The view: `lessons`, `teacher`, `join`, `student-bar` or `recordings`
    /// (`crate::extra_views::ExtraView`).
    pub view: AttrValue,
    pub token: Option<String>,
    /// The join code, the container whose recordings to show, or what the lessons
    /// may offer (`server`, `student`).
    #[prop_or_default]
    pub arg: Option<String>,
}

fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(name))?.dyn_into()?;
    f.apply(target, &args.iter().collect())
}

async fn load_and_mount(
    host: web_sys::Element,
    view: &str,
    token: Option<String>,
    arg: Option<String>,
) -> Result<JsValue, JsValue> {
    let window: JsValue = web_sys::window().ok_or("no window")?.into();
    let promise: Promise = call(&window, "isolabLoadExtraViews", &[])?.dyn_into()?;
    let module = wasm_bindgen_futures::JsFuture::from(promise).await?;
    let opt = |s: Option<String>| s.map_or(JsValue::UNDEFINED, JsValue::from);
    call(
        &module,
        "mount",
        &[host.into(), view.into(), opt(token), opt(arg)],
    )
}

/// The element a view of the module is mounted into.
#[function_component(OnDemand)]
pub fn on_demand(props: &OnDemandProps) -> Html {
    let host = use_node_ref();
    let failed = use_state(|| false);
    let mounted: Rc<RefCell<Option<JsValue>>> = use_mut_ref(|| None);
    {
        let (host, failed) = (host.clone(), failed.clone());
        let key = (props.view.clone(), props.token.clone(), props.arg.clone());
        use_effect_with(key, move |(view, token, arg)| {
            let gone = Rc::new(std::cell::Cell::new(false));
            if let Some(el) = host.cast::<web_sys::Element>() {
                let (view, token, arg) = (view.clone(), token.clone(), arg.clone());
                let (mounted, gone) = (mounted.clone(), gone.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    match load_and_mount(el, &view, token, arg).await {
                        Ok(handle) if gone.get() => {
                            let _ = call(&handle, "destroy", &[]);
                        }
                        Ok(handle) => *mounted.borrow_mut() = Some(handle),
                        Err(_) => failed.set(true),
                    }
                });
            }
            move || {
                gone.set(true);
                if let Some(handle) = mounted.borrow_mut().take() {
                    let _ = call(&handle, "destroy", &[]);
                }
            }
        });
    }
    html! {
        <>
            if *failed {
                <p class="error" role="alert">{"This view could not be loaded from the server."}</p>
            }
            <div class="on-demand" ref={host}></div>
        </>
    }
}
