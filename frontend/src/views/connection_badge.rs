//! The connection status shown in the header on every view.

use yew::prelude::*;

use crate::connection::Connection;

/// Props of [`ConnectionBadge`].
#[derive(Properties, PartialEq)]
pub struct ConnectionBadgeProps {
    pub connection: Connection,
}

/// A short status: connected (with live or not), token needed, or offline.
#[function_component(ConnectionBadge)]
pub fn connection_badge(props: &ConnectionBadgeProps) -> Html {
    let (class, text, title) = match &props.connection {
        Connection::Checking => ("badge checking", "Connecting…".to_string(), String::new()),
        Connection::Connected(v) if v.live.available => (
            "badge connected",
            format!("Connected · live · cgroups {}", v.cgroup_mode),
            format!("isolab {} on kernel {}", v.version, v.kernel_release),
        ),
        Connection::Connected(v) => (
            "badge limited",
            "Connected · live mode off".to_string(),
            v.live.reason.clone().unwrap_or_default(),
        ),
        Connection::TokenNeeded(why) => ("badge token", "Token needed".to_string(), why.clone()),
        Connection::Offline(why) => ("badge offline", "Not connected".to_string(), why.clone()),
    };
    html! {
        <span class={class} role="status" title={title}>{ text }</span>
    }
}
