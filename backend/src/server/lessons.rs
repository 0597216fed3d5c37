//! `GET /lessons`: the built-in lessons, plus those of a teacher's directory
//! (`isolab serve --lessons DIR`), loaded without rebuilding. A bad file becomes an
//! error line naming file, line and field; the other lessons still load.
//!
//! The catalog is read once when the server starts and set with [`install`] (a
//! process-wide value: lessons do not change while a server runs); a server that
//! installs none serves the built-in lessons.

use std::path::Path;
use std::sync::OnceLock;

use axum::routing::get;
use axum::{Json, Router};
use isolab_shared::lesson::{self, Lesson, LessonError};
use serde::{Deserialize, Serialize};

use super::AppState;

/// What `GET /lessons` answers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct LessonCatalog {
    /// Every lesson that loaded: the built-in ones first, in file order.
    pub lessons: Vec<Lesson>,
    /// One line per file that did not: `FILE:LINE: FIELD: message`.
    pub errors: Vec<String>,
}

static CATALOG: OnceLock<LessonCatalog> = OnceLock::new();

/// Sets the catalog the server answers with; false if one was set already.
pub fn install(catalog: LessonCatalog) -> bool {
    CATALOG.set(catalog).is_ok()
}

/// The installed catalog, or the built-in lessons.
pub fn catalog() -> &'static LessonCatalog {
    CATALOG.get_or_init(|| load(None))
}

/// The routes of the lesson catalog.
pub fn routes() -> Router<AppState> {
    Router::new().route("/lessons", get(list))
}

/// `GET /lessons`.
pub async fn list() -> Json<LessonCatalog> {
    Json(catalog().clone())
}

/// The built-in lessons plus the `*.toml` files of `dir` (in name order). A file whose
/// id an earlier lesson already has is an error of that file.
pub fn load(dir: Option<&Path>) -> LessonCatalog {
    let (mut lessons, errors) = lesson::load_lessons(lesson::EMBEDDED_LESSONS.iter().copied());
    let mut errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    if let Some(dir) = dir {
        let (files, unreadable) = read_dir(dir);
        errors.extend(unreadable.iter().map(ToString::to_string));
        for (file, text) in &files {
            match lesson::parse_lesson(file, text) {
                Ok(l) if lessons.iter().any(|o| o.id == l.id) => {
                    let line = text
                        .lines()
                        .position(|l| l.trim_start().starts_with("id"))
                        .map_or(1, |i| i + 1);
                    errors.push(format!(
                        "{file}:{line}: id: another lesson already has the id '{}'",
                        l.id
                    ));
                }
                Ok(l) => lessons.push(l),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    LessonCatalog { lessons, errors }
}

/// The `(path, text)` of every `*.toml` in `dir`, and an error per file (or for the
/// directory itself) that cannot be read.
pub fn read_dir(dir: &Path) -> (Vec<(String, String)>, Vec<LessonError>) {
    let unreadable = |name: String, e: std::io::Error| LessonError {
        file: name,
        line: 1,
        field: "(file)".to_string(),
        message: e.to_string(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return (Vec::new(), vec![unreadable(dir.display().to_string(), e)]),
    };
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((name, text)),
            Err(e) => errors.push(unreadable(name, e)),
        }
    }
    files.sort();
    (files, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn get_lessons_answers_the_catalog_as_json() {
        use axum::body::Body;
        use axum::http::Request;
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        let token = "lessons-test-token";
        let mut config = crate::server::ServerConfig::new(
            crate::server::auth::AccessToken::from_user(token).expect("token"),
            "/proc/self/exe".into(),
        );
        config.live.runtime.state_root = std::env::temp_dir().join("isolab-test-lessons");
        config.live.recording.index = false;
        let router = crate::server::app(AppState::new(config));
        let request = Request::get("/api/v1/lessons")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("answer");
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let got: LessonCatalog = serde_json::from_slice(&body).expect("the documented shape");
        assert_eq!(&got, catalog());
        assert!(
            got.lessons.len() >= 12 && got.errors.is_empty(),
            "{:?}",
            got.errors
        );
    }

    #[test]
    fn a_teachers_directory_adds_lessons_and_names_its_bad_files() {
        let dir = std::env::temp_dir().join(format!("isolab-lessons-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (_, good) = lesson::EMBEDDED_LESSONS[1];
        let mine = good.replacen("id = \"uts\"", "id = \"uts-mine\"", 1);
        let written = std::fs::write(dir.join("50-mine.toml"), &mine)
            .and_then(|()| std::fs::write(dir.join("51-bad.toml"), "id = \"x\"\ntitle = 3\n"))
            .and_then(|()| std::fs::write(dir.join("52-again.toml"), good));
        let catalog = load(Some(&dir));
        let _ = std::fs::remove_dir_all(&dir);
        written.expect("lesson files written");
        let builtin = lesson::EMBEDDED_LESSONS.len();
        assert_eq!(catalog.lessons.len(), builtin + 1, "{:?}", catalog.errors);
        assert!(catalog.lessons.iter().any(|l| l.id == "uts-mine"));
        assert_eq!(catalog.errors.len(), 2, "{:?}", catalog.errors);
        assert!(
            catalog.errors[0].contains("51-bad.toml:2: title:"),
            "{:?}",
            catalog.errors
        );
        assert!(
            catalog.errors[1].contains("52-again.toml:1: id:"),
            "{:?}",
            catalog.errors
        );
    }
}
