//! The interactive shell: a line editor with persistent history, SQL
//! statements that may span lines (ended by `;`), and backslash commands.
//!
//! When standard input is not a terminal, the same commands and statements
//! are read from it line by line, so `odis < script.sql` behaves like typing.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use rustyline::error::ReadlineError;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Completer, Config, Editor, Helper, Highlighter, Hinter};

use crate::exec::{Runner, Stop, print_out};
use crate::help;
use crate::print::Format;

const COMMANDS_HELP: &str = "\
Commands:
  \\q                 quit (or Ctrl-D)
  \\d                 list tables and views
  \\d NAME            describe a table's columns
  \\h                 list the odis functions
  \\h FUNCTION        show a function's documentation
  \\timing [on|off]   show each statement's run time
  \\format FORMAT     print results as table, csv, json or ndjson
  \\?                 this help
SQL statements end with ';' and may span lines. Ctrl-C cancels a running query.
";

/// Whether `sql` is one or more whole statements: its last token (comments
/// and whitespace aside) is `;`, and no string or comment is left open.
pub fn is_complete_sql(sql: &str) -> bool {
    match Tokenizer::new(&GenericDialect {}, sql).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .rev()
            .find(|t| !matches!(t, Token::Whitespace(_)))
            .is_some_and(|t| *t == Token::SemiColon),
        Err(_) => false,
    }
}

pub fn is_backslash_command(input: &str) -> bool {
    input.trim_start().starts_with('\\')
}

/// Tells the line editor when an entry is complete.
#[derive(Helper, Completer, Hinter, Highlighter)]
struct SqlHelper;

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim().is_empty() || is_backslash_command(input) || is_complete_sql(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

/// What the shell does after a command.
enum Next {
    Continue,
    Quit,
    /// The command was wrong (unknown, or a bad argument); its error is
    /// printed and the shell goes on.
    Failed,
}

/// Runs one backslash command.
async fn run_command(runner: &mut Runner, line: &str) -> Result<Next, Stop> {
    let line = line.trim().trim_end_matches(';');
    let (command, argument) = match line.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim()),
        None => (line, ""),
    };
    match (command, argument) {
        ("\\q", _) => return Ok(Next::Quit),
        ("\\?", _) => print_out(COMMANDS_HELP)?,
        ("\\d", "") => {
            runner
                .run_sql(
                    "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                     FROM information_schema.tables WHERE table_schema <> 'information_schema' \
                     ORDER BY table_schema, table_name;",
                )
                .await?
        }
        ("\\d", name) => runner.run_sql(&format!("DESCRIBE {name};")).await?,
        ("\\h", "") => print_out(&help::function_list(&runner.engine))?,
        ("\\h", name) => match help::function_help(&runner.engine, name) {
            Ok(text) => print_out(&text)?,
            Err(message) => {
                eprintln!("Error: {message}");
                return Ok(Next::Failed);
            }
        },
        ("\\timing", arg) => {
            runner.timing = match arg {
                "" => !runner.timing,
                "on" => true,
                "off" => false,
                other => {
                    eprintln!("Error: \\timing takes 'on' or 'off', not '{other}'");
                    return Ok(Next::Failed);
                }
            };
            eprintln!("Timing is {}.", if runner.timing { "on" } else { "off" });
        }
        ("\\format", "") => eprintln!("Format is {:?}; \\format table|csv|json|ndjson changes it.", runner.format),
        ("\\format", arg) => match arg.parse::<Format>() {
            Ok(format) => runner.format = format,
            Err(message) => {
                eprintln!("Error: {message}");
                return Ok(Next::Failed);
            }
        },
        (other, _) => {
            eprintln!("Error: unknown command '{other}'; \\? lists the commands");
            return Ok(Next::Failed);
        }
    }
    Ok(Next::Continue)
}

/// Runs a backslash command given with `-c` (`odis -c '\\h quality_filter'`):
/// true when it worked (or quit), false when its error was printed.
pub async fn run_command_argument(runner: &mut Runner, line: &str) -> Result<bool, Stop> {
    Ok(!matches!(run_command(runner, line).await?, Next::Failed))
}

