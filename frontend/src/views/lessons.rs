//! Lessons: the list with each lesson's progress, a lesson file picker, and the chosen
//! lesson ([`super::lesson::LessonView`]).
//!
//! The built-in lessons are parsed in the simulator's worker (it holds the parser), so
//! they work with no server; a connected server's `GET /api/v1/lessons` adds its own
//! (a 404 means it has none to add).

use isolab_shared::sim_protocol::{LessonFile, LessonMenu, LessonOutline};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::lesson::LessonView;
use super::markdown::render_inline;
use crate::lesson_state::{load_progress, save_progress, Progress, ProgressAction};
use crate::route::Route;
use crate::source::classroom::ClassroomApi;
use crate::source::{LiveSource, SimSource};
use crate::state::State;

/// Adds `more` to `catalog`: a lesson with a known id replaces the old one.
pub fn merge(catalog: &mut LessonMenu, more: LessonMenu) {
    for lesson in more.lessons {
        match catalog.lessons.iter_mut().find(|l| l.id == lesson.id) {
            Some(old) => *old = lesson,
            None => catalog.lessons.push(lesson),
        }
    }
    catalog.errors.extend(more.errors);
}

/// Props of [`LessonsView`].
#[derive(Properties, PartialEq)]
pub struct LessonsViewProps {
    /// `Route::Lessons` or `Route::Lesson`.
    pub route: Route,
    /// The lessons' worker.
    pub sim: SimSource,
    pub state: UseReducerHandle<State>,
    /// The live server, when one is connected.
    pub live: Option<LiveSource>,
    /// The class, when the caller is one of its students: passed steps are reported.
    #[prop_or_default]
    pub class: Option<ClassroomApi>,
}

/// The Lessons view: the list, or one lesson.
#[function_component(LessonsView)]
pub fn lessons_view(props: &LessonsViewProps) -> Html {
    let catalog = use_state(|| None::<LessonMenu>);
    let progress = use_reducer(load_progress);
    let picked = use_state(|| None::<String>);
    use_effect_with((*progress).clone(), save_progress_of);
    {
        let (sim, live, catalog) = (props.sim.clone(), props.live.clone(), catalog.clone());
        use_effect_with(props.live.is_some(), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let (mut catalogs, mut errors) = (Vec::new(), Vec::new());
                if let Some(live) = live {
                    match live.lessons().await {
                        Ok(Some(text)) => catalogs.push(text),
                        Ok(None) => {}
                        Err(e) => errors.push(e),
                    }
                }
                let mut all = sim
                    .lessons(Vec::new(), catalogs, true)
                    .await
                    .unwrap_or_else(|e| LessonMenu {
                        lessons: Vec::new(),
                        errors: vec![format!("the built-in lessons did not load: {e}")],
                    });
                all.errors.extend(errors);
                catalog.set(Some(all));
            });
        });
    }
    let Some(list) = (*catalog).clone() else {
        return html! { <p class="muted" role="status">{"Loading the lessons…"}</p> };
    };
    // A passed step is kept in this browser and, for a student, reported to the class
    // (the teacher's roster shows it).
    let on_passed = {
        let (progress, class) = (progress.clone(), props.class.clone());
        Callback::from(move |(lesson, step): (String, usize)| {
            if progress.is_done(&lesson, step) {
                return;
            }
            progress.dispatch(ProgressAction::StepPassed {
                lesson: lesson.clone(),
                step,
            });
            if let Some(class) = class.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = class.report_passed(&lesson, step).await;
                });
            }
        })
    };
    if let Route::Lesson { id, step, live } = &props.route {
        return match list.lessons.iter().find(|l| &l.id == id) {
            Some(lesson) => html! {
                <LessonView lesson={lesson.clone()} step={*step} on_live={*live} sim={props.sim.clone()}
                    state={props.state.clone()} {progress} live={props.live.clone()}
                    student={props.class.is_some()} {on_passed} />
            },
            None => html! {
                <section class="card notice" role="alert">
                    <p>{"There is no lesson "}<code>{ id }</code>{" here."}</p>
                    <a href={Route::Lessons.to_hash()}>{"All lessons"}</a>
                </section>
            },
        };
    }
    let on_file = {
        let (sim, catalog, picked) = (props.sim.clone(), catalog.clone(), picked.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let (sim, catalog, picked) = (sim.clone(), catalog.clone(), picked.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                let text = JsFuture::from(file.text())
                    .await
                    .ok()
                    .and_then(|t| t.as_string());
                let Some(text) = text else {
                    picked.set(Some(format!("{name}: the file could not be read")));
                    return;
                };
                match sim
                    .lessons(
                        vec![LessonFile {
                            name: name.clone(),
                            text,
                        }],
                        Vec::new(),
                        false,
                    )
                    .await
                {
                    Ok(more) => {
                        let note = match (more.lessons.first(), more.errors.first()) {
                            (Some(l), _) => format!("{name}: loaded \"{}\"", l.title),
                            (None, Some(e)) => e.clone(),
                            (None, None) => format!("{name}: no lesson in it"),
                        };
                        let mut all = (*catalog).clone().unwrap_or_default();
                        merge(
                            &mut all,
                            LessonMenu {
                                lessons: more.lessons,
                                errors: Vec::new(),
                            },
                        );
                        catalog.set(Some(all));
                        picked.set(Some(note));
                    }
                    Err(e) => picked.set(Some(format!("{name}: {e}"))),
                }
            });
        })
    };
    html! {
        <section class="lessons card" aria-labelledby="lessons-title">
            <h2 id="lessons-title">{"Lessons"}</h2>
            <p class="muted">{"Each lesson sets up its containers on the simulator in this page \
                (or, with a server, on live containers) and checks every step itself: a step \
                turns green when the machine shows it was done."}</p>
            <ol class="lesson-list">
                { for list.lessons.iter().map(|l| lesson_item(l, &progress)) }
            </ol>
            if !list.errors.is_empty() {
                <div class="lesson-errors" role="alert">
                    <h3>{"Lesson files that could not be used"}</h3>
                    <ul>{ for list.errors.iter().map(|e| html! { <li><code>{ e }</code></li> }) }</ul>
                </div>
            }
            <div class="lesson-file">
                <label for="lesson-file">{"Open a lesson file (.toml) "}</label>
                <input type="file" id="lesson-file" accept=".toml,text/plain" onchange={on_file} />
                if let Some(note) = &*picked {
                    <p role="status"><code>{ note }</code></p>
                }
            </div>
        </section>
    }
}

fn save_progress_of(progress: &Progress) {
    save_progress(progress);
}

/// One row of the lesson list: title, summary, progress, and a link to go on.
fn lesson_item(lesson: &LessonOutline, progress: &Progress) -> Html {
    let steps = lesson.steps.len();
    let done = progress.done_count(&lesson.id);
    let step = progress.first_open(&lesson.id, steps);
    let href = Route::Lesson {
        id: lesson.id.clone(),
        step,
        live: false,
    }
    .to_hash();
    let state = if done == 0 {
        "not started".to_string()
    } else if done >= steps {
        "complete".to_string()
    } else {
        format!("{done} of {steps} steps done")
    };
    html! {
        <li class={classes!("lesson-item", (done >= steps).then_some("complete"))}>
            <a {href} class="lesson-link">{ &lesson.title }</a>
            <progress max={steps.to_string()} value={done.to_string()}
                aria-label={format!("{}: {state}", lesson.title)}></progress>
            <span class="muted">{ state }</span>
            <p>{ render_inline(&lesson.summary) }</p>
        </li>
    }
}
