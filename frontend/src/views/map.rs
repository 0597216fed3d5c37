//! The namespace map: every process is a node; choosing a namespace kind groups the
//! nodes by that namespace's inode, so processes that share one sit together.
//!
//! The layout is a pure function of the snapshot ([`layout`]): groups ordered by
//! inode, processes by host PID, so an update moves nothing that did not change
//! (a new process lands at the end of its group). [`super::map_canvas`] draws it; this
//! file holds the layout, the search ([`find_matches`]) and the view around the SVG.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use isolab_shared::{ContainerState, NamespaceKind, ProcessInfo, Snapshot};
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

pub use super::map_canvas::MapCanvas;
use super::ViewProps;

/// The SVG's width in user units (it scales to the element).
pub const MAP_WIDTH: f64 = 960.0;
const NODE_W: f64 = 72.0;
const NODE_H: f64 = 24.0;
/// The two sizes as attribute text, so drawing a node formats no floats.
pub(super) const NODE_W_ATTR: &str = "72";
pub(super) const NODE_H_ATTR: &str = "24";
pub(super) const GAP: f64 = 6.0;
const HEAD_H: f64 = 26.0;
pub(super) const PAD: f64 = 10.0;

/// One drawn process.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub host_pid: u32,
    /// Position inside its group (the group is translated), so a group that moves
    /// down leaves its nodes' attributes unchanged.
    pub x: f64,
    pub y: f64,
    /// "4242→1" for the pid kind (the NSpid chain), else the host PID.
    pub label: AttrValue,
}

/// One namespace (an inode) and its processes.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub inode: u64,
    /// "host", the containers that share it, or "nested".
    pub title: String,
    /// Height when open (a collapsed group is a tile of fixed size).
    pub height: f64,
    /// Shared with the group's component: an unchanged list is compared, not rebuilt.
    pub nodes: Rc<Vec<Node>>,
}

/// The whole picture for one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub groups: Vec<Rc<Group>>,
}

/// Every process of the snapshot with its container (`None` = host).
pub fn all_processes(snapshot: &Snapshot) -> Vec<(Option<&ContainerState>, &ProcessInfo)> {
    let host = snapshot.host.processes.iter().map(|p| (None, p));
    let contained = snapshot
        .containers
        .iter()
        .flat_map(|c| c.processes.iter().map(move |p| (Some(c), p)));
    host.chain(contained).collect()
}

/// A process's `kind` namespace: its own when the stream sent one (it differs from
/// its container's), else its container's.
pub fn namespace_of(
    container: Option<&ContainerState>,
    p: &ProcessInfo,
    kind: NamespaceKind,
) -> Option<u64> {
    p.namespaces
        .get(&kind)
        .or_else(|| container.and_then(|c| c.namespaces.get(&kind)))
        .copied()
}

/// The label of a node: the NSpid chain for pid, the host PID otherwise.
pub fn node_label(kind: NamespaceKind, p: &ProcessInfo) -> String {
    if kind == NamespaceKind::Pid && p.nspid.len() > 1 {
        p.nspid
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("→")
    } else {
        p.host_pid.to_string()
    }
}

