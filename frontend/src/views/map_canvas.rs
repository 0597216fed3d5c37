//! The SVG of the namespace map, drawn by memoised components: a group, its nodes and
//! each node re-render only when their props change, so an update redraws what moved.
//!
//! Above [`SUMMARY_ABOVE`] groups the map starts as a summary: every group collapsed to
//! a tile (title and process count), three to a row; a group opens when the user
//! toggles it or a search finds a process in it (at most [`MAX_AUTO_EXPAND`] at once).

use std::collections::BTreeSet;
use std::rc::Rc;

use isolab_shared::NamespaceKind;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::map::{layout, Group, Node, GAP, MAP_WIDTH, NODE_H_ATTR, NODE_W_ATTR, PAD};
use crate::state::State;

/// More groups than this and the map opens collapsed (500 containers: 500 tiles).
pub const SUMMARY_ABOVE: usize = 24;
/// A search opens at most this many groups, so a broad query cannot draw everything.
pub const MAX_AUTO_EXPAND: usize = 12;
const TILE_COLS: usize = 3;
const TILE_W: f64 = (MAP_WIDTH - GAP * (TILE_COLS as f64 - 1.0)) / TILE_COLS as f64;
const TILE_H: f64 = 30.0;
/// Characters of a title a tile has room for.
const TILE_TITLE_CHARS: usize = 26;

/// One group where it is drawn, open or collapsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub group: Rc<Group>,
    pub x: f64,
    pub y: f64,
    pub expanded: bool,
}

/// Places the groups in order: an open group takes a full row, collapsed ones share
/// rows of tiles. Returns the places and the total height.
pub fn place(groups: &[Rc<Group>], expanded: impl Fn(&Group) -> bool) -> (Vec<Placed>, f64) {
    let mut placed = Vec::with_capacity(groups.len());
    let (mut y, mut col) = (0.0, 0usize);
    for g in groups {
        if expanded(g) {
            if col > 0 {
                y += TILE_H + GAP * 2.0;
                col = 0;
            }
            placed.push(Placed {
                group: g.clone(),
                x: 0.0,
                y,
                expanded: true,
            });
            y += g.height + GAP * 2.0;
        } else {
            let x = col as f64 * (TILE_W + GAP);
            placed.push(Placed {
                group: g.clone(),
                x,
                y,
                expanded: false,
            });
            col += 1;
            if col == TILE_COLS {
                col = 0;
                y += TILE_H + GAP * 2.0;
            }
        }
    }
    if col > 0 {
        y += TILE_H + GAP * 2.0;
    }
    (placed, y)
}

/// Props of [`MapCanvas`].
#[derive(Properties, PartialEq)]
pub struct MapCanvasProps {
    pub state: UseReducerHandle<State>,
    pub kind: NamespaceKind,
    /// Called with the host PID under the pointer or focus.
    pub on_hover: Callback<Option<u32>>,
    /// Host PIDs the search found: highlighted, and their groups opened.
    #[prop_or_default]
    pub matches: Rc<BTreeSet<u32>>,
    /// Inodes of the groups the user toggled away from their default (open, or
    /// collapsed in a summary).
    #[prop_or_default]
    pub toggled: Rc<BTreeSet<u64>>,
    /// Called with a group's inode when the user toggles it.
    #[prop_or_default]
    pub on_toggle: Callback<u64>,
}

/// The SVG of the map; the layout is recomputed only when the state or the kind changes.
#[function_component(MapCanvas)]
pub fn map_canvas(props: &MapCanvasProps) -> Html {
    let kind = props.kind;
    let layout = use_memo((props.state.version, kind), |_| {
        layout(&props.state.snapshot, kind)
    });
    let summary = layout.groups.len() > SUMMARY_ABOVE;
    let found: BTreeSet<u64> = if props.matches.is_empty() {
        BTreeSet::new()
    } else {
        layout
            .groups
            .iter()
            .filter(|g| g.nodes.iter().any(|n| props.matches.contains(&n.host_pid)))
            .map(|g| g.inode)
            .collect()
    };
    let opened_by_search: BTreeSet<u64> = found.iter().take(MAX_AUTO_EXPAND).copied().collect();
    let (placed, height) = place(&layout.groups, |g| {
        let default = !summary || opened_by_search.contains(&g.inode);
        default != props.toggled.contains(&g.inode)
    });
    let closest_attr = |e: &Event, attr: &str| -> Option<String> {
        let el = e.target()?.dyn_into::<web_sys::Element>().ok()?;
        el.closest(&format!("[{attr}]")).ok()??.get_attribute(attr)
    };
    let onmouseover = {
        let hover = props.on_hover.clone();
        Callback::from(move |e: MouseEvent| {
            hover.emit(closest_attr(&e, "data-pid").and_then(|p| p.parse().ok()))
        })
    };
    let onfocusin = {
        let hover = props.on_hover.clone();
        Callback::from(move |e: FocusEvent| {
            hover.emit(closest_attr(&e, "data-pid").and_then(|p| p.parse().ok()))
        })
    };
    // One listener for every group's toggle (delegated), so the groups' props hold no
    // callbacks and stay equal across updates.
    let onclick = {
        let toggle = props.on_toggle.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(inode) = closest_attr(&e, "data-toggle").and_then(|i| i.parse().ok()) {
                toggle.emit(inode);
            }
        })
    };
    let onkeydown = {
        let toggle = props.on_toggle.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() != "Enter" && e.key() != " " {
                return;
            }
            if let Some(inode) = closest_attr(&e, "data-toggle").and_then(|i| i.parse().ok()) {
                e.prevent_default();
                toggle.emit(inode);
            }
        })
    };
    let name = kind.name();
    html! {
        <svg class={classes!("ns-map", summary.then_some("summary"))}
             viewBox={format!("0 0 {MAP_WIDTH} {}", height.max(40.0))}
             width="100%" role="group" aria-label={format!("processes grouped by {name} namespace")}
             {onmouseover} {onfocusin} {onclick} {onkeydown}>
            <defs>{ super::map::patterns() }</defs>
            // The translation sits outside the memoised group, so a group that only moves
            // (one above it opened or grew a row) patches one attribute, not its body.
            { for placed.into_iter().map(|p| {
                let inode = p.group.inode;
                let matches = found.contains(&inode).then(|| props.matches.clone());
                html! {
                    <g key={inode} class="ns-slot" transform={format!("translate({},{})", p.x, p.y)}>
                        <MapGroup group={p.group} expanded={p.expanded} {kind} {matches} />
                    </g>
                }
            }) }
        </svg>
    }
}

