//! Splitting a command line: `;` and `&&` between commands, a trailing `&`, quotes,
//! and the two variables students use: `$?` and `$$`.

use std::fmt::Write;

/// One command of a line, not yet split into words: a slice of the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandText<'a> {
    pub text: &'a str,
    pub background: bool,
}

/// What a byte is to the parser outside quotes. Looked up in [`CLASS`], so a run of
/// plain bytes costs one lookup each (the parser sees every byte a student types,
/// and every byte a fuzzer makes up).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    /// ASCII white space, as `char::is_whitespace` has it.
    Space,
    Quote,
    Dollar,
    Semicolon,
    Ampersand,
    Hash,
    /// The first byte of a character of several bytes (which may be a Unicode space).
    Wide,
}

const fn classes() -> [Class; 256] {
    let mut table = [Class::Plain; 256];
    let mut b = 0x80;
    while b < 256 {
        table[b] = Class::Wide;
        b += 1;
    }
    let spaces = [b'\t', b'\n', 0x0b, 0x0c, b'\r', b' '];
    let mut i = 0;
    while i < spaces.len() {
        table[spaces[i] as usize] = Class::Space;
        i += 1;
    }
    table[b'\'' as usize] = Class::Quote;
    table[b'"' as usize] = Class::Quote;
    table[b'$' as usize] = Class::Dollar;
    table[b';' as usize] = Class::Semicolon;
    table[b'&' as usize] = Class::Ampersand;
    table[b'#' as usize] = Class::Hash;
    table
}

static CLASS: [Class; 256] = classes();

fn class(b: u8) -> Class {
    CLASS[usize::from(b)]
}

/// The index of the quote closing the one at `open`, if any.
fn closing_quote(bytes: &[u8], open: usize) -> Option<usize> {
    let q = bytes[open];
    bytes[open + 1..]
        .iter()
        .position(|&b| b == q)
        .map(|at| open + 1 + at)
}

/// Splits a line into commands; the flag says the command follows `&&`. The
/// separators and quotes are ASCII, so the line is scanned by bytes and each command
/// is the slice between separators (a UTF-8 character never contains an ASCII byte).
pub fn split_commands(line: &str) -> Vec<(CommandText<'_>, bool)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    // The current command is `line[start..i]`.
    let mut start = 0;
    let mut and_then = false;
    let mut i = 0;
    while i < bytes.len() {
        match class(bytes[i]) {
            Class::Quote => match closing_quote(bytes, i) {
                Some(close) => i = close,
                // An open quote takes the rest of the line.
                None => {
                    i = bytes.len();
                    break;
                }
            },
            Class::Hash if line[start..i].trim().is_empty() || line[start..i].ends_with(' ') => {
                break
            }
            Class::Semicolon => {
                push(&line[start..i], false, and_then, &mut out);
                start = i + 1;
                and_then = false;
            }
            Class::Ampersand if bytes.get(i + 1) == Some(&b'&') => {
                push(&line[start..i], false, and_then, &mut out);
                i += 1;
                start = i + 1;
                and_then = true;
            }
            Class::Ampersand => {
                push(&line[start..i], true, and_then, &mut out);
                start = i + 1;
                and_then = false;
            }
            _ => {}
        }
        i += 1;
    }
    push(&line[start..i.min(bytes.len())], false, and_then, &mut out);
    out
}

fn push<'a>(
    cmd: &'a str,
    background: bool,
    and_then: bool,
    out: &mut Vec<(CommandText<'a>, bool)>,
) {
    let text = cmd.trim();
    if !text.is_empty() {
        out.push((CommandText { text, background }, and_then));
    }
}

/// Appends the value of `$?` or `$$` (`which` is the byte after the `$`).
fn expand(cur: &mut String, which: u8, last_status: i32, shell_pid: u32) {
    let _ = if which == b'?' {
        write!(cur, "{last_status}")
    } else {
        write!(cur, "{shell_pid}")
    };
}

/// Whether the bytes at `i` are `$?` or `$$`.
fn is_variable(bytes: &[u8], i: usize) -> bool {
    matches!(bytes.get(i + 1), Some(b'?' | b'$'))
}

