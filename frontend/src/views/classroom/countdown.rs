//! [`Countdown`]: the time left until the class ends, by the server's clock.

use gloo_timers::callback::Interval;
use yew::prelude::*;

use super::local_now_ms;

/// `ms` left as `H:MM:SS` or `M:SS`; `None` once it is over.
pub fn remaining_text(ms: i64) -> Option<String> {
    if ms <= 0 {
        return None;
    }
    // Rounded up: "0:01" is shown until the very end, never "0:00" before it.
    let secs = (ms + 999) / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    Some(if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    })
}

/// Props of [`Countdown`].
#[derive(Properties, PartialEq)]
pub struct CountdownProps {
    /// When the class ends (ms since the Unix epoch, server's clock).
    pub ends_at_ms: u64,
    /// The server's clock minus the browser's, when the end time was fetched.
    pub skew_ms: f64,
}

/// "Class ends in 12:34", ticking each second; "The class has ended" after.
#[function_component(Countdown)]
pub fn countdown(props: &CountdownProps) -> Html {
    let now = use_state(local_now_ms);
    {
        let now = now.clone();
        use_effect_with((), move |_| {
            let tick = Interval::new(1000, move || now.set(local_now_ms()));
            move || drop(tick)
        });
    }
    let left = props.ends_at_ms as f64 - (*now + props.skew_ms);
    match remaining_text(left as i64) {
        // Read on change by screen readers would be every second: the label is not live.
        Some(t) => {
            html! { <span class="countdown" title="time left in this class">{"Class ends in "}{ t }</span> }
        }
        None => html! { <span class="countdown ended">{"The class has ended"}</span> },
    }
}
