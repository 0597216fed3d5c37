//! Reading lesson files (TOML with Markdown strings) into [`Lesson`]s, with errors that
//! name the file, the line and the field. Behind the `lessons-parse` feature, so the
//! page's main wasm carries no TOML parser.

use std::collections::BTreeSet;

use super::model::{Check, Lesson, TerminalCommand, HOST_TERMINAL};

/// Event types a `kind = "event"` check may name (the `type` of the event stream).
pub const EVENT_TYPES: &[&str] = &[
    "container_created",
    "container_started",
    "container_exited",
    "container_oom_killed",
    "container_removed",
    "process_started",
    "process_exited",
    "limit_hit",
    "limits_changed",
];

/// A lesson file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct LessonError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// The field at fault, as a path (`steps[2].solution`).
    pub field: String,
    pub message: String,
}

/// Parses and validates one lesson file; `file` names it in errors.
pub fn parse_lesson(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let lesson: Lesson = toml::from_str(text).map_err(|e| from_toml(file, text, &e))?;
    validate(&lesson).map_err(|bad| LessonError {
        file: file.to_string(),
        line: line_of(text, &bad.at),
        field: bad.at.path(),
        message: bad.message,
    })?;
    Ok(lesson)
}

/// Parses every `(file name, text)`; bad files become errors and the rest still load.
/// Lessons come back in file-name order; a repeated id is an error of the later file.
pub fn load_lessons<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Vec<Lesson>, Vec<LessonError>) {
    let mut files: Vec<(&str, &str)> = files.into_iter().collect();
    files.sort_by_key(|(name, _)| *name);
    let (mut lessons, mut errors) = (Vec::<Lesson>::new(), Vec::new());
    for (file, text) in files {
        match parse_lesson(file, text) {
            Ok(l) if lessons.iter().any(|o| o.id == l.id) => errors.push(LessonError {
                file: file.to_string(),
                line: line_of(text, &At::top("id")),
                field: "id".to_string(),
                message: format!("another lesson already has the id '{}'", l.id),
            }),
            Ok(l) => lessons.push(l),
            Err(e) => errors.push(e),
        }
    }
    (lessons, errors)
}

fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> LessonError {
    let line = e.span().map_or(1, |s| {
        text[..s.start.min(text.len())].lines().count().max(1)
    });
    let line = if e
        .span()
        .is_some_and(|s| text[..s.start.min(text.len())].ends_with('\n'))
    {
        line + 1
    } else {
        line
    };
    let message = e.message().trim().to_string();
    // serde names a missing or unknown field in backquotes; else the key on that line
    // (a type error's backquotes hold the bad value, not the field).
    let names_field = message.starts_with("missing field") || message.starts_with("unknown field");
    let field = names_field
        .then(|| message.split('`').nth(1).map(str::to_string))
        .flatten()
        .or_else(|| {
            let l = text.lines().nth(line.saturating_sub(1))?;
            let key = l.split('=').next()?.trim();
            (!key.is_empty()).then(|| key.to_string())
        })
        .unwrap_or_else(|| "(file)".to_string());
    // A table's error points at its header; the named key's own line is more useful.
    let key_line = text
        .lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .take_while(|(i, l)| *i + 1 == line || !l.trim_start().starts_with('['))
        .find(|(_, l)| l.split('=').next().is_some_and(|k| k.trim() == field))
        .map_or(line, |(i, _)| i + 1);
    LessonError {
        file: file.to_string(),
        line: key_line,
        field,
        message,
    }
}

/// Where a validation error is: a top-level key, or a key of the n-th step or setup.
struct At {
    table: Option<(&'static str, usize)>,
    key: String,
}

impl At {
    fn top(key: &str) -> At {
        At {
            table: None,
            key: key.to_string(),
        }
    }

    fn step(n: usize, key: &str) -> At {
        At {
            table: Some(("steps", n)),
            key: key.to_string(),
        }
    }

    fn path(&self) -> String {
        match self.table {
            Some((t, n)) => format!("{t}[{}].{}", n + 1, self.key),
            None => self.key.clone(),
        }
    }
}

struct Invalid {
    at: At,
    message: String,
}

fn invalid(at: At, message: impl Into<String>) -> Invalid {
    Invalid {
        at,
        message: message.into(),
    }
}

/// The 1-based line of `at`'s key, else of its table's header, else 1.
fn line_of(text: &str, at: &At) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    if let Some((table, n)) = at.table {
        let header = format!("[[{table}]]");
        match lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == header)
            .nth(n)
        {
            Some((i, _)) => start = i,
            None => return 1,
        }
    }
    let key_here = |l: &str| {
        let t = l.trim_start();
        t.strip_prefix(at.key.as_str())
            .is_some_and(|rest| rest.trim_start().starts_with('='))
            || t.starts_with(&format!("[[{}.{}]]", at.table.map_or("", |t| t.0), at.key))
            || t.starts_with(&format!("[{}.{}]", at.table.map_or("", |t| t.0), at.key))
    };
    lines
        .iter()
        .enumerate()
        .skip(start)
        .take_while(|(i, l)| *i == start || at.table.is_none() || !l.trim().starts_with("[["))
        .find(|(_, l)| key_here(l))
        .map_or(start + 1, |(i, _)| i + 1)
}

