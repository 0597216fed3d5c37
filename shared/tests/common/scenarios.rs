//! Loads the differential scenarios (`shared/tests/differential/*.toml`). Included by
//! the simulated side (`shared/tests/differential.rs`) and by the real side
//! (`backend/tests/differential.rs`), so both read the same files the same way.

use isolab_shared::sim::differential::DiffScenario;

/// Every scenario file, by file stem, sorted.
pub fn scenarios() -> Vec<(String, DiffScenario)> {
    // From either crate's manifest dir, `../shared` is the shared crate.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/differential");
    let mut out: Vec<(String, DiffScenario)> = std::fs::read_dir(dir)
        .expect("the scenario directory exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let s: DiffScenario =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, s)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
