//! The simulated side of the differential harness: every scenario in
//! `tests/differential/*.toml` must observe, in the simulator, what its `expect`
//! table says the kernel's rules give. The real side is `backend/tests/differential.rs`.

use std::path::Path;

use isolab_shared::sim::differential::{load_scenarios, observe_simulated, DiffScenario};

/// Every scenario file of `shared/tests/differential`, read here (the shared crate
/// does no IO) and parsed by the shared loader.
fn scenarios() -> Vec<(String, DiffScenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let files = std::fs::read_dir(&dir)
        .expect("the scenario directory exists")
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("readable");
            (name, text)
        });
    load_scenarios(files).unwrap_or_else(|e| panic!("{e}"))
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
