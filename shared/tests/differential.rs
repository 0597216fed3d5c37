//! The simulated side of the differential harness: every scenario in
//! `tests/differential/*.toml` must observe, in the simulator, what its `expect`
//! table says the kernel's rules give. The real side is `backend/tests/differential.rs`.

use isolab_shared::sim::differential::{observe_simulated, DiffScenario};

/// Every scenario file, by file stem.
pub fn scenarios() -> Vec<(String, DiffScenario)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential");
    let mut out: Vec<(String, DiffScenario)> = std::fs::read_dir(dir)
        .expect("the scenario directory exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let s: DiffScenario =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (
                p.file_stem()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned(),
                s,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_simulator_observes_what_every_scenario_expects() {
    let all = scenarios();
    assert!(
        all.len() >= 15,
        "at least 15 scenarios, found {}",
        all.len()
    );
    let mut wrong = Vec::new();
    for (name, s) in &all {
        let seen =
            observe_simulated(s, &format!("d{}", &name[..2])).expect("the simulator runs it");
        if seen != s.expect {
            wrong.push(format!(
                "{name}:\n  expected {:?}\n  observed {seen:?}",
                s.expect
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        all.len(),
        wrong.join("\n")
    );
}
