//! Checks the layering of the crate's source: `commands -> server -> classroom -> live ->
//! runtime -> observe`, no room importing a higher one, and no import cycle between the
//! files of a room (but live/, see [`ACYCLIC_ROOMS`]). Reads the source files, so a new
//! file is checked without a list to update.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms from the lowest up.
const ROOMS: [&str; 6] = [
    "observe",
    "runtime",
    "live",
    "classroom",
    "server",
    "commands",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every .rs file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("source file reads");
            // Code only: a doc link to a sibling is no import.
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            out.push((path, code.join("\n")));
        }
    }
    out
}

/// The module names that follow `prefix` in `text` (`super::launch::x` -> `launch`).
fn names_after<'a>(text: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

#[test]
fn no_room_imports_a_higher_one() {
    let mut upward = Vec::new();
    for (rank, room) in ROOMS.iter().enumerate() {
        for (path, text) in sources(&src().join(room)) {
            for higher in &ROOMS[rank + 1..] {
                if text.contains(&format!("crate::{higher}")) {
                    upward.push(format!("{} uses crate::{higher}", path.display()));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layering: {upward:#?}"
    );
}

/// The sibling files of a room that each file uses (`super::x` or `crate::room::x`).
/// A subdirectory is one node; `mod.rs` is the room itself, not a sibling.
fn sibling_graph(room: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = src().join(room);
    let node_of = |path: &Path| -> Option<String> {
        let rel = path.strip_prefix(&dir).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "mod").then(|| name.to_string())
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources(&dir) {
        let Some(node) = node_of(&path) else { continue };
        let top_level =
            path.parent() == Some(dir.as_path()) || path.file_name().is_some_and(|n| n == "mod.rs");
        let mut used = names_after(&text, &format!("crate::{room}::"));
        if top_level {
            used.extend(names_after(&text, "super::"));
        }
        graph.entry(node.clone()).or_default();
        for name in used {
            if name != node && (dir.join(format!("{name}.rs")).exists() || dir.join(name).is_dir())
            {
                graph
                    .entry(node.clone())
                    .or_default()
                    .insert(name.to_string());
            }
        }
    }
    graph
}

/// A cycle through `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            return Some(path[start..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The rooms whose files must not import each other in a cycle. live/'s files are
/// one type's `impl` split by topic (supervisor, exec, adopt, watch), which refer
/// to each other by design.
const ACYCLIC_ROOMS: [&str; 5] = ["observe", "runtime", "classroom", "server", "commands"];

#[test]
fn no_import_cycle_between_the_files_of_a_room() {
    for room in ACYCLIC_ROOMS {
        let graph = sibling_graph(room);
        assert!(
            find_cycle(&graph).is_none(),
            "an import cycle in {room}/: {:?}",
            find_cycle(&graph)
        );
    }
}

#[test]
fn the_checks_see_a_cycle() {
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into()]));
    assert!(!sibling_graph("runtime").is_empty());
}
