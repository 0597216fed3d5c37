//! `isolab lessons check`: runs every lesson step's solution and checks headless, and
//! prints one line per step and a summary line `N passed, N failed`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use isolab_shared::lesson::{
    self, check_lesson, run_ready, Lesson, LessonError, SimSource, SourceKind,
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

/// Runs a `lessons` subcommand.
pub fn run(command: LessonsCommand) -> anyhow::Result<ExitCode> {
    match command {
        LessonsCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if matches!(args.source, SourceArg::Live) {
        bail!("lessons check --source live is not yet implemented; use --source sim");
    }
    let (lessons, errors) = match &args.dir {
        Some(dir) => load_dir(dir)?,
        None => lesson::load_lessons(lesson::EMBEDDED_LESSONS.iter().copied()),
    };
    for id in &args.ids {
        if !lessons.iter().any(|l| &l.id == id)
            && !errors.iter().any(|e| e.file.contains(id.as_str()))
        {
            bail!("no lesson with id '{id}'");
        }
    }
    let picked = |id: &str| args.ids.is_empty() || args.ids.iter().any(|i| i == id);
    let (mut passed, mut failed) = (0, 0);
    for e in &errors {
        println!("FAIL  {e}");
        failed += 1;
    }
    for lesson in lessons.iter().filter(|l| picked(&l.id)) {
        let (p, f) = check_on_sim(lesson)?;
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check_on_sim(lesson: &Lesson) -> anyhow::Result<(usize, usize)> {
    if !lesson.runs_on(SourceKind::Sim) {
        println!("skip  {}: runs on live only", lesson.id);
        return Ok((0, 0));
    }
    let mut source = SimSource::new().context("starting the simulator")?;
    let report = run_ready(check_lesson(&mut source, lesson))
        .context("the simulator source waited, which it never should")?;
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
    Ok(report.counts())
}

/// Reads every `*.toml` in `dir`; a file that cannot be read counts as a bad lesson.
fn load_dir(dir: &Path) -> anyhow::Result<(Vec<Lesson>, Vec<LessonError>)> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((name, text)),
            Err(e) => unreadable.push(LessonError {
                file: name,
                line: 1,
                field: "(file)".to_string(),
                message: e.to_string(),
            }),
        }
    }
    let (lessons, mut errors) =
        lesson::load_lessons(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    errors.extend(unreadable);
    Ok((lessons, errors))
}
