//! The simulated shell behind a terminal: keystrokes go through the [`LineEditor`] in
//! the page; each finished line goes to the simulator's worker, and its output is
//! written when the answer comes back. Keys typed meanwhile wait, like a real
//! terminal's type-ahead.

use std::cell::RefCell;
use std::rc::Rc;

use super::line_editor::{Edit, LineEditor};
use super::xterm::XTerm;
use crate::source::SimSource;

const EXITED: &str = "[the shell has exited: choose a scenario to start over]\r\n";

/// Output of the simulated shell as a terminal wants it: CRLF line ends.
pub fn to_terminal(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Splits `data` after its first line end ("\r", "\n" or "\r\n"), if any.
pub fn split_after_line_end(data: &str) -> (&str, &str) {
    let Some(i) = data.find(['\r', '\n']) else {
        return (data, "");
    };
    let end = if data[i..].starts_with("\r\n") {
        i + 2
    } else {
        i + 1
    };
    data.split_at(end)
}

/// One terminal's simulated shell: its line editor and the line in flight.
pub struct SimShell {
    sim: SimSource,
    term: XTerm,
    editor: LineEditor,
    /// A line is with the simulator; input waits in `typeahead`.
    busy: bool,
    typeahead: String,
    /// The terminal was detached: answers arriving later are dropped.
    closed: bool,
}

impl SimShell {
    /// Greets on `term` and returns the shell, ready for [`SimShell::input`].
    pub fn start(sim: SimSource, term: XTerm) -> Rc<RefCell<SimShell>> {
        let mut editor = LineEditor::default();
        let prompt = sim.prompt();
        editor.set_prompt(&prompt);
        write(
            &term,
            &format!("\x1b[2m{}\x1b[0m\r\n{prompt}", sim.greeting()),
        );
        Rc::new(RefCell::new(SimShell {
            sim,
            term,
            editor,
            busy: false,
            typeahead: String::new(),
            closed: false,
        }))
    }

    /// Writes output that no keystroke caused (after `exec`), with the new prompt.
    pub fn notice(&mut self, text: &str) {
        if self.closed {
            return;
        }
        self.editor.set_prompt(&self.sim.prompt());
        write(&self.term, text);
    }

    /// Stops writing to the terminal.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Handles one `onData` delivery: edits the line and sends a finished line to the
    /// simulator; what follows it waits for the answer.
    pub fn input(shell: &Rc<RefCell<SimShell>>, data: &str) {
        let mut me = shell.borrow_mut();
        if me.closed {
            return;
        }
        if me.busy {
            me.typeahead.push_str(data);
            return;
        }
        let (now, later) = split_after_line_end(data);
        let mut out = String::new();
        let mut submitted = None;
        for edit in me.editor.feed(now) {
            match edit {
                Edit::Echo(text) => out.push_str(&text),
                Edit::Interrupt => {
                    out.push_str("^C\r\n");
                    out.push_str(&me.sim.prompt());
                }
                Edit::ClearScreen => out.push_str("\x1b[2J\x1b[H"),
                Edit::Submit(line) => {
                    out.push_str("\r\n");
                    if me.sim.is_finished() {
                        out.push_str(EXITED);
                    } else {
                        submitted = Some(line);
                    }
                }
            }
        }
        write(&me.term, &out);
        match submitted {
            Some(line) => {
                me.busy = true;
                me.typeahead.push_str(later);
                let shell = shell.clone();
                let sim = me.sim.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = sim.run_line(&line).await;
                    SimShell::answered(&shell, &result);
                });
            }
            None if !later.is_empty() => {
                drop(me);
                SimShell::input(shell, later);
            }
            None => {}
        }
    }

    /// Writes a line's output and the next prompt, then takes up the type-ahead.
    fn answered(shell: &Rc<RefCell<SimShell>>, result: &str) {
        let rest = {
            let mut me = shell.borrow_mut();
            if me.closed {
                return;
            }
            let mut out = to_terminal(result);
            if !result.is_empty() && !result.ends_with('\n') {
                out.push_str("\r\n");
            }
            if me.sim.is_finished() {
                out.push_str(EXITED);
            } else {
                let prompt = me.sim.prompt();
                me.editor.set_prompt(&prompt);
                out.push_str(&prompt);
            }
            write(&me.term, &out);
            me.busy = false;
            std::mem::take(&mut me.typeahead)
        };
        if !rest.is_empty() {
            SimShell::input(shell, &rest);
        }
    }
}

/// Writes `text` to the terminal when there is any.
pub fn write(term: &XTerm, text: &str) {
    if !text.is_empty() {
        term.write_str(text);
    }
}
