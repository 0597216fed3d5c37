//! Checks the layering of the crate's source: the rooms of [`ROOMS`], no room importing
//! a higher one, and no import cycle between the files of a room. Reads the source
//! files, so a new file is checked without a list to update. Also holds the rule on
//! long files for the whole workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms from the lowest up: a directory, or a file of its own (`store.rs`).
const ROOMS: [&str; 11] = [
    "wall_clock",
    "sysinfo",
    "observe",
    "runtime",
    "store",
    "recording",
    "live",
    "classroom",
    "server",
    "sim_cli",
    "commands",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A source's code without its comments: a doc link to a sibling is no import.
fn code_of(text: &str) -> String {
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    code.join("\n")
}

/// Every .rs file under `dir`, with its code.
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
            out.push((path, code_of(&text)));
        }
    }
    out
}

/// The files of `room`: its directory, or its one file.
fn room_sources(room: &str) -> Vec<(PathBuf, String)> {
    let dir = src().join(room);
    let file = src().join(format!("{room}.rs"));
    if dir.is_dir() {
        sources(&dir)
    } else {
        let text = std::fs::read_to_string(&file).expect("a room's file reads");
        vec![(file, code_of(&text))]
    }
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
        for (path, text) in room_sources(room) {
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

#[test]
fn no_import_cycle_between_the_files_of_a_room() {
    for room in ROOMS.into_iter().filter(|r| src().join(r).is_dir()) {
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

#[test]
fn every_file_of_the_crate_is_in_a_room() {
    let top: Vec<String> = std::fs::read_dir(src())
        .expect("src reads")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some(name.strip_suffix(".rs").unwrap_or(&name).to_string())
        })
        .filter(|n| !["lib", "main", "layering"].contains(&n.as_str()))
        .filter(|n| !ROOMS.contains(&n.as_str()))
        .collect();
    assert!(top.is_empty(), "not in a room of ROOMS: {top:?}");
}

/// A source file may run past this many lines only with a reason near its top.
const LONG_FILE: usize = 500;

/// The workspace's source files: Rust, the e2e scripts, the page's css, the `x` script.
fn workspace_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            let skipped = [
                "target",
                "dist",
                "node_modules",
                "artifacts",
                "corpus",
                "seeds",
            ];
            if !name.starts_with('.') && !skipped.contains(&name.as_ref()) {
                workspace_sources(&path, out);
            }
        } else if ["rs", "mjs", "js", "css", "html"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
            || name == "x"
        {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_500_lines_without_a_reason_at_its_top() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    workspace_sources(&root, &mut files);
    assert!(files.len() > 100, "the walk found the workspace's files");
    let mut long = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // The reason says so in so many words in the first lines: "over 500 lines: ...".
        let reasoned = text
            .lines()
            .take(4)
            .any(|l| l.contains(&format!("{LONG_FILE} lines")));
        let lines = text.lines().count();
        if lines > LONG_FILE && !reasoned {
            long.push(format!("{} ({lines} lines)", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over {LONG_FILE} lines with no reason at their top: {long:#?}"
    );
}
