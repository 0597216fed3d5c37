//! Lesson files (the `lessons-parse` parser and its checks).
//!
//! Lesson files (TOML) through the lesson parser and its checks. An accepted lesson
//! is well formed (every step names its checks) and the error of a refused one is one
//! line that names a line of the file.
#![no_main]

use isolab_shared::lesson::parse_lesson;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_lesson("fuzz.toml", text) {
        Ok(lesson) => {
            let _ = lesson.container_names().count();
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "error at line {} of a {lines}-line file: {e}",
                e.line
            );
        }
    }
});
