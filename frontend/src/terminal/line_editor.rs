//! Line editing for the simulated shell, done on the wasm side: insert, delete, cursor
//! keys, history, Ctrl-C, Ctrl-U, Ctrl-A/E, Ctrl-L.

/// What the terminal should do after some input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Write this to the terminal (a redraw of the line).
    Echo(String),
    /// Enter was pressed: run this line.
    Submit(String),
    /// Ctrl-C: the line was abandoned.
    Interrupt,
    /// Ctrl-L: clear the screen, then redraw.
    ClearScreen,
}

/// The line being typed, its cursor, and the history of submitted lines.
#[derive(Clone, Debug, Default)]
pub struct LineEditor {
    line: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// The history entry shown, while browsing with the arrows.
    browsing: Option<usize>,
    /// The unfinished line, kept while browsing history.
    draft: Vec<char>,
    prompt: String,
}

impl LineEditor {
    /// Sets the prompt used by redraws.
    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt = prompt.to_string();
    }

    /// The line typed so far.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// Where the cursor is, in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The text that redraws the prompt and line with the cursor in place.
    pub fn redraw(&self) -> String {
        let mut out = format!("\r{}{}\x1b[K", self.prompt, self.line());
        let back = self.line.len() - self.cursor;
        if back > 0 {
            out.push_str(&format!("\x1b[{back}D"));
        }
        out
    }

    /// Handles keystrokes (or pasted text) as xterm.js's `onData` delivers them.
    pub fn feed(&mut self, input: &str) -> Vec<Edit> {
        let mut edits = Vec::new();
        let mut dirty = false;
        let chars: Vec<char> = input.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\r' | '\n' => {
                    if dirty {
                        edits.push(Edit::Echo(self.redraw()));
                        dirty = false;
                    }
                    // "\r\n" from a paste is one Enter.
                    if c == '\r' && chars.get(i) == Some(&'\n') {
                        i += 1;
                    }
                    let line = self.line();
                    if !line.trim().is_empty() && self.history.last() != Some(&line) {
                        self.history.push(line.clone());
                    }
                    self.clear_line();
                    edits.push(Edit::Submit(line));
                }
                '\x03' => {
                    self.clear_line();
                    edits.push(Edit::Interrupt);
                    dirty = false;
                }
                '\x0c' => {
                    edits.push(Edit::ClearScreen);
                    dirty = true;
                }
                '\x7f' | '\x08' if self.cursor > 0 => {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                    dirty = true;
                }
                '\x15' => {
                    self.line.drain(..self.cursor);
                    self.cursor = 0;
                    dirty = true;
                }
                '\x01' => {
                    self.cursor = 0;
                    dirty = true;
                }
                '\x05' => {
                    self.cursor = self.line.len();
                    dirty = true;
                }
                '\x1b' => {
                    let (consumed, changed) = self.escape(&chars[i..]);
                    i += consumed;
                    dirty |= changed;
                }
                c if !c.is_control() => {
                    self.line.insert(self.cursor, c);
                    self.cursor += 1;
                    dirty = true;
                }
                _ => {}
            }
        }
        if dirty {
            edits.push(Edit::Echo(self.redraw()));
        }
        edits
    }

    /// Handles an escape sequence after ESC; returns (chars consumed, line changed).
    fn escape(&mut self, rest: &[char]) -> (usize, bool) {
        let (key, consumed) = match rest {
            ['[', '3', '~', ..] => ("delete", 3),
            ['[', '1', '~', ..] | ['[', 'H', ..] | ['O', 'H', ..] => {
                ("home", if rest[1] == '1' { 3 } else { 2 })
            }
            ['[', '4', '~', ..] | ['[', 'F', ..] | ['O', 'F', ..] => {
                ("end", if rest[1] == '4' { 3 } else { 2 })
            }
            ['[', 'A', ..] | ['O', 'A', ..] => ("up", 2),
            ['[', 'B', ..] | ['O', 'B', ..] => ("down", 2),
            ['[', 'C', ..] | ['O', 'C', ..] => ("right", 2),
            ['[', 'D', ..] | ['O', 'D', ..] => ("left", 2),
            _ => return (rest.len().min(1), false),
        };
        match key {
            "delete" if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
            }
            "home" => self.cursor = 0,
            "end" => self.cursor = self.line.len(),
            "left" if self.cursor > 0 => self.cursor -= 1,
            "right" if self.cursor < self.line.len() => self.cursor += 1,
            "up" => self.history_step(true),
            "down" => self.history_step(false),
            _ => return (consumed, false),
        }
        (consumed, true)
    }

    fn history_step(&mut self, older: bool) {
        let n = self.history.len();
        let next = match (self.browsing, older) {
            (None, true) if n > 0 => {
                self.draft = self.line.clone();
                Some(n - 1)
            }
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i + 1 < n => Some(i + 1),
            (Some(_), false) => None,
            _ => return,
        };
        self.browsing = next;
        self.line = match next {
            Some(i) => self.history[i].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
        self.cursor = self.line.len();
    }

    fn clear_line(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
    }
}