/// Runs one entry (a backslash command or SQL). Errors are printed; only
/// quitting and a closed output end the session.
async fn run_entry(runner: &mut Runner, entry: &str) -> Result<Next, Stop> {
    let result = if is_backslash_command(entry) {
        run_command(runner, entry).await
    } else {
        runner.run_sql(entry).await.map(|()| Next::Continue)
    };
    match result {
        Err(Stop::Failed(e)) => {
            eprintln!("Error: {e}");
            Err(Stop::Failed(e))
        }
        Err(Stop::Cancelled) => {
            eprintln!("Query cancelled.");
            Err(Stop::Cancelled)
        }
        other => other,
    }
}

/// `$ODIS_HISTORY`, or `history` in odis's home directory.
fn history_path() -> PathBuf {
    match std::env::var_os("ODIS_HISTORY") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => odis::udfs::score::runtime::odis_home().join("history"),
    }
}

/// The interactive shell. Returns whether every entry succeeded.
pub async fn run(runner: &mut Runner, quiet: bool) -> bool {
    if !std::io::stdin().is_terminal() {
        return run_script_from_stdin(runner).await;
    }
    // Entries go into the history by hand, with secret option values redacted.
    let config = Config::builder().auto_add_history(false).build();
    let mut editor: Editor<SqlHelper, _> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("Error: cannot start the line editor: {e}");
            return false;
        }
    };
    editor.set_helper(Some(SqlHelper));
    let history = history_path();
    let _ = editor.load_history(&history);
    if !quiet {
        println!(
            "odis {} — SQL for diverse, high-quality data selection. \\h for functions, \\? for commands, \\q to quit.",
            env!("CARGO_PKG_VERSION")
        );
    }
    let mut ok = true;
    loop {
        match editor.readline("odis> ") {
            Ok(entry) if entry.trim().is_empty() => continue,
            Ok(entry) => match {
                let _ = editor.add_history_entry(odis::stores::redact_secret_options(&entry));
                run_entry(runner, &entry).await
            } {
                Ok(Next::Continue | Next::Failed) => {}
                Ok(Next::Quit) | Err(Stop::OutputClosed) => break,
                Err(_) => ok = false,
            },
            // Ctrl-C at the prompt clears the line, as in other shells.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("Error: {e}");
                ok = false;
                break;
            }
        }
    }
    if let Some(dir) = history.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(&history) {
        eprintln!("Warning: could not save history to {}: {e}", history.display());
    }
    ok
}

/// Commands and statements piped on stdin; the first failure stops the run.
async fn run_script_from_stdin(runner: &mut Runner) -> bool {
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            eprintln!("Error: standard input is not valid UTF-8 text");
            return false;
        };
        if pending.trim().is_empty() && is_backslash_command(&line) {
            pending.clear();
            match run_entry(runner, &line).await {
                Ok(Next::Continue | Next::Failed) => continue,
                Ok(Next::Quit) | Err(Stop::OutputClosed) => return true,
                Err(_) => return false,
            }
        }
        pending.push_str(&line);
        pending.push('\n');
        if is_complete_sql(&pending) {
            let entry = std::mem::take(&mut pending);
            match run_entry(runner, &entry).await {
                Ok(Next::Continue | Next::Failed) => {}
                Ok(Next::Quit) | Err(Stop::OutputClosed) => return true,
                Err(_) => return false,
            }
        }
    }
    if pending.trim().is_empty() {
        return true;
    }
    // A last statement without ';' still runs, as with -f.
    !matches!(run_entry(runner, &pending).await, Err(Stop::Failed(_) | Stop::Cancelled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_complete_only_after_a_semicolon() {
        assert!(is_complete_sql("SELECT 1;"));
        assert!(is_complete_sql("SELECT 1;\n-- trailing comment\n"));
        assert!(!is_complete_sql("SELECT 1"));
        assert!(!is_complete_sql("SELECT ';"));
        assert!(!is_complete_sql("SELECT 1 -- ;"));
        assert!(!is_complete_sql("SELECT 1; SELECT"));
        assert!(is_complete_sql("SELECT 1;\nSELECT 'a;b';"));
    }
}
