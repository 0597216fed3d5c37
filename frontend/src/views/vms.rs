//! Containers next to VMs: two stacks in SVG, the live containers placed in theirs,
//! and a figures panel (start time measured here; VM figures as published references).

use isolab_shared::{ContainerState, ContainerStatus};
use yew::prelude::*;

use super::ViewProps;

/// Published VM figures, with their sources, until VMs are measured here.
pub const VM_REFERENCES: &[(&str, &str, &str)] = &[
    (
        "Firecracker microVM: boot to guest user space",
        "≈ 125 ms",
        "Agache et al., “Firecracker: Lightweight Virtualization for Serverless Applications”, NSDI 2020",
    ),
    (
        "Firecracker microVM: memory overhead per VM",
        "< 5 MiB",
        "Agache et al., NSDI 2020; firecracker-microvm.github.io",
    ),
    (
        "Guest kernel per VM",
        "1 each (duplicated)",
        "by construction: every VM boots its own kernel",
    ),
];

/// The setup time of a container: the sum of its recorded steps, in microseconds.
pub fn setup_time_us(steps: &[isolab_shared::SetupStep]) -> u64 {
    steps.iter().map(|s| s.duration_us).sum()
}

fn layer(x: f64, y: f64, w: f64, text: &str, class: &str) -> Html {
    html! {
        <g class={classes!("layer", class.to_string())}>
            <rect x={x.to_string()} y={y.to_string()} width={w.to_string()} height="34" rx="6" />
            <text x={(x + w / 2.0).to_string()} y={(y + 22.0).to_string()} text-anchor="middle">{ text.to_string() }</text>
        </g>
    }
}

/// The Containers-vs-VMs view.
#[function_component(VmCompare)]
pub fn vm_compare(props: &ViewProps) -> Html {
    let containers: Vec<_> = props
        .state
        .snapshot
        .containers
        .iter()
        .filter(|c| c.status == ContainerStatus::Running)
        .collect();
    let names: Vec<String> = if containers.is_empty() {
        vec!["(no container running)".to_string()]
    } else {
        containers.iter().map(|c| c.name.clone()).collect()
    };
    let n = names.len().clamp(1, 6);
    let (col_w, x0, x1) = (480.0, 10.0, 530.0);
    let slot = (col_w - 10.0 * (n as f64 - 1.0)) / n as f64;
    let boxes = |x: f64, y: f64, f: &dyn Fn(usize, &str) -> String, class: &str| -> Html {
        names
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, name)| layer(x + i as f64 * (slot + 10.0), y, slot, &f(i, name), class))
            .collect()
    };
    let simulated = props.source.is_simulated();
    html! {
        <div class="vms-view">
            <section class="card">
                <h2>{"Containers next to virtual machines"}</h2>
                <svg class="stacks" viewBox="0 0 1020 252" width="100%" role="img"
                     aria-label="container stack and VM stack">
                    <text x={(x0 + col_w / 2.0).to_string()} y="18" text-anchor="middle" class="stack-title">{"Containers"}</text>
                    <text x={(x1 + col_w / 2.0).to_string()} y="18" text-anchor="middle" class="stack-title">{"Virtual machines"}</text>
                    { boxes(x0, 30.0, &|_, name| name.to_string(), "app container") }
                    { layer(x0, 72.0, col_w, "runtime: isolab (namespaces + cgroups)", "runtime") }
                    { layer(x0, 114.0, col_w, "ONE host kernel, shared by every container", "kernel shared") }
                    { layer(x0, 156.0, col_w, "hardware", "hardware") }
                    { boxes(x1, 30.0, &|_, name| format!("app {name}"), "app") }
                    { boxes(x1, 72.0, &|i, _| format!("guest kernel {}", i + 1), "kernel duplicated") }
                    { layer(x1, 114.0, col_w, "hypervisor (KVM)", "hypervisor") }
                    { layer(x1, 156.0, col_w, "hardware", "hardware") }
                    <text x={(x0 + col_w / 2.0).to_string()} y="218" text-anchor="middle" class="note">
                        {"isolation = the kernel's namespaces and cgroups"}</text>
                    <text x={(x1 + col_w / 2.0).to_string()} y="218" text-anchor="middle" class="note">
                        {"isolation = virtual hardware; one kernel per VM"}</text>
                    <text x="510" y="242" text-anchor="middle" class="note">
                        {"solid green = one copy shared by all · dashed orange = one copy per VM (duplicated)"}</text>
                </svg>
            </section>
            <VmFigures containers={props.state.snapshot.containers.clone()} {simulated} />
        </div>
    }
}

/// Props of [`VmFigures`].
#[derive(Properties, PartialEq)]
pub struct VmFiguresProps {
    /// The containers whose setup times to show (those with recorded steps).
    pub containers: Vec<ContainerState>,
    /// The source is the simulator: its step times are the model's, not this host's.
    pub simulated: bool,
}

/// The figures panel: each container's setup time as its source recorded it, next to
/// published VM figures. The VMs view and a lesson's picture show it.
#[function_component(VmFigures)]
pub fn vm_figures(props: &VmFiguresProps) -> Html {
    let measured: Vec<(String, u64)> = props
        .containers
        .iter()
        .filter(|c| c.setup_us > 0 || !c.setup.is_empty())
        .map(|c| (c.name.clone(), c.setup_us.max(setup_time_us(&c.setup))))
        .collect();
    let source_note = if props.simulated {
        "simulated steps (model durations, not this host)"
    } else {
        "measured on this host by the runtime's step recorder"
    };
    html! {
        <section class="card figures">
            <h2>{"Figures"}</h2>
            <h3>{"Container setup time"}</h3>
            <p class="muted">{ source_note }</p>
            if measured.is_empty() {
                <p class="muted">{"No container with recorded steps yet."}</p>
            } else {
                <table><tbody>
                { for measured.iter().map(|(name, us)| html! {
                    <tr><th>{ name }</th><td class="figure">{ format!("{:.1} ms", *us as f64 / 1000.0) }</td></tr>
                }) }
                </tbody></table>
            }
            <h3>{"Virtual machines (published references, not measured here)"}</h3>
            <table><tbody>
            { for VM_REFERENCES.iter().map(|(what, figure, source)| html! {
                <tr><th>{ *what }</th><td class="figure">{ *figure }</td><td class="muted source">{ *source }</td></tr>
            }) }
            </tbody></table>
        </section>
    }
}
