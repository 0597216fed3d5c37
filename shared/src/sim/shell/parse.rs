//! Splitting a command line: `;` and `&&` between commands, a trailing `&`, quotes,
//! and the two variables students use: `$?` and `$$`.

use std::fmt::Write;

/// One command of a line, not yet split into words: a slice of the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandText<'a> {
    pub text: &'a str,
    pub background: bool,
}

/// Splits a line into commands; the flag says the command follows `&&`. The
/// separators and quotes are ASCII, so the line is scanned by bytes and each command
/// is the slice between separators (a UTF-8 character never contains an ASCII byte).
pub fn split_commands(line: &str) -> Vec<(CommandText<'_>, bool)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    // The current command is `line[start..i]`.
    let mut start = 0;
    let mut quote: Option<u8> = None;
    let mut and_then = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'#') if line[start..i].trim().is_empty() || line[start..i].ends_with(' ') => {
                break
            }
            (None, b';') => {
                push(&line[start..i], false, and_then, &mut out);
                start = i + 1;
                and_then = false;
            }
            (None, b'&') if bytes.get(i + 1) == Some(&b'&') => {
                push(&line[start..i], false, and_then, &mut out);
                i += 1;
                start = i + 1;
                and_then = true;
            }
            (None, b'&') => {
                push(&line[start..i], true, and_then, &mut out);
                start = i + 1;
                and_then = false;
            }
            (None, _) => {}
        }
        i += 1;
    }
    push(&line[start..i], false, and_then, &mut out);
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

/// Splits a command into words, removing quotes and expanding `$?` and `$$`. Plain
/// characters are copied a run at a time, up to the next one that is not plain.
pub fn words(text: &str, last_status: i32, shell_pid: u32) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    // Where the run of plain characters not yet in `cur` starts.
    let mut run = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                cur.push_str(&text[run..i]);
                run = i + 1;
                quote = None;
            }
            (None, '\'' | '"') => {
                cur.push_str(&text[run..i]);
                run = i + 1;
                quote = Some(c);
                in_word = true;
            }
            (q, '$') if q != Some('\'') && matches!(chars.peek(), Some((_, '?' | '$'))) => {
                cur.push_str(&text[run..i]);
                if let Some((j, v)) = chars.next() {
                    let _ = if v == '?' {
                        write!(cur, "{last_status}")
                    } else {
                        write!(cur, "{shell_pid}")
                    };
                    run = j + 1;
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                cur.push_str(&text[run..i]);
                run = i + c.len_utf8();
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, _) => in_word = true,
        }
    }
    if quote.is_some() {
        return Err("unexpected EOF while looking for matching quote".to_string());
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
        assert_eq!(words("'$?' \"$$\"", 1, 2).expect("balanced"), vec!["$?", "2"]);
    }
}
