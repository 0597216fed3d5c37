//! Lessons in the browser: URLs to routes and back, progress in localStorage, the
//! Markdown subset, merging catalogs, and comparing the two true answers.

use isolab_frontend::lesson_state::{
    load_progress, save_progress, Progress, ProgressAction, PROGRESS_KEY,
};
use isolab_frontend::route::Route;
use isolab_frontend::views::lesson_step::{compare, Comparison, KernelAnswer};
use isolab_frontend::views::lessons::merge;
use isolab_frontend::views::markdown::{parse_blocks, parse_inline, Block, Inline};
use isolab_shared::sim_protocol::{LessonMenu, LessonOutline};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn hashes_parse_to_routes_and_back() {
    let lesson = |id: &str, step| Route::Lesson {
        id: id.into(),
        step,
        live: false,
    };
    let live = |id: &str, step| Route::Lesson {
        id: id.into(),
        step,
        live: true,
    };
    assert_eq!(Route::parse("#/lessons/pid/2"), Some(lesson("pid", 2)));
    assert_eq!(Route::parse("#/lessons/pid"), Some(lesson("pid", 1)));
    assert_eq!(Route::parse("#/lessons/pid/0"), Some(lesson("pid", 1)));
    assert_eq!(Route::parse("#/lessons/pid/x"), Some(lesson("pid", 1)));
    assert_eq!(Route::parse("#/lessons/pid/2/live"), Some(live("pid", 2)));
    assert_eq!(Route::parse("#/lessons/pid/2/mars"), Some(lesson("pid", 2)));
    assert_eq!(Route::parse("#/lessons"), Some(Route::Lessons));
    assert_eq!(Route::parse("#/lessons/"), Some(Route::Lessons));
    assert_eq!(Route::parse("#/live"), Some(Route::Live));
    assert_eq!(Route::parse("#simulator"), Some(Route::Simulator));
    assert_eq!(Route::parse("#learn"), Some(Route::Lessons));
    assert_eq!(Route::parse(""), None);
    assert_eq!(Route::parse("#/mars"), None);
    for route in [
        Route::Live,
        Route::Simulator,
        Route::Lessons,
        lesson("uts", 3),
        lesson("a b/c", 1),
        live("limits", 2),
    ] {
        assert_eq!(
            Route::parse(&route.to_hash()),
            Some(route.clone()),
            "{route:?}"
        );
    }
    assert_eq!(lesson("pid", 2).to_hash(), "#/lessons/pid/2");
    assert_eq!(live("pid", 2).to_hash(), "#/lessons/pid/2/live");
}

#[wasm_bindgen_test]
fn progress_follows_its_actions() {
    let mut p = Progress::default();
    let passed = |step| ProgressAction::StepPassed {
        lesson: "pid".into(),
        step,
    };
    p.apply(passed(1));
    p.apply(passed(2));
    p.apply(ProgressAction::Answered {
        lesson: "pid".into(),
        step: 2,
        answer: "isolab-init".into(),
    });
    assert!(p.is_done("pid", 1) && p.is_done("pid", 2) && !p.is_done("pid", 3));
    assert_eq!(p.done_count("pid"), 2);
    assert_eq!(p.first_open("pid", 3), 3);
    assert_eq!(p.first_open("uts", 2), 1);
    assert_eq!(p.answer("pid", 2), Some("isolab-init"));
    p.apply(ProgressAction::ResetFrom {
        lesson: "pid".into(),
        step: 2,
    });
    assert!(p.is_done("pid", 1) && !p.is_done("pid", 2));
    assert_eq!(p.answer("pid", 2), None);
    p.apply(passed(2));
    p.apply(passed(3));
    assert_eq!(p.first_open("pid", 3), 3, "all done: the last step");
}

#[wasm_bindgen_test]
fn progress_survives_storage_and_nonsense_is_empty() {
    let mut p = Progress::default();
    p.apply(ProgressAction::StepPassed {
        lesson: "ipc".into(),
        step: 1,
    });
    save_progress(&p);
    assert_eq!(load_progress(), p);
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage");
    storage
        .set_item(PROGRESS_KEY, "{not json")
        .expect("writable");
    assert_eq!(load_progress(), Progress::default());
    storage.remove_item(PROGRESS_KEY).expect("removable");
    assert_eq!(Progress::from_json(&p.to_json()), p);
}

#[wasm_bindgen_test]
fn markdown_keeps_to_its_subset_and_never_makes_markup() {
    let blocks = parse_blocks(
        "A **new** namespace,\nsee `ps`.\n\n- one\n- two `x`\n\n```\n<b>raw</b>\n```\n<script>x</script>",
    );
    assert_eq!(
        blocks,
        vec![
            Block::Paragraph(vec![
                Inline::Text("A ".into()),
                Inline::Bold("new".into()),
                Inline::Text(" namespace, see ".into()),
                Inline::Code("ps".into()),
                Inline::Text(".".into()),
            ]),
            Block::List {
                numbered: false,
                items: vec![
                    vec![Inline::Text("one".into())],
                    vec![Inline::Text("two ".into()), Inline::Code("x".into())],
                ],
            },
            Block::Code("<b>raw</b>".into()),
            Block::Paragraph(vec![Inline::Text("<script>x</script>".into())]),
        ]
    );
    assert_eq!(
        parse_inline("a * b ** c ` d — é"),
        vec![Inline::Text("a * b ** c ` d — é".into())],
        "unclosed markers stay text"
    );
    assert_eq!(
        parse_blocks("1. first\n2. second"),
        vec![Block::List {
            numbered: true,
            items: vec![
                vec![Inline::Text("first".into())],
                vec![Inline::Text("second".into())]
            ],
        }]
    );
}

#[wasm_bindgen_test]
fn the_kernel_and_the_simulator_are_compared_plainly() {
    assert_eq!(
        compare(Some("sh"), &KernelAnswer::NoServer),
        Comparison::OneSide
    );
    assert_eq!(
        compare(Some("sh"), &KernelAnswer::Known(" SH ".into())),
        Comparison::Same
    );
    assert_eq!(
        compare(Some("sh"), &KernelAnswer::Known("bash".into())),
        Comparison::Differ
    );
    assert_eq!(
        compare(None, &KernelAnswer::Known("bash".into())),
        Comparison::OneSide
    );
}

#[wasm_bindgen_test]
fn a_later_catalog_replaces_lessons_by_id_and_keeps_errors() {
    let lesson = |id: &str, title: &str| LessonOutline {
        id: id.into(),
        title: title.into(),
        summary: String::new(),
        terminals: Vec::new(),
        steps: Vec::new(),
        live: false,
        picture: isolab_shared::lesson::PicturePart::default_set(),
    };
    let mut all = LessonMenu {
        lessons: vec![lesson("pid", "old"), lesson("uts", "uts")],
        errors: vec!["a.toml:1: id: bad".into()],
    };
    merge(
        &mut all,
        LessonMenu {
            lessons: vec![lesson("pid", "new"), lesson("mine", "mine")],
            errors: vec!["b.toml:2: steps: bad".into()],
        },
    );
    let titles: Vec<&str> = all.lessons.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(titles, ["new", "uts", "mine"]);
    assert_eq!(all.errors.len(), 2);
}
