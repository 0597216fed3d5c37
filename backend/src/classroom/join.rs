//! Joining a class: the join code, display names, and the limit on wrong codes per
//! address (codes are short enough to guess without it), counted by a
//! [`super::limiter::FailureLimiter`].

use std::time::Duration;

use rand::Rng;
use subtle::ConstantTimeEq;

/// Letters and digits that cannot be misread for each other (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Wrong codes one address may send per [`WRONG_CODE_WINDOW`].
pub const MAX_WRONG_CODES: usize = 10;
/// The window of [`MAX_WRONG_CODES`].
pub const WRONG_CODE_WINDOW: Duration = Duration::from_secs(60);

/// A fresh join code such as `K7P-2QX` (about 30 bits; guessing is rate limited).
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut pick = || CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char;
    let a: String = (0..3).map(|_| pick()).collect();
    let b: String = (0..3).map(|_| pick()).collect();
    format!("{a}-{b}")
}

/// A code as typed, without case, dashes or spaces.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `typed` is `code`, compared in constant time.
pub fn code_matches(code: &str, typed: &str) -> bool {
    normalize(code)
        .as_bytes()
        .ct_eq(normalize(typed).as_bytes())
        .into()
}

/// Why a display name is refused (before checking it is free).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty: type the name the class knows you by")]
    Empty,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the name has control characters")]
    ControlCharacters,
}

/// The name to keep (trimmed), or why it is refused.
pub fn check_name(name: &str) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_like_the_printed_ones_and_match_loosely() {
        let code = new_code();
        assert_eq!(code.len(), 7);
        assert_eq!(&code[3..4], "-");
        assert!(code_matches(&code, &code.to_lowercase().replace('-', " ")));
        assert!(!code_matches(&code, "AAA-AAA") || code == "AAA-AAA");
        assert!(!code_matches(&code, ""));
    }

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(check_name("  Ada Lovelace "), Ok("Ada Lovelace".into()));
        assert_eq!(check_name("   "), Err(NameError::Empty));
        assert_eq!(check_name(&"é".repeat(40)), Ok("é".repeat(40)));
        assert_eq!(check_name(&"x".repeat(41)), Err(NameError::TooLong));
        assert_eq!(check_name("a\u{7}b"), Err(NameError::ControlCharacters));
    }
}