fn validate(lesson: &Lesson) -> Result<(), Invalid> {
    let id_ok = !lesson.id.is_empty()
        && lesson
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(invalid(
            At::top("id"),
            "use lowercase letters, digits and '-'",
        ));
    }
    for (key, value) in [("title", &lesson.title), ("summary", &lesson.summary)] {
        if value.trim().is_empty() {
            return Err(invalid(At::top(key), "must not be empty"));
        }
    }
    if lesson.sources.is_empty() {
        return Err(invalid(
            At::top("sources"),
            "name at least one of \"sim\", \"live\"",
        ));
    }
    let parts = &lesson.picture;
    if parts.is_empty() || (1..parts.len()).any(|i| parts[..i].contains(&parts[i])) {
        return Err(invalid(
            At::top("picture"),
            "name each of \"map\", \"steps\", \"limits\", \"figures\" at most once, and at least one",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, spec) in lesson.setup.iter().enumerate() {
        let at = |key: &str| At {
            table: Some(("setup", i)),
            key: key.to_string(),
        };
        let Some(name) = spec.name.as_deref() else {
            return Err(invalid(at("name"), "every setup container needs a name"));
        };
        if name == HOST_TERMINAL || !names.insert(name) {
            return Err(invalid(at("name"), format!("'{name}' is taken")));
        }
        spec.validate()
            .map_err(|e| invalid(at("name"), e.to_string()))?;
    }
    for cmd in &lesson.cleanup {
        known_command(cmd, &names).map_err(|m| invalid(At::top("cleanup"), m))?;
    }
    if lesson.steps.is_empty() {
        return Err(invalid(
            At::top("steps"),
            "a lesson needs at least one [[steps]]",
        ));
    }
    for (n, step) in lesson.steps.iter().enumerate() {
        if step.checks.is_empty() {
            return Err(invalid(
                At::step(n, "checks"),
                "a step needs at least one check",
            ));
        }
        if step.solution.is_empty() {
            return Err(invalid(At::step(n, "solution"), "a step needs a solution"));
        }
        for (key, cmds) in [("try", &step.try_commands), ("solution", &step.solution)] {
            for cmd in cmds.iter() {
                known_command(cmd, &names).map_err(|m| invalid(At::step(n, key), m))?;
            }
        }
        if let Some(change) = &step.set_limits {
            known_name(&change.container, &names, false)
                .map_err(|m| invalid(At::step(n, "set_limits"), m))?;
            change
                .limits
                .validate()
                .map_err(|e| invalid(At::step(n, "set_limits"), e.to_string()))?;
        }
        if let Some(p) = &step.predict {
            known_command(&p.probe, &names).map_err(|m| invalid(At::step(n, "predict"), m))?;
        }
        for check in &step.checks {
            known_check(check, &names).map_err(|m| invalid(At::step(n, "checks"), m))?;
        }
    }
    Ok(())
}

fn known_name(name: &str, names: &BTreeSet<&str>, host_ok: bool) -> Result<(), String> {
    if (host_ok && name == HOST_TERMINAL) || names.contains(name) {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a setup container{}",
            if host_ok { " nor host" } else { "" }
        ))
    }
}

fn known_command(cmd: &TerminalCommand, names: &BTreeSet<&str>) -> Result<(), String> {
    known_name(&cmd.terminal, names, true)?;
    let mut rest = cmd.run.as_str();
    while let Some(at) = rest.find("{pid:") {
        let tail = &rest[at + 5..];
        let end = tail.find('}').ok_or("unclosed {pid:…}")?;
        let name = tail[..end].split(':').next().unwrap_or("");
        known_name(name, names, tail[..end].contains(':'))?;
        rest = &tail[end..];
    }
    Ok(())
}

fn known_check(check: &Check, names: &BTreeSet<&str>) -> Result<(), String> {
    match check {
        Check::Command { terminal, run, .. } => known_command(
            &TerminalCommand {
                terminal: terminal.clone(),
                run: run.clone(),
            },
            names,
        ),
        Check::Namespace {
            container,
            compared_with,
            ..
        } => known_name(container, names, false).and(known_name(compared_with, names, true)),
        Check::Event { event, container } => {
            if !EVENT_TYPES.contains(&event.as_str()) {
                return Err(format!(
                    "unknown event '{event}' (one of: {})",
                    EVENT_TYPES.join(", ")
                ));
            }
            container
                .as_deref()
                .map_or(Ok(()), |c| known_name(c, names, false))
        }
        Check::Process { container, .. } => known_name(container, names, true),
        other => other
            .names()
            .into_iter()
            .try_for_each(|n| known_name(n, names, false)),
    }
}
