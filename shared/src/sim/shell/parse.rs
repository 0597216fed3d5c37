//! Splitting a command line: `;` and `&&` between commands, a trailing `&`, quotes,
//! and the two variables students use: `$?` and `$$`.

/// One command of a line, not yet split into words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandText {
    pub text: String,
    pub background: bool,
}

/// Splits a line into commands; the flag says the command follows `&&`.
pub fn split_commands(line: &str) -> Vec<(CommandText, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut and_then = false;
    let mut chars = line.chars().peekable();
    let push = |cur: &mut String, background: bool, and_then: bool, out: &mut Vec<_>| {
        let text = cur.trim().to_string();
        if !text.is_empty() {
            out.push((CommandText { text, background }, and_then));
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '#') if cur.trim().is_empty() || cur.ends_with(' ') => break,
            (None, ';') => {
                push(&mut cur, false, and_then, &mut out);
                and_then = false;
            }
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                push(&mut cur, false, and_then, &mut out);
                and_then = true;
            }
            (None, '&') => {
                push(&mut cur, true, and_then, &mut out);
                and_then = false;
            }
            (None, c) => cur.push(c),
        }
    }
    push(&mut cur, false, and_then, &mut out);
    out
}

/// Splits a command into words, removing quotes and expanding `$?` and `$$`.
pub fn words(text: &str, last_status: i32, shell_pid: u32) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (q, '$') if q != Some('\'') && matches!(chars.peek(), Some('?') | Some('$')) => {
                let v = chars.next();
                cur.push_str(&if v == Some('?') {
                    last_status.to_string()
                } else {
                    shell_pid.to_string()
                });
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unexpected EOF while looking for matching quote".to_string());
    }
    if in_word {
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
}