/// Places the processes of `snapshot`, grouped by their `kind` namespace.
pub fn layout(snapshot: &Snapshot, kind: NamespaceKind) -> Layout {
    let host_inode = snapshot.host.namespaces.get(&kind).copied();
    let mut by_inode: BTreeMap<(bool, u64), Vec<&ProcessInfo>> = BTreeMap::new();
    // Whose namespace it is (a container's first process) and, failing that, whose
    // processes are in it (a namespace nested inside a container).
    let mut owners: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    let mut members: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (container, p) in all_processes(snapshot) {
        let inode = namespace_of(container, p, kind).unwrap_or(0);
        let container = container.map(|c| c.name.as_str());
        // The host's namespace first, then the others by inode: stable across updates.
        by_inode
            .entry((Some(inode) != host_inode, inode))
            .or_default()
            .push(p);
        if let Some(name) = container {
            let names = members.entry(inode).or_default();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    for c in &snapshot.containers {
        if let Some(&inode) = c.namespaces.get(&kind) {
            let names = owners.entry(inode).or_default();
            if !names.contains(&c.name.as_str()) {
                names.push(c.name.as_str());
            }
        }
    }
    let per_row = (((MAP_WIDTH - 2.0 * PAD) + GAP) / (NODE_W + GAP))
        .floor()
        .max(1.0) as usize;
    let mut groups = Vec::with_capacity(by_inode.len());
    for ((_, inode), mut procs) in by_inode {
        procs.sort_by_key(|p| p.host_pid);
        let title = if inode == 0 {
            "namespace not readable".to_string()
        } else if Some(inode) == host_inode {
            "host (initial namespace)".to_string()
        } else {
            match (owners.get(&inode), members.get(&inode)) {
                (Some(names), _) => names.join(", "),
                (None, Some(names)) => format!("nested inside {}", names.join(", ")),
                (None, None) => "another namespace".to_string(),
            }
        };
        let nodes: Vec<Node> = procs
            .iter()
            .enumerate()
            .map(|(i, p)| Node {
                host_pid: p.host_pid,
                x: PAD + (i % per_row) as f64 * (NODE_W + GAP),
                y: HEAD_H + (i / per_row) as f64 * (NODE_H + GAP),
                label: node_label(kind, p).into(),
            })
            .collect();
        let rows = nodes.len().div_ceil(per_row).max(1) as f64;
        let height = HEAD_H + rows * (NODE_H + GAP) + PAD;
        groups.push(Rc::new(Group {
            inode,
            title,
            height,
            nodes: Rc::new(nodes),
        }));
    }
    Layout { groups }
}

/// One fill pattern per kind, so the kinds differ by more than colour.
pub fn patterns() -> Html {
    NamespaceKind::ALL.iter().map(|k| {
        let name = k.name();
        let mark = match k {
            NamespaceKind::Pid => html! { <path d="M0,10 L10,0" /> },
            NamespaceKind::Net => html! { <path d="M0,0 L10,10" /> },
            NamespaceKind::Mnt => html! { <circle cx="5" cy="5" r="1.5" /> },
            NamespaceKind::Uts => html! { <path d="M0,5 L10,5" /> },
            NamespaceKind::Ipc => html! { <path d="M5,0 L5,10" /> },
            NamespaceKind::User => html! { <path d="M0,5 L10,5 M5,0 L5,10" /> },
            NamespaceKind::Cgroup => html! { <path d="M0,10 L10,0 M0,0 L10,10" /> },
        };
        html! {
            <pattern id={format!("pat-{name}")} class={format!("ns-{name}")} width="10" height="10"
                     patternUnits="userSpaceOnUse">
                <rect width="10" height="10" class="pat-bg" />
                { mark }
            </pattern>
        }
    }).collect()
}

/// Host PIDs of the processes `query` finds: a number is a host PID, anything else is
/// looked for (ignoring case) in command lines and container names.
pub fn find_matches(snapshot: &Snapshot, query: &str) -> BTreeSet<u32> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return BTreeSet::new();
    }
    let pid = needle.parse::<u32>().ok();
    all_processes(snapshot)
        .into_iter()
        .filter(|(c, p)| match pid {
            Some(pid) => p.host_pid == pid,
            None => {
                p.cmdline.to_lowercase().contains(&needle)
                    || c.is_some_and(|c| c.name.to_lowercase().contains(&needle))
            }
        })
        .map(|(_, p)| p.host_pid)
        .collect()
}

