//! Every embedded lesson runs on the simulator; malformed files fail with file, line and
//! field; checks fail on timeouts and never touch the student's terminal.

use super::*;
use crate::lesson::source::ProbeRun;

fn sim() -> SimSource {
    SimSource::new().expect("the lesson scenario exists")
}

#[test]
fn every_embedded_lesson_parses_and_there_are_at_least_twelve() {
    let (lessons, errors) = load_lessons(EMBEDDED_LESSONS.iter().copied());
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(lessons.len() >= 12, "only {} lessons", lessons.len());
}

#[test]
fn every_embedded_lesson_passes_on_the_simulator() {
    let (lessons, _) = load_lessons(EMBEDDED_LESSONS.iter().copied());
    let mut failures = Vec::new();
    for lesson in lessons.iter().filter(|l| l.runs_on(SourceKind::Sim)) {
        let mut source = sim();
        let report =
            run_ready(check_lesson(&mut source, lesson)).expect("the simulator never waits");
        if let Some(e) = &report.error {
            failures.push(format!("{}: {e}", lesson.id));
        }
        for s in report.steps.iter().filter(|s| !s.passed) {
            failures.push(format!(
                "{}/{} {}: {}",
                lesson.id, s.number, s.title, s.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

const GOOD: &str = r#"id = "t"
title = "T"
summary = "s"
sources = ["sim"]

[[setup]]
name = "box"
namespaces = ["uts"]

[[steps]]
title = "rename"
text = "Rename it."
solution = [{ in = "host", run = "nsenter -t {pid:box} -u hostname inner" }]

[[steps.checks]]
kind = "command"
in = "box"
run = "hostname"
output = { equals = "inner" }
"#;

#[test]
fn a_good_lesson_runs_and_a_check_that_already_passes_is_reported() {
    let lesson = parse_lesson("t.toml", GOOD).expect("valid");
    let report = run_ready(check_lesson(&mut sim(), &lesson)).expect("ready");
    assert_eq!(report.counts(), (1, 0), "{report:?}");

    let broken = GOOD.replace("equals = \"inner\"", "lacks = \"nothing-like-this\"");
    let lesson = parse_lesson("t.toml", &broken).expect("valid");
    let report = run_ready(check_lesson(&mut sim(), &lesson)).expect("ready");
    assert_eq!(report.counts(), (0, 1));
    assert!(
        report.steps[0].reason.contains("before its solution"),
        "{report:?}"
    );
}

fn error_of(text: &str) -> LessonError {
    parse_lesson("07-bad.toml", text).expect_err("malformed")
}

#[test]
fn malformed_files_name_file_line_and_field() {
    let e = error_of(&GOOD.replace("title = \"T\"\n", ""));
    assert_eq!(
        (e.file.as_str(), e.field.as_str()),
        ("07-bad.toml", "title"),
        "{e}"
    );

    let e = error_of(&GOOD.replace("run = \"hostname\"\n", "run = \"hostname\"\nexpect = 3\n"));
    assert_eq!((e.line, e.field.as_str()), (19, "expect"), "{e}");

    let e = error_of(&GOOD.replace("kind = \"command\"", "kind = \"telepathy\""));
    assert_eq!(e.line, 16, "{e}");
    assert!(e.to_string().starts_with("07-bad.toml:16:"), "{e}");

    let e = error_of(&GOOD.replace(
        "in = \"host\", run = \"nsenter",
        "in = \"vm\", run = \"nsenter",
    ));
    assert_eq!((e.line, e.field.as_str()), (13, "steps[1].solution"), "{e}");
    assert!(e.message.contains("'vm'"), "{e}");

    let e = error_of(&GOOD.replace("title = \"T\"", "title = 3"));
    assert_eq!((e.line, e.field.as_str()), (2, "title"), "{e}");

    let e = error_of(&GOOD.replace("sources = [\"sim\"]", "sources = []"));
    assert_eq!((e.line, e.field.as_str()), (4, "sources"), "{e}");

    let e = error_of(&GOOD.replace("namespaces = [\"uts\"]", "namespaces = [\"time\"]"));
    assert_eq!(e.line, 8, "{e}");

    let with_picture = |p: &str| {
        GOOD.replace(
            "sources = [\"sim\"]",
            &format!("sources = [\"sim\"]\npicture = {p}"),
        )
    };
    let e = error_of(&with_picture("[\"map\", \"x-ray\"]"));
    assert_eq!((e.line, e.field.as_str()), (5, "picture"), "{e}");
    for bad in ["[]", "[\"map\", \"map\"]"] {
        let e = error_of(&with_picture(bad));
        assert_eq!(e.field.as_str(), "picture", "{bad}: {e}");
    }
}

#[test]
fn a_lesson_names_the_tabs_of_its_picture_or_gets_the_usual_three() {
    use crate::lesson::PicturePart::*;
    let plain = parse_lesson("a.toml", GOOD).expect("good");
    assert_eq!(plain.picture, [Map, Steps, Limits]);
    let text = GOOD.replace(
        "sources = [\"sim\"]",
        "sources = [\"sim\"]\npicture = [\"figures\", \"map\"]",
    );
    let lesson = parse_lesson("a.toml", &text).expect("good");
    assert_eq!(lesson.picture, [Figures, Map]);
    let outline = crate::sim_protocol::LessonOutline::from(&lesson);
    assert_eq!(outline.picture, [Figures, Map]);
}

#[test]
fn a_bad_file_does_not_stop_the_others_and_ids_are_unique() {
    let files = [("a.toml", GOOD), ("b.toml", "id = 3"), ("c.toml", GOOD)];
    let (lessons, errors) = load_lessons(files);
    assert_eq!(lessons.len(), 1);
    let files: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(files, ["b.toml", "c.toml"], "{errors:?}");
}

#[test]
fn a_probe_past_ten_seconds_times_out_and_its_check_fails() {
    let mut source = sim();
    let run = run_ready(source.probe(&Target::Host, "sleep 11")).expect("ready");
    assert_eq!(run, Ok(ProbeRun::TimedOut));
    let check = Check::Command {
        terminal: "host".into(),
        run: "sleep 11".into(),
        exit: None,
        output: None,
    };
    let answer = run_ready(runner::answer(
        &mut source,
        &check.probe(),
        &LessonContainers::new(),
        0,
    ))
    .expect("ready");
    let v = judge(&check, &answer, &LessonContainers::new());
    assert!(
        !v.passed && v.reason.contains("timed out after 10 s"),
        "{v:?}"
    );
}

#[test]
fn probes_leave_the_student_terminal_and_machine_as_they_were() {
    let mut source = sim();
    let before = run_ready(source.snapshot())
        .expect("ready")
        .expect("snapshot");
    let run =
        run_ready(source.probe(&Target::Host, "hostname changed && sleep 3 &")).expect("ready");
    assert!(matches!(run, Ok(ProbeRun::Finished { .. })), "{run:?}");
    let after = run_ready(source.snapshot())
        .expect("ready")
        .expect("snapshot");
    assert_eq!(before, after);
    let out = run_ready(source.type_line(&Target::Host, "hostname")).expect("ready");
    assert_eq!(out, Ok("isolab-host\n".to_string()));
}

#[test]
fn the_example_in_docs_lessons_md_passes() {
    let doc = include_str!("../../../docs/lessons.md");
    let example = doc
        .split("## A complete example")
        .nth(1)
        .and_then(|s| s.split("```toml").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("docs/lessons.md ends with a toml example");
    let lesson = parse_lesson("docs/lessons.md", example).expect("the example is valid");
    let report = run_ready(check_lesson(&mut sim(), &lesson)).expect("ready");
    assert_eq!(report.counts(), (1, 0), "{report:?}");
}
