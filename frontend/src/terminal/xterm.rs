//! A thin wasm-bindgen binding of xterm.js and its fit addon.
//!
//! `index.html` defines `window.isolabLoadXterm()`, which imports `xterm.mjs` and
//! `addon-fit.mjs` (copied by Trunk from node_modules) on first use and puts `Terminal`
//! and `FitAddon` on `window`; [`load`] calls it when the first terminal opens, so the
//! page's first load does not carry xterm.js. Without it (a test page), the views show a
//! note instead.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};

#[wasm_bindgen]
extern "C" {
    /// xterm.js's `Terminal`.
    #[wasm_bindgen(js_name = Terminal)]
    pub type XTerm;

    #[wasm_bindgen(constructor, js_class = "Terminal", catch)]
    pub fn new(options: &JsValue) -> Result<XTerm, JsValue>;

    #[wasm_bindgen(method)]
    pub fn open(this: &XTerm, parent: &HtmlElement);

    #[wasm_bindgen(method, js_name = write)]
    pub fn write_str(this: &XTerm, data: &str);

    /// Writes bytes; the array must be a copy (xterm parses it later).
    #[wasm_bindgen(method, js_name = write)]
    pub fn write_bytes(this: &XTerm, data: &Uint8Array);

    #[wasm_bindgen(method, js_name = onData)]
    pub fn on_data(this: &XTerm, callback: &Closure<dyn FnMut(String)>) -> Disposable;

    #[wasm_bindgen(method, js_name = onResize)]
    pub fn on_resize(this: &XTerm, callback: &Closure<dyn FnMut(JsValue)>) -> Disposable;

    #[wasm_bindgen(method, js_name = attachCustomKeyEventHandler)]
    pub fn attach_custom_key_event_handler(
        this: &XTerm,
        handler: &Closure<dyn FnMut(KeyboardEvent) -> bool>,
    );

    #[wasm_bindgen(method, js_name = loadAddon)]
    pub fn load_addon(this: &XTerm, addon: &FitAddon);

    #[wasm_bindgen(method, getter)]
    pub fn cols(this: &XTerm) -> u16;

    #[wasm_bindgen(method, getter)]
    pub fn rows(this: &XTerm) -> u16;

    #[wasm_bindgen(method, js_name = getSelection)]
    pub fn get_selection(this: &XTerm) -> String;

    #[wasm_bindgen(method)]
    pub fn paste(this: &XTerm, data: &str);

    #[wasm_bindgen(method)]
    pub fn focus(this: &XTerm);

    #[wasm_bindgen(method)]
    pub fn reset(this: &XTerm);

    #[wasm_bindgen(method)]
    pub fn resize(this: &XTerm, cols: u16, rows: u16);

    #[wasm_bindgen(method)]
    pub fn dispose(this: &XTerm);

    #[wasm_bindgen(method, getter)]
    pub fn options(this: &XTerm) -> js_sys::Object;

    /// What `onData` and `onResize` return.
    pub type Disposable;

    #[wasm_bindgen(method, js_name = dispose)]
    pub fn dispose_listener(this: &Disposable);

    /// The fit addon: sizes the terminal to its element.
    #[wasm_bindgen(js_name = FitAddon)]
    pub type FitAddon;

    #[wasm_bindgen(constructor, js_class = "FitAddon", catch)]
    pub fn new() -> Result<FitAddon, JsValue>;

    #[wasm_bindgen(method, catch)]
    pub fn fit(this: &FitAddon) -> Result<(), JsValue>;
}

/// True when xterm.js and the fit addon are loaded in this page.
pub fn available() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    ["Terminal", "FitAddon"].iter().all(|name| {
        js_sys::Reflect::get(&window, &JsValue::from_str(name))
            .map(|v| v.is_function())
            .unwrap_or(false)
    })
}

/// Loads xterm.js and the fit addon (once per page); false when this page cannot.
pub async fn load() -> bool {
    if available() {
        return true;
    }
    let Some(window) = web_sys::window() else {
        return false;
    };
    let loader = js_sys::Reflect::get(&window, &JsValue::from_str("isolabLoadXterm"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(promise) = loader
        .and_then(|f| f.call0(&JsValue::NULL).ok())
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
    else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() && available()
}

/// The options isolab's terminals use.
pub fn options() -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    set("cursorBlink", JsValue::TRUE);
    set("fontSize", JsValue::from_f64(14.0));
    set("scrollback", JsValue::from_f64(5000.0));
    set(
        "fontFamily",
        JsValue::from_str("ui-monospace, 'DejaVu Sans Mono', monospace"),
    );
    o.into()
}

/// Sets one option of a live terminal (`disableStdin` for view mode).
pub fn set_option(term: &XTerm, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(&term.options(), &JsValue::from_str(key), &value);
}
