//! The simulated shell behind a terminal: keystrokes go through the [`LineEditor`],
//! finished lines through the simulator.

use std::cell::RefCell;
use std::rc::Rc;

use super::line_editor::{Edit, LineEditor};
use super::xterm::XTerm;
use crate::source::SimSource;

/// Output of the simulated shell as a terminal wants it: CRLF line ends.
pub fn to_terminal(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// The banner and first prompt.
pub fn greeting(sim: &SimSource, editor: &mut LineEditor) -> String {
    let prompt = sim.prompt();
    editor.set_prompt(&prompt);
    format!(
        "\x1b[2misolab simulator · scenario {} · try: ps, hostname, unshare -p -f --mount-proc sh, ip link, help\x1b[0m\r\n{prompt}",
        sim.scenario()
    )
}

/// Handles one `onData` delivery: edits the line, runs finished lines, and returns
/// what to write to the screen.
pub fn handle_input(sim: &SimSource, editor: &Rc<RefCell<LineEditor>>, data: &str) -> String {
    let edits = editor.borrow_mut().feed(data);
    let mut out = String::new();
    for edit in edits {
        match edit {
            Edit::Echo(text) => out.push_str(&text),
            Edit::Interrupt => {
                out.push_str("^C\r\n");
                out.push_str(&sim.prompt());
            }
            Edit::ClearScreen => out.push_str("\x1b[2J\x1b[H"),
            Edit::Submit(line) => {
                out.push_str("\r\n");
                if sim.is_finished() {
                    out.push_str("[the shell has exited: choose a scenario to start over]\r\n");
                    continue;
                }
                let result = sim.run_line(&line);
                out.push_str(&to_terminal(&result));
                if !result.is_empty() && !result.ends_with('\n') {
                    out.push_str("\r\n");
                }
                if sim.is_finished() {
                    out.push_str("[the shell has exited: choose a scenario to start over]\r\n");
                } else {
                    let prompt = sim.prompt();
                    editor.borrow_mut().set_prompt(&prompt);
                    out.push_str(&prompt);
                }
            }
        }
    }
    out
}

/// Writes `text` to the terminal when there is any.
pub fn write(term: &XTerm, text: &str) {
    if !text.is_empty() {
        term.write_str(text);
    }
}
