//! A tiny SVG line of recent values.

use yew::prelude::*;

/// Props of [`Sparkline`].
#[derive(Properties, PartialEq)]
pub struct SparklineProps {
    pub values: Vec<f64>,
    /// The top of the scale; the largest value when absent.
    #[prop_or_default]
    pub max: Option<f64>,
    /// What the line shows, for screen readers and the tooltip.
    pub label: String,
}

/// The SVG points of `values` in a `w`×`h` box.
pub fn points(values: &[f64], max: Option<f64>, w: f64, h: f64) -> String {
    let top = max
        .unwrap_or_else(|| values.iter().copied().fold(0.0, f64::max))
        .max(1e-9);
    let n = values.len().max(2) - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as f64 * w / n as f64;
            let y = h - (v / top).clamp(0.0, 1.0) * (h - 2.0) - 1.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sparkline with its label as tooltip.
#[function_component(Sparkline)]
pub fn sparkline(props: &SparklineProps) -> Html {
    let (w, h) = (80.0, 20.0);
    html! {
        <svg class="sparkline" width="80" height="20" viewBox="0 0 80 20" role="img"
             aria-label={props.label.clone()}>
            <title>{ &props.label }</title>
            if props.values.len() > 1 {
                <polyline points={points(&props.values, props.max, w, h)} />
            } else {
                <line x1="0" y1="19" x2="80" y2="19" class="empty" />
            }
        </svg>
    }
}
