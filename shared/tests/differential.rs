//! The simulated side of the differential harness: every scenario in
//! `tests/differential/*.toml` must observe, in the simulator, what its `expect`
//! table says the kernel's rules give. The real side is `backend/tests/differential.rs`.

use isolab_shared::sim::differential::observe_simulated;

#[path = "common/scenarios.rs"]
mod scenarios;

use scenarios::scenarios;

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
