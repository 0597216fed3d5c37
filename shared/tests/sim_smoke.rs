use isolab_shared::sim::Simulator;

#[test]
fn smoke() {
    let mut s = Simulator::new("two-containers").expect("scenario");
    for l in [
        "ps -ef",
        "unshare -p -f --mount-proc",
        "ps",
        "cat /proc/self/status",
        "exit",
        "ip addr",
        "hostname",
        "mount",
        "ipcs",
        "foo",
        "sleep 3 &",
        "ps",
        "id",
        "lsns",
    ] {
        println!("$ {l}\n{}", s.run_line(l));
    }
}
