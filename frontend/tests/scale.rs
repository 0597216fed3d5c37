//! The pure parts of the UI at scale: the container filter, the map's search, and the
//! placement of collapsed groups.

use std::rc::Rc;

use isolab_frontend::views::container_list::{container_matches, filter_containers};
use isolab_frontend::views::map::{find_matches, layout};
use isolab_frontend::views::map_canvas::{place, SUMMARY_ABOVE};
use isolab_shared::{
    ContainerSpec, ContainerState, ContainerStatus, IsolationFacts, NamespaceKind, ProcessInfo,
    Snapshot,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container(n: u32) -> ContainerState {
    ContainerState {
        id: format!("id{n}"),
        name: format!("Web{n}"),
        spec: ContainerSpec {
            image: "alpine".into(),
            ..Default::default()
        },
        init_pid: Some(1000 + n),
        status: ContainerStatus::Created,
        exit: None,
        created_at_ms: 0,
        started_at_ms: None,
        processes: vec![ProcessInfo {
            host_pid: 1000 + n,
            nspid: vec![1000 + n, 1],
            ppid: 1,
            cmdline: format!("/bin/nginx -g worker{n}"),
            state: "S".into(),
            uid: 0,
            namespaces: Default::default(),
        }],
        namespaces: [(NamespaceKind::Pid, 5000 + n as u64)]
            .into_iter()
            .collect(),
        cgroup: None,
        interfaces: vec![],
        setup: vec![],
        isolation: IsolationFacts::default(),
        owner: None,
        setup_us: 0,
    }
}

fn snapshot(n: u32) -> Snapshot {
    let mut s = Snapshot::default();
    s.host.namespaces.insert(NamespaceKind::Pid, 1);
    s.containers = (0..n).map(container).collect();
    s
}

#[wasm_bindgen_test]
fn the_filter_matches_name_id_status_and_image_ignoring_case() {
    let c = container(7);
    for query in ["web7", "ID7", "Created", "ALPINE", "", "  "] {
        assert!(container_matches(&c, query), "{query:?} matches");
    }
    assert!(!container_matches(&c, "busybox"));
    let s = snapshot(30);
    assert_eq!(
        filter_containers(&s.containers, "web2").len(),
        11,
        "web2, web20..web29"
    );
}

#[wasm_bindgen_test]
fn the_map_search_finds_by_host_pid_or_name() {
    let s = snapshot(30);
    assert_eq!(
        find_matches(&s, "1007").into_iter().collect::<Vec<_>>(),
        [1007]
    );
    assert_eq!(
        find_matches(&s, "WORKER12").into_iter().collect::<Vec<_>>(),
        [1012]
    );
    assert_eq!(find_matches(&s, "web1").len(), 11, "container names too");
    assert!(find_matches(&s, " ").is_empty());
    assert!(
        find_matches(&s, "1").is_empty(),
        "a number is a whole host PID"
    );
}

#[wasm_bindgen_test]
fn collapsed_groups_share_rows_and_an_open_one_takes_its_own() {
    let s = snapshot(SUMMARY_ABOVE as u32 + 6);
    let groups = layout(&s, NamespaceKind::Pid).groups;
    assert!(groups.len() > SUMMARY_ABOVE);
    let (all_collapsed, short) = place(&groups, |_| false);
    assert_eq!(all_collapsed[0].y, all_collapsed[2].y, "three tiles a row");
    assert!(all_collapsed[3].y > all_collapsed[2].y);
    let open = groups[4].inode;
    let (one_open, tall) = place(&groups, |g| g.inode == open);
    assert!(one_open[4].expanded && one_open[4].x == 0.0);
    assert!(
        one_open[5].y > one_open[4].y,
        "the next tile starts below the open group"
    );
    assert!(tall > short);
    assert!(
        Rc::ptr_eq(&one_open[0].group, &groups[0]),
        "places share the layout's groups"
    );
}
