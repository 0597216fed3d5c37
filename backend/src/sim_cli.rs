//! `isolab sim`: the simulator's shell in a real terminal. On a tty it shows a prompt
//! with line editing; with stdin piped it runs one command per line and prints only
//! the output, so scripts and tests can drive it.

use std::io::{BufRead, IsTerminal, Write};

use isolab_shared::sim::Simulator;

/// What can stop `isolab sim`.
#[derive(Debug, thiserror::Error)]
pub enum SimCliError {
    #[error(transparent)]
    Scenario(#[from] isolab_shared::sim::SimError),
    #[error("cannot read the terminal: {0}")]
    Terminal(#[from] rustyline::error::ReadlineError),
    #[error("cannot read standard input or write the output: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the simulated shell over stdin/stdout, starting from `scenario`.
pub fn run(scenario: &str) -> Result<(), SimCliError> {
    let sim = Simulator::new(scenario)?;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        interactive(sim)
    } else {
        piped(sim, std::io::stdin().lock(), std::io::stdout().lock())
    }
}

/// One command per input line; only the output is written.
pub fn piped(
    mut sim: Simulator,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<(), SimCliError> {
    for line in input.lines() {
        let line = line?;
        output.write_all(sim.run_line(&line).as_bytes())?;
        if sim.is_finished() {
            break;
        }
    }
    output.flush()?;
    Ok(())
}

fn interactive(mut sim: Simulator) -> Result<(), SimCliError> {
    let mut editor = rustyline::DefaultEditor::new()?;
    println!(
        "isolab simulator ({}): a model kernel, nothing here touches the real system. Type 'help'.",
        sim.scenario()
    );
    loop {
        match editor.readline(&sim.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                print!("{}", sim.run_line(&line));
                std::io::stdout().flush()?;
                if sim.is_finished() {
                    return Ok(());
                }
            }
            // Ctrl-C drops the line, as a shell does.
            Err(rustyline::error::ReadlineError::Interrupted) => println!("^C"),
            Err(rustyline::error::ReadlineError::Eof) => {
                println!("exit");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
}
