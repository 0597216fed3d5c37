//! Shared helpers of the runtime integration tests: a private state root per test and
//! containers that are deleted even when a test fails.

#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use isolab::runtime::{Container, RuntimeConfig, Stdio};
use isolab_shared::{ContainerSpec, ExitStatus};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique name for kernel objects of this test process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The host's isolab objects (cgroups, inits) as one resource. Every test that makes
/// containers holds it shared while they live (a [`TestRoot`] does); a test that
/// counts what is left on the whole host takes it alone ([`host_alone`]), so the
/// containers of tests running beside it are not counted as its leftovers.
static HOST: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// Whether this thread holds [`HOST`] alone (then its roots take no share).
    static ALONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This thread's hold on [`HOST`] alone, until dropped.
pub struct HostAlone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>);

impl Drop for HostAlone {
    fn drop(&mut self) {
        ALONE.with(|a| a.set(false));
    }
}

/// Waits until no other test holds containers, and keeps others from making any.
pub fn host_alone() -> HostAlone {
    let guard = HOST.write().unwrap_or_else(|e| e.into_inner());
    ALONE.with(|a| a.set(true));
    HostAlone(guard)
}

/// A share of [`HOST`] for a test that makes containers without a [`TestRoot`]
/// (`None` when this thread already holds it alone).
pub fn host_shared() -> Option<std::sync::RwLockReadGuard<'static, ()>> {
    if ALONE.with(|a| a.get()) {
        return None;
    }
    Some(HOST.read().unwrap_or_else(|e| e.into_inner()))
}

/// A state root of its own, removed (with whatever is left in it) on drop.
pub struct TestRoot {
    pub config: RuntimeConfig,
    /// Released after the drop's gc: the root's containers are gone by then.
    _host: Option<std::sync::RwLockReadGuard<'static, ()>>,
}

impl TestRoot {
    pub fn new() -> Self {
        let mut config = RuntimeConfig::new(PathBuf::from(env!("CARGO_BIN_EXE_isolab")));
        config.state_root = std::env::temp_dir().join(unique("isolab-test-root"));
        TestRoot {
            config,
            _host: host_shared(),
        }
    }

    /// Ids of the containers whose state dirs are still here.
    pub fn leftover_dirs(&self) -> Vec<String> {
        std::fs::read_dir(&self.config.state_root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// Held (for reading) by every gc a test root runs as it is dropped. gc also removes
/// orphans of any state root, so a test that makes one on purpose takes it for writing,
/// and its orphan is not collected by another test's gc before its own.
pub static GC: std::sync::RwLock<()> = std::sync::RwLock::new(());

impl Drop for TestRoot {
    fn drop(&mut self) {
        let _gc = GC.read().unwrap_or_else(|e| e.into_inner());
        let _ = isolab::runtime::gc(&self.config);
        let _ = std::fs::remove_dir_all(&self.config.state_root);
    }
}

/// A container that is deleted when dropped, even if the test panics.
pub struct TestContainer {
    pub container: Option<Container>,
}

impl TestContainer {
    pub fn create(root: &TestRoot, spec: &ContainerSpec) -> Self {
        let c = Container::create(&root.config, spec, Stdio::Pipes).expect("container is created");
        TestContainer { container: Some(c) }
    }

    pub fn get(&mut self) -> &mut Container {
        self.container.as_mut().expect("container still here")
    }

    /// Deletes it now, reporting errors.
    pub fn delete(mut self) {
        if let Some(c) = self.container.take() {
            c.delete().expect("container is deleted");
        }
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        if let Some(c) = self.container.take() {
            let _ = c.delete();
        }
    }
}

/// A spec running `sh -c script` with pipes.
pub fn sh(script: &str) -> ContainerSpec {
    ContainerSpec {
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        tty: false,
        ..Default::default()
    }
}

/// Runs `spec` to its end; gives its exit status, stdout and stderr. Deletes it after.
pub fn run(root: &TestRoot, spec: &ContainerSpec) -> (ExitStatus, String, String) {
    let mut tc = TestContainer::create(root, spec);
    let pipes = tc.get().take_pipes().expect("pipes");
    drop(pipes.stdin);
    tc.get().start().expect("container starts");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::fs::File::from(pipes.stderr).read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    let _ = std::fs::File::from(pipes.stdout).read_to_string(&mut out);
    let err = err_reader.join().unwrap_or_default();
    let exit = tc.get().wait().expect("wait works");
    tc.delete();
    (exit, out, err)
}

/// The namespace inode of `kind` for `pid` ("self" for this process).
pub fn ns_inode(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .expect("ns link readable")
        .to_string_lossy()
        .into_owned()
}
