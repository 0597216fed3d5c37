//! The classroom views' logic, in the browser: the join link's code, the countdown's
//! text, and which containers the teacher's grid shows.

use isolab_frontend::connection::join_code_of;
use isolab_frontend::views::classroom::countdown::remaining_text;
use isolab_frontend::views::classroom::grid::grid_entries;
use isolab_shared::{ContainerSpec, ContainerState, ContainerStatus, IsolationFacts};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_join_link_names_its_code() {
    assert_eq!(join_code_of("/join/K7P-2QX"), Some("K7P-2QX".to_string()));
    assert_eq!(join_code_of("/join/K7P-2QX/"), Some("K7P-2QX".to_string()));
    assert_eq!(join_code_of("/join/"), None);
    assert_eq!(join_code_of("/join/a/b"), None);
    assert_eq!(join_code_of("/"), None);
    assert_eq!(join_code_of("/joinK7P"), None);
}

#[wasm_bindgen_test]
fn the_countdown_reads_minutes_and_hours_and_never_zero_early() {
    assert_eq!(remaining_text(0), None);
    assert_eq!(remaining_text(-5), None);
    assert_eq!(remaining_text(1).as_deref(), Some("0:01"));
    assert_eq!(remaining_text(61_000).as_deref(), Some("1:01"));
    assert_eq!(remaining_text(3_600_000).as_deref(), Some("1:00:00"));
    assert_eq!(remaining_text(5_400_500).as_deref(), Some("1:30:01"));
}

fn container(id: &str, owner: Option<&str>, status: ContainerStatus) -> ContainerState {
    ContainerState {
        id: id.into(),
        name: format!("n-{id}"),
        spec: ContainerSpec::default(),
        status,
        exit: None,
        init_pid: Some(100),
        created_at_ms: 1_000,
        started_at_ms: Some(1_000),
        processes: vec![],
        namespaces: Default::default(),
        cgroup: None,
        interfaces: vec![],
        setup: vec![],
        isolation: IsolationFacts::default(),
        setup_us: 0,
        owner: owner.map(str::to_string),
    }
}

#[wasm_bindgen_test]
fn the_grid_shows_students_running_containers_by_name() {
    let containers = vec![
        container("a", Some("s1"), ContainerStatus::Running),
        container("t", None, ContainerStatus::Running),
        container("b", Some("s2"), ContainerStatus::Exited),
        container("gone", Some("removed"), ContainerStatus::Running),
    ];
    let names = |id: &str| (id == "s1" || id == "s2").then(|| format!("name-{id}"));
    let entries = grid_entries(&containers, names);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, "a");
    assert_eq!(entries[0].title, "name-s1 · n-a");
}