/// Props of [`MapGroup`].
#[derive(Properties, PartialEq)]
struct MapGroupProps {
    group: Rc<Group>,
    kind: NamespaceKind,
    expanded: bool,
    /// The search's matches, given only to a group that holds one.
    matches: Option<Rc<BTreeSet<u32>>>,
}

/// One namespace, drawn at the origin: open, its box, title and nodes; collapsed, a
/// tile with its count.
#[function_component(MapGroup)]
fn map_group(props: &MapGroupProps) -> Html {
    let g = &props.group;
    let name = props.kind.name();
    let count = g.nodes.len();
    let plural = if count == 1 { "" } else { "es" };
    let full_title = format!(
        "{name}:[{}] · {} · {count} process{plural}",
        g.inode, g.title
    );
    let state = if props.expanded { "collapse" } else { "expand" };
    let toggle_label = format!("{}, {count} process{plural}: {state}", g.title);
    let (width, height, title) = if props.expanded {
        (MAP_WIDTH, g.height, full_title.clone())
    } else {
        let short: String = if g.title.chars().count() > TILE_TITLE_CHARS {
            g.title
                .chars()
                .take(TILE_TITLE_CHARS - 1)
                .chain(['…'])
                .collect()
        } else {
            g.title.clone()
        };
        (TILE_W, TILE_H, format!("{short} · {count}"))
    };
    html! {
        <g class={classes!("ns-group", format!("ns-{name}"), (!props.expanded).then_some("collapsed"),
                           props.matches.is_some().then_some("has-match"))}
           data-inode={g.inode.to_string()}>
            <rect class="group-box" x="0" y="0" width={width.to_string()}
                  height={height.to_string()} rx="8" fill={format!("url(#pat-{name})")} />
            <g class="group-toggle" data-toggle={g.inode.to_string()} role="button" tabindex="0"
               aria-expanded={props.expanded.to_string()} aria-label={toggle_label}>
                <title>{ full_title }</title>
                <text class="group-title" x={PAD.to_string()} y="19">
                    { if props.expanded { "▾ " } else { "▸ " } }{ title }
                </text>
            </g>
            if props.expanded {
                <GroupNodes nodes={g.nodes.clone()} matches={props.matches.clone()} />
            }
        </g>
    }
}

/// Props of [`GroupNodes`].
#[derive(Properties, PartialEq)]
struct GroupNodesProps {
    nodes: Rc<Vec<Node>>,
    matches: Option<Rc<BTreeSet<u32>>>,
}

/// The nodes of one group: skipped when its list and matches are unchanged.
#[function_component(GroupNodes)]
fn group_nodes(props: &GroupNodesProps) -> Html {
    let matched = |pid: u32| props.matches.as_ref().is_some_and(|m| m.contains(&pid));
    props
        .nodes
        .iter()
        .map(|n| html! { <MapNode key={n.host_pid} node={n.clone()} matched={matched(n.host_pid)} /> })
        .collect()
}

/// Props of [`MapNode`].
#[derive(Properties, PartialEq)]
struct MapNodeProps {
    node: Node,
    matched: bool,
}

/// One process: skipped when its place, label and highlight are unchanged.
#[function_component(MapNode)]
fn map_node(props: &MapNodeProps) -> Html {
    let n = &props.node;
    html! {
        <g class={classes!("node", props.matched.then_some("match"))} data-pid={n.host_pid.to_string()}
           tabindex="0" transform={format!("translate({},{})", n.x, n.y)}>
            <rect width={NODE_W_ATTR} height={NODE_H_ATTR} rx="4" />
            <text x="6" y="16">{ n.label.clone() }</text>
        </g>
    }
}
