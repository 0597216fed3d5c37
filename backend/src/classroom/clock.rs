//! The class's end time: parsing `--ends-at` (RFC 3339, `HH:MM` local time, or a
//! duration from now such as `+90m`). At the end the server stops the students'
//! containers (it does not remove them, so the teacher can still look at them).

/// A `--ends-at` that does not parse, or names a time already past.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EndsAtError {
    #[error("bad end time '{0}': use RFC 3339 (2026-12-01T15:30:00+01:00), HH:MM (local), or +90m / +1h30m")]
    Syntax(String),
    #[error("the end time '{0}' has already passed")]
    Past(String),
}

const MINUTE_MS: u64 = 60_000;

/// The end time `text` names, in ms since the Unix epoch, given the time `now_ms`.
pub fn parse_ends_at(text: &str, now_ms: u64) -> Result<u64, EndsAtError> {
    let t = text.trim();
    let bad = || EndsAtError::Syntax(t.to_string());
    let at = if let Some(span) = t.strip_prefix('+') {
        now_ms.saturating_add(parse_span_ms(span).ok_or_else(bad)?)
    } else if t.len() <= 5 && t.contains(':') {
        let (h, m) = t.split_once(':').ok_or_else(bad)?;
        let (h, m) = (h.parse::<u32>().ok(), m.parse::<u32>().ok());
        match (h, m) {
            (Some(h), Some(m)) if h < 24 && m < 60 && t.len() >= 4 => {
                local_today_at(now_ms, h, m).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        }
    } else {
        parse_rfc3339_ms(t).ok_or_else(bad)?
    };
    if at <= now_ms {
        return Err(EndsAtError::Past(t.to_string()));
    }
    Ok(at)
}

/// `90m`, `2h`, `1h30m` (`s` too) as milliseconds.
fn parse_span_ms(span: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in span.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'h' => 60 * MINUTE_MS,
            'm' => MINUTE_MS,
            's' => 1000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    (digits.is_empty() && total > 0).then_some(total)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-12-01T15:30:00Z`, `…+01:00`, with optional fractions of a second.
fn parse_rfc3339_ms(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut frac_ms = 0u64;
    if let Some(after) = rest.strip_prefix('.') {
        let n = after.chars().take_while(char::is_ascii_digit).count();
        let digits = after.get(..n)?;
        let ms: String = digits.chars().chain("000".chars()).take(3).collect();
        frac_ms = ms.parse().ok()?;
        rest = &after[n..];
    }
    let offset_min: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset_min * 60;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(frac_ms)
}

/// Today's `h:m` in the server's local time zone, in ms since the Unix epoch.
fn local_today_at(now_ms: u64, h: u32, m: u32) -> Option<u64> {
    let now = libc::time_t::try_from(now_ms / 1000).ok()?;
    // SAFETY: localtime_r and mktime only read and write the `tm` given; both are
    // thread-safe (unlike localtime).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
        return None;
    }
    tm.tm_hour = i32::try_from(h).ok()?;
    tm.tm_min = i32::try_from(m).ok()?;
    tm.tm_sec = 0;
    // Let mktime work out whether daylight saving time is on then.
    tm.tm_isdst = -1;
    let at = unsafe { libc::mktime(&mut tm) };
    u64::try_from(at).ok()?.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T12:00:00Z.
    const NOON: u64 = 1_796_126_400_000;

    #[test]
    fn durations_from_now() {
        assert_eq!(parse_ends_at("+90m", NOON), Ok(NOON + 90 * MINUTE_MS));
        assert_eq!(parse_ends_at("+1h30m", NOON), Ok(NOON + 90 * MINUTE_MS));
        assert_eq!(parse_ends_at("+2h", NOON), Ok(NOON + 120 * MINUTE_MS));
        assert_eq!(parse_ends_at("+5s", NOON), Ok(NOON + 5000));
        for bad in ["+", "+90", "+m", "+0m", "+9x", "soon"] {
            assert!(
                matches!(parse_ends_at(bad, NOON), Err(EndsAtError::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(
            parse_ends_at("2026-12-01T13:00:00Z", NOON),
            Ok(NOON + 3_600_000)
        );
        assert_eq!(
            parse_ends_at("2026-12-01T14:00:00.5+01:00", NOON),
            Ok(NOON + 3_600_500)
        );
        assert_eq!(
            parse_ends_at("2026-12-01T11:30:00-01:00", NOON),
            Ok(NOON + 30 * MINUTE_MS)
        );
        assert!(matches!(
            parse_ends_at("2026-12-01T11:00:00Z", NOON),
            Err(EndsAtError::Past(_))
        ));
        assert!(matches!(
            parse_ends_at("2026-13-01T11:00:00Z", NOON),
            Err(EndsAtError::Syntax(_))
        ));
    }

    #[test]
    fn local_clock_times() {
        // Whatever the zone, HH:MM is today's, within a day of now, and on the minute.
        let now = NOON;
        for text in ["00:00", "23:59", "12:30", "9:05"] {
            match parse_ends_at(text, now) {
                Ok(at) => {
                    assert!(at > now && at - now < 86_400_000, "{text}");
                    assert_eq!(at % MINUTE_MS, 0, "{text}");
                }
                Err(e) => assert_eq!(e, EndsAtError::Past(text.to_string())),
            }
        }
        for bad in ["24:00", "12:60", "1:2", "ab:cd"] {
            assert!(
                matches!(parse_ends_at(bad, now), Err(EndsAtError::Syntax(_))),
                "{bad}"
            );
        }
    }
}