/// Focuses the `n`th highlighted node under `root` (wrapping); false when none is drawn.
fn focus_match(root: &NodeRef, n: usize) -> bool {
    let Some(found) = root
        .cast::<web_sys::Element>()
        .and_then(|r| r.query_selector_all(".node.match").ok())
    else {
        return false;
    };
    let Some(node) = found.get(n as u32 % found.length().max(1)) else {
        return false;
    };
    // A node is an SVG element, which web-sys only types as HtmlElement; call its
    // focus() by name instead.
    js_sys::Reflect::get(&node, &JsValue::from_str("focus"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .is_some_and(|focus| focus.call0(&node).is_ok())
}

/// The map view: kind chooser, search, the SVG, and the details of the hovered process.
#[function_component(NamespaceMap)]
pub fn namespace_map(props: &ViewProps) -> Html {
    let kind = use_state(|| NamespaceKind::Pid);
    let hovered = use_state(|| None::<u32>);
    let query = use_state(String::new);
    let toggled = use_state(|| Rc::new(BTreeSet::<u64>::new()));
    // Which match Enter focuses next.
    let cursor = use_state(|| 0usize);
    let canvas_ref = use_node_ref();
    let chooser = NamespaceKind::ALL.iter().map(|&k| {
        let kind_handle = kind.clone();
        let toggled = toggled.clone();
        let onclick = Callback::from(move |_| {
            kind_handle.set(k);
            toggled.set(Rc::default());
        });
        let current = *kind == k;
        html! {
            <button class={classes!("ns-chip", "kind", format!("ns-{}", k.name()), current.then_some("current"))}
                    aria-pressed={current.to_string()} title={k.description()} {onclick}>
                { k.name() }
            </button>
        }
    });
    let on_hover = {
        let hovered = hovered.clone();
        Callback::from(move |pid: Option<u32>| {
            if pid.is_some() && *hovered != pid {
                hovered.set(pid);
            }
        })
    };
    let on_toggle = {
        let toggled = toggled.clone();
        Callback::from(move |inode: u64| {
            let mut next = (**toggled).clone();
            if !next.remove(&inode) {
                next.insert(inode);
            }
            toggled.set(Rc::new(next));
        })
    };
    let matches = {
        let q = (*query).clone();
        use_memo((props.state.version, q), |(_, q)| {
            find_matches(&props.state.snapshot, q)
        })
    };
    let oninput = {
        let (query, cursor) = (query.clone(), cursor.clone());
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                query.set(input.value());
                cursor.set(0);
            }
        })
    };
    let onkeydown = {
        let (canvas_ref, cursor) = (canvas_ref.clone(), cursor.clone());
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                if focus_match(&canvas_ref, *cursor) {
                    cursor.set(*cursor + 1);
                }
            }
        })
    };
    let snapshot = &props.state.snapshot;
    let details = hovered.and_then(|pid| {
        all_processes(snapshot)
            .into_iter()
            .find(|(_, p)| p.host_pid == pid)
    });
    let total = all_processes(snapshot).len();
    let found = match (query.trim().is_empty(), matches.len()) {
        (true, _) => String::new(),
        (false, 0) => "no process matches".to_string(),
        (false, 1) => "1 match: Enter focuses it".to_string(),
        (false, n) => format!("{n} matches: Enter focuses the next"),
    };
    html! {
        <div class="map-view">
            <section class="card">
                <div class="card-head">
                    <h2>{"Namespace map"}</h2>
                    <span class="muted">{ format!("{total} processes; group by:") }</span>
                    <div class="kind-chooser" role="group" aria-label="namespace kind">{ for chooser }</div>
                </div>
                <p class="muted">{ kind.name() }{": "}{ kind.description() }{"."}
                    if *kind == NamespaceKind::Pid {
                        {" Labels show the NSpid chain: host PID → PID inside each nested namespace."}
                    }
                </p>
                <div class="map-tools">
                    <label class="map-search">{"Find a process "}
                        <input type="search" class="map-search-input" placeholder="host PID or name"
                               value={(*query).clone()} {oninput} {onkeydown} />
                    </label>
                    <span class="muted match-count" aria-live="polite">{ found }</span>
                </div>
                <div class="map-and-details">
                    <div class="map-scroll" ref={canvas_ref}>
                        <MapCanvas state={props.state.clone()} kind={*kind} {on_hover}
                                   matches={matches} toggled={(*toggled).clone()} {on_toggle} />
                    </div>
                    <aside class="details card" aria-live="polite">
                        { match details {
                            Some((container, p)) => process_details(container, p),
                            None => html! { <p class="muted">{"Point at (or tab to) a process to see its seven namespaces."}</p> },
                        } }
                    </aside>
                </div>
            </section>
        </div>
    }
}

fn process_details(container: Option<&ContainerState>, p: &ProcessInfo) -> Html {
    let chain = p
        .nspid
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" → ");
    html! {
        <>
            <h3>{ format!("PID {}", p.host_pid) }</h3>
            <dl class="facts">
                <dt>{"in"}</dt><dd>{ container.map_or("the host", |c| c.name.as_str()) }</dd>
                <dt>{"NSpid"}</dt><dd>{ chain }</dd>
                <dt>{"parent"}</dt><dd>{ p.ppid }</dd>
                <dt>{"uid"}</dt><dd>{ p.uid }</dd>
                <dt>{"command"}</dt><dd><code>{ &p.cmdline }</code></dd>
            </dl>
            <table class="inodes">
                <tbody>
                { for NamespaceKind::ALL.iter().map(|k| html! {
                    <tr>
                        <th><span class={classes!("ns-chip", format!("ns-{}", k.name()))}>{ k.name() }</span></th>
                        <td><code>{ namespace_of(container, p, *k).map(|i| i.to_string()).unwrap_or_else(|| "?".into()) }</code></td>
                    </tr>
                }) }
                </tbody>
            </table>
        </>
    }
}
