//! `isolab lessons check`: runs every lesson step's solution and checks headless, and
//! prints one line per step and a summary line `N passed, N failed`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use isolab::live::hub::EventHub;
use isolab::live::{watch, LiveConfig, LiveSource, Supervisor};
use isolab::runtime::RuntimeConfig;
use isolab::server::lessons;
use isolab::sysinfo;
use isolab_shared::lesson::{
    self, check_lesson, run_ready, Lesson, LessonError, LessonReport, SimSource, SourceKind,
};

/// `isolab lessons …`.
#[derive(clap::Subcommand)]
pub enum LessonsCommand {
    /// Run lessons' solutions and checks headless; exits non-zero on any failure.
    Check(CheckArgs),
}

/// The flags of `isolab lessons check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Where the checks run.
    #[arg(long, value_enum, default_value = "sim")]
    source: SourceArg,
    /// Read lessons from this directory's `*.toml` instead of the built-in ones.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Lesson ids to check (default: all).
    ids: Vec<String>,
}

/// `--source` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SourceArg {
    Sim,
    Live,
}

/// Runs a `lessons` subcommand; live containers keep their state under `state_root`.
pub fn run(command: LessonsCommand, state_root: PathBuf) -> anyhow::Result<ExitCode> {
    match command {
        LessonsCommand::Check(args) => check(args, state_root),
    }
}

fn check(args: CheckArgs, state_root: PathBuf) -> anyhow::Result<ExitCode> {
    let live = matches!(args.source, SourceArg::Live);
    if live {
        if let Some(why) = sysinfo::live_status().reason {
            bail!("lessons check --source live: {why}");
        }
    }
    let (lessons, errors) = match &args.dir {
        Some(dir) => load_dir(dir),
        None => lesson::load_lessons(lesson::EMBEDDED_LESSONS.iter().copied()),
    };
    for id in &args.ids {
        if !lessons.iter().any(|l| &l.id == id)
            && !errors.iter().any(|e| e.file.contains(id.as_str()))
        {
            bail!("no lesson with id '{id}'");
        }
    }
    let picked: Vec<&Lesson> = lessons
        .iter()
        .filter(|l| args.ids.is_empty() || args.ids.iter().any(|i| i == &l.id))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for e in &errors {
        println!("FAIL  {e}");
        failed += 1;
    }
    let started = Instant::now();
    let (p, f) = if live {
        check_on_live(&picked, state_root)?
    } else {
        check_on_sim(&picked)?
    };
    passed += p;
    failed += f;
    println!(
        "{} lessons on {} in {:.1} s",
        picked.len(),
        if live { "live" } else { "sim" },
        started.elapsed().as_secs_f64()
    );
    // The summary stands alone on the last line, as test runners print theirs.
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn skipped(lesson: &Lesson, source: SourceKind) -> bool {
    if lesson.runs_on(source) {
        return false;
    }
    println!("skip  {}: not marked for {}", lesson.id, source.name());
    true
}

fn check_on_sim(lessons: &[&Lesson]) -> anyhow::Result<(usize, usize)> {
    let (mut passed, mut failed) = (0, 0);
    for lesson in lessons.iter().filter(|l| !skipped(l, SourceKind::Sim)) {
        let mut source = SimSource::new().context("starting the simulator")?;
        let report = run_ready(check_lesson(&mut source, lesson))
            .context("the simulator source waited, which it never should")?;
        let (p, f) = print_report(lesson, &report);
        passed += p;
        failed += f;
    }
    Ok((passed, failed))
}

/// Runs the lessons on real containers, one supervisor for all; Ctrl-C or SIGTERM
/// stops the run and still removes what it made.
fn check_on_live(lessons: &[&Lesson], state_root: PathBuf) -> anyhow::Result<(usize, usize)> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut config =
            RuntimeConfig::new(std::env::current_exe().context("cannot find the isolab binary")?);
        config.state_root = state_root;
        let hub = Arc::new(EventHub::default());
        let mut live = LiveConfig::new(config);
        // A check's terminals are nobody's to replay: no recordings, no index.
        live.recording.index = false;
        let sup = Supervisor::new(live, hub, sysinfo::live_status());
        watch::spawn_background(sup.clone());
        let interrupted = super::serve::shutdown_signal()?;
        let run = async {
            let (mut passed, mut failed) = (0, 0);
            for lesson in lessons.iter().filter(|l| !skipped(l, SourceKind::Live)) {
                // A source per lesson: each starts with a fresh host shell.
                let mut source = LiveSource::new(sup.clone());
                let report = check_lesson(&mut source, lesson).await;
                let (p, f) = print_report(lesson, &report);
                passed += p;
                failed += f;
            }
            (passed, failed)
        };
        let counts = tokio::select! {
            counts = run => Some(counts),
            () = interrupted => None,
        };
        // Whatever a cut-short lesson left (its source's host shell ended when dropped).
        sup.shutdown(false).await;
        counts.context("interrupted; the lesson containers were removed")
    })
}

fn print_report(lesson: &Lesson, report: &LessonReport) -> (usize, usize) {
    for s in &report.steps {
        let mark = if s.passed { "ok  " } else { "FAIL" };
        println!(
            "{mark}  {} {}/{} {}: {}",
            report.id,
            s.number,
            lesson.steps.len(),
            s.title,
            s.reason
        );
    }
    if let Some(e) = &report.error {
        println!("FAIL  {}: {e}", report.id);
    }
    report.counts()
}

/// Reads every `*.toml` in `dir`; a file that cannot be read counts as a bad lesson.
fn load_dir(dir: &Path) -> (Vec<Lesson>, Vec<LessonError>) {
    let (files, unreadable) = lessons::read_dir(dir);
    let (lessons, mut errors) =
        lesson::load_lessons(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    errors.extend(unreadable);
    (lessons, errors)
}
