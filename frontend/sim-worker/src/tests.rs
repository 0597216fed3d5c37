//! The worker's machine, natively: lessons parse, start, type, check and answer.

use isolab_shared::sim_protocol::{LessonFile, SimCall, SimOutcome, SimReply, SimRequest, SimView};

use crate::machine::{parse, Machine};

fn call(machine: &mut Machine, request: SimRequest) -> (SimOutcome, SimView) {
    match machine.answer(SimCall { call: 1, request }) {
        SimReply::Answer { outcome, view, .. } => (outcome, *view),
        SimReply::Ready => panic!("an answer, not Ready"),
    }
}

/// Loads the built-in lessons into `m`; returns the pid lesson's id.
fn pid_lesson(m: &mut Machine) -> String {
    let (out, _) = call(
        m,
        SimRequest::Lessons {
            files: Vec::new(),
            catalogs: Vec::new(),
            embedded: true,
        },
    );
    let SimOutcome::Lessons(menu) = out else {
        panic!("lessons, not {out:?}");
    };
    assert!(menu.errors.is_empty(), "{:?}", menu.errors);
    let pid = menu
        .lessons
        .iter()
        .find(|l| l.id == "pid")
        .expect("built in");
    assert_eq!(pid.terminals, ["box"]);
    assert!(pid.steps[0].predict.is_some());
    pid.id.clone()
}

fn passed(outcome: &SimOutcome) -> bool {
    match outcome {
        SimOutcome::Checked(v) => !v.is_empty() && v.iter().all(|c| c.passed),
        other => panic!("verdicts, not {other:?}"),
    }
}

#[test]
fn a_lesson_starts_types_and_turns_green() {
    let mut m = Machine::new().expect("a machine");
    let id = pid_lesson(&mut m);
    let (out, view) = call(&mut m, SimRequest::LessonStart { id, replay: 0 });
    assert_eq!(out, SimOutcome::Done);
    assert_eq!(view.snapshot.containers.len(), 1, "the setup's box");
    assert_eq!(
        view.terminals.keys().collect::<Vec<_>>(),
        ["box", "host"],
        "one terminal per name"
    );
    let since = view.snapshot.seq;
    let (out, _) = call(&mut m, SimRequest::LessonCheck { step: 0, since });
    assert!(!passed(&out), "not before the solution");
    let (out, view) = call(
        &mut m,
        SimRequest::LessonType {
            terminal: "box".into(),
            line: "sleep 1000 &".into(),
        },
    );
    assert!(matches!(out, SimOutcome::Output(_)), "{out:?}");
    assert!(view.events.iter().all(|e| e.seq > since), "only new events");
    let (out, _) = call(&mut m, SimRequest::LessonCheck { step: 0, since });
    assert!(passed(&out), "{out:?}");
    let (out, _) = call(&mut m, SimRequest::LessonAnswer { step: 0 });
    assert!(
        matches!(&out, SimOutcome::Output(a) if a.contains("isolab-init")),
        "{out:?}"
    );
    let (out, _) = call(
        &mut m,
        SimRequest::LessonExpand {
            line: "kill {pid:box:sleep 1000}".into(),
        },
    );
    assert!(
        matches!(&out, SimOutcome::Output(l) if !l.contains('{') && l.starts_with("kill ")),
        "{out:?}"
    );
}

#[test]
fn a_replayed_start_lands_where_the_step_begins() {
    let mut m = Machine::new().expect("a machine");
    let id = pid_lesson(&mut m);
    let (out, _) = call(
        &mut m,
        SimRequest::LessonStart {
            id: "mars".into(),
            replay: 0,
        },
    );
    assert!(matches!(out, SimOutcome::Failed(_)), "{out:?}");
    let (out, view) = call(&mut m, SimRequest::LessonStart { id, replay: 2 });
    assert_eq!(out, SimOutcome::Done);
    assert!(view.events.is_empty(), "the replay is in the snapshot");
    // Step 3 (kill the box's sleep from the host) needs step 1's sleep: it is there.
    let (out, _) = call(
        &mut m,
        SimRequest::LessonExpand {
            line: "{pid:box:sleep 1000}".into(),
        },
    );
    assert!(matches!(out, SimOutcome::Output(_)), "{out:?}");
    let (out, _) = call(&mut m, SimRequest::LessonCheck { step: 2, since: 0 });
    assert!(!passed(&out));
}

#[test]
fn bad_files_say_file_line_and_field_and_free_requests_still_work() {
    let catalog = parse(
        &[LessonFile {
            name: "99-bad.toml".into(),
            text: "id = \"bad\"\ntitle = \"t\"\nsummary = \"s\"\nsources = [\"sim\"]\nexpect = 1\n"
                .into(),
        }],
        &[
            "{\"lessons\": [], \"errors\": [\"x.toml:3: id: bad\"]}".into(),
            "nope".into(),
        ],
        false,
    );
    assert!(catalog.lessons.is_empty());
    assert_eq!(catalog.errors.len(), 3, "{:?}", catalog.errors);
    assert_eq!(catalog.errors[1], "x.toml:3: id: bad");
    assert!(
        catalog.errors[0].starts_with("99-bad.toml:"),
        "{:?}",
        catalog.errors
    );
    let mut m = Machine::new().expect("a machine");
    let (out, _) = call(&mut m, SimRequest::LessonCheck { step: 0, since: 0 });
    assert!(matches!(out, SimOutcome::Failed(_)));
    let (out, view) = call(
        &mut m,
        SimRequest::RunLine {
            line: "hostname".into(),
        },
    );
    assert_eq!(out, SimOutcome::Output("isolab-host\n".into()));
    assert!(view.terminals.is_empty());
}
