//! Entry point of the wasm app: mount [`isolab_frontend::App`] on the page body.

fn main() {
    yew::Renderer::<isolab_frontend::App>::new().render();
}