/// Splits a command into words, removing quotes and expanding `$?` and `$$`. Plain
/// bytes are copied a run at a time, up to the next one that is not plain.
pub fn words(text: &str, last_status: i32, shell_pid: u32) -> Result<Vec<String>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    // Where the run of plain bytes not yet in `cur` starts.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        match class(bytes[i]) {
            Class::Space => {
                cur.push_str(&text[run..i]);
                i += 1;
                run = i;
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            Class::Quote => {
                let q = bytes[i];
                cur.push_str(&text[run..i]);
                in_word = true;
                i += 1;
                run = i;
                // Up to the closing quote; between double quotes `$?` and `$$` expand.
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return Err("unexpected EOF while looking for matching quote".to_string());
                    };
                    if b == q {
                        cur.push_str(&text[run..i]);
                        i += 1;
                        run = i;
                        break;
                    }
                    if q == b'"' && b == b'$' && is_variable(bytes, i) {
                        cur.push_str(&text[run..i]);
                        expand(&mut cur, bytes[i + 1], last_status, shell_pid);
                        i += 2;
                        run = i;
                    } else {
                        i += 1;
                    }
                }
            }
            Class::Dollar if is_variable(bytes, i) => {
                cur.push_str(&text[run..i]);
                expand(&mut cur, bytes[i + 1], last_status, shell_pid);
                i += 2;
                run = i;
                in_word = true;
            }
            Class::Wide => {
                let c = text[i..].chars().next();
                let len = c.map_or(1, char::len_utf8);
                if c.is_some_and(char::is_whitespace) {
                    cur.push_str(&text[run..i]);
                    run = i + len;
                    if in_word {
                        out.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                } else {
                    in_word = true;
                }
                i += len;
            }
            _ => {
                in_word = true;
                i += 1;
            }
        }
    }
    if in_word {
        cur.push_str(&text[run..]);
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_background_and_quotes() {
        let cmds = split_commands("sleep 5 & echo 'a;b' && ps # note");
        assert_eq!(cmds.len(), 3);
        assert!(cmds[0].0.background);
        assert_eq!(cmds[1].0.text, "echo 'a;b'");
        assert!(cmds[2].1, "ps runs only if echo worked");
        assert_eq!(
            words("echo \"x y\" $? $$", 3, 7).expect("balanced"),
            vec!["echo", "x y", "3", "7"]
        );
        assert!(words("echo 'x", 0, 1).is_err());
    }

    /// The splitter works on bytes and slices of the line: characters of several
    /// bytes beside the separators, a `#` that starts no comment, and Unicode spaces
    /// between words must come out as they did char by char.
    #[test]
    fn slices_keep_characters_of_several_bytes_whole() {
        let cmds = split_commands("é;ü&&ß & ps a#b\tc #x");
        let texts: Vec<&str> = cmds.iter().map(|(c, _)| c.text).collect();
        assert_eq!(texts, ["é", "ü", "ß", "ps a#b\tc"]);
        assert!(cmds[2].1 && cmds[2].0.background);
        assert!(split_commands("  # all comment").is_empty());
        assert_eq!(split_commands("a\t#b")[0].0.text, "a\t#b");
        assert_eq!(
            words("a\u{a0}b\u{3000}'c d'\"e\"$?$$ é", 7, 42).expect("balanced"),
            vec!["a", "b", "c de742", "é"]
        );
        assert_eq!(
            words("'$?' \"$$\"", 1, 2).expect("balanced"),
            vec!["$?", "2"]
        );
        assert!(split_commands("echo 'a;b").len() == 1 && words("echo 'a;b", 0, 0).is_err());
    }

    /// The table's white space is `char::is_whitespace`'s, byte for byte.
    #[test]
    fn the_byte_classes_agree_with_char_is_whitespace() {
        for b in 0..0x80u8 {
            assert_eq!(
                class(b) == Class::Space,
                char::from(b).is_whitespace(),
                "{b:#x}"
            );
        }
    }
}
