//! Entry point of the wasm app: mount [`isolab_frontend::Root`] on the page body.

fn main() {
    yew::Renderer::<isolab_frontend::Root>::new().render();
}
