//! The teacher's progress export: CSV with RFC 4180 quoting.

use std::fmt::Write;

use crate::store::ProgressRow;

/// The CSV of `rows`: `student,lesson,step,passed_at,attempts`, `passed_at` in UTC
/// (ISO 8601) and empty while the step is not passed.
pub fn progress_csv(rows: &[ProgressRow]) -> String {
    let mut out = String::from("student,lesson,step,passed_at,attempts\r\n");
    for r in rows {
        let passed = r.passed_at_ms.map(iso_utc).unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{},{}\r\n",
            field(&r.student),
            field(&r.lesson),
            field(&r.step),
            passed,
            r.attempts
        );
    }
    out
}

/// One field: quoted when it holds a comma, a quote or a line break. A text that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a `'` before
/// it: names are typed by students.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn iso_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_needs_quoting() {
        let rows = vec![
            ProgressRow {
                student: "Lovelace, \"Ada\"".into(),
                lesson: "namespaces".into(),
                step: "1".into(),
                passed_at_ms: Some(1_764_201_600_000),
                attempts: 2,
            },
            ProgressRow {
                student: "=cmd()".into(),
                lesson: "l\nx".into(),
                step: "2".into(),
                passed_at_ms: None,
                attempts: 1,
            },
        ];
        assert_eq!(
            progress_csv(&rows),
            "student,lesson,step,passed_at,attempts\r\n\
             \"Lovelace, \"\"Ada\"\"\",namespaces,1,2025-11-27T00:00:00Z,2\r\n\
             '=cmd(),\"l\nx\",2,,1\r\n"
        );
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400_000 + 3_661_000), "2000-02-29T01:01:01Z");
    }
}
