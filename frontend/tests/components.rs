//! Components rendered into a real document in headless Chromium.

use std::time::Duration;

use isolab_frontend::connection::Connection;
use isolab_frontend::views::connection_badge::{ConnectionBadge, ConnectionBadgeProps};
use isolab_shared::{CgroupMode, LiveStatus, VersionInfo};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Renders the badge for `connection` into a fresh element and returns its text.
async fn badge_text(connection: Connection) -> (String, String) {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
    let root = document.create_element("div").expect("a div");
    document
        .body()
        .expect("a body")
        .append_child(&root)
        .expect("attached");
    yew::Renderer::<ConnectionBadge>::with_root_and_props(
        root.clone(),
        ConnectionBadgeProps { connection },
    )
    .render();
    // Yew renders on the next tick of the scheduler.
    gloo_timers::future::sleep(Duration::from_millis(20)).await;
    let badge = root.first_element_child().expect("the badge rendered");
    (
        badge.text_content().unwrap_or_default(),
        badge.get_attribute("class").unwrap_or_default(),
    )
}

#[wasm_bindgen_test]
async fn connected_badge_names_the_cgroup_mode() {
    let info = VersionInfo {
        version: "0.1.0".into(),
        api_version: 1,
        live: LiveStatus {
            available: true,
            reason: None,
        },
        cgroup_mode: CgroupMode::Hybrid,
        kernel_release: "6.1.0".into(),
    };
    let (text, class) = badge_text(Connection::Connected(info)).await;
    assert_eq!(text, "Connected · live · cgroups hybrid");
    assert!(class.contains("connected"), "class was {class}");
}

#[wasm_bindgen_test]
async fn badge_says_when_a_token_is_needed() {
    let (text, class) = badge_text(Connection::TokenNeeded("open the URL".into())).await;
    assert_eq!(text, "Token needed");
    assert!(class.contains("token"), "class was {class}");
}

#[wasm_bindgen_test]
async fn badge_says_why_live_mode_is_off() {
    let info = VersionInfo {
        version: "0.1.0".into(),
        api_version: 1,
        live: LiveStatus {
            available: false,
            reason: Some("not running as root".into()),
        },
        cgroup_mode: CgroupMode::V2,
        kernel_release: "6.1.0".into(),
    };
    let (text, class) = badge_text(Connection::Connected(info)).await;
    assert_eq!(text, "Connected · live mode off");
    assert!(class.contains("limited"), "class was {class}");
}
