//! `odis`: the command-line shell of the odis engine.

mod exec;
mod help;
mod print;
mod repl;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use odis::Engine;

use crate::exec::{Runner, Stop};
use crate::print::Format;

static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!("{} (DataFusion {})", env!("CARGO_PKG_VERSION"), datafusion::DATAFUSION_VERSION)
});

/// SQL for selecting LLM training data that is both high-quality and diverse.
///
/// With no -c or -f, starts an interactive shell (\? lists its commands).
#[derive(Debug, Parser)]
#[command(name = "odis", version = VERSION.as_str(), about, long_about)]
struct Cli {
    /// Run this SQL (repeatable; runs in order with -f, then exits)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Run the SQL statements in FILE (repeatable)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// How to print results
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Print results only: no banner or progress
    #[arg(short, long)]
    quiet: bool,

    /// Partitions DataFusion plans for (default: the number of CPUs)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    target_partitions: Option<u16>,

    /// Name a model directory for odis_score(text, 'NAME') (repeatable)
    #[arg(long = "model", value_name = "NAME=DIR", value_parser = parse_model)]
    models: Vec<(String, PathBuf)>,

    /// Where odis_score runs: cpu or cuda:N (SET odis.device)
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,

    /// ONNX Runtime sessions per model (SET odis.sessions; 0: automatic)
    #[arg(long, value_name = "N")]
    sessions: Option<usize>,

    /// Threads per ONNX Runtime session (SET odis.threads; 0: automatic)
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Rows per inference call (SET odis.micro_batch)
    #[arg(long, value_name = "N")]
    micro_batch: Option<usize>,
}

fn parse_model(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, dir)) if !name.is_empty() && !dir.is_empty() => Ok((name.to_string(), PathBuf::from(dir))),
        _ => Err(format!("expected NAME=DIR, e.g. --model quality=models/quality, got '{text}'")),
    }
}

/// The scoring settings given as flags, as SET statements.
fn settings(cli: &Cli) -> String {
    let mut sql = String::new();
    if let Some(device) = &cli.device {
        sql.push_str(&format!("SET odis.device = '{}';", device.replace('\'', "")));
    }
    for (key, value) in [("sessions", cli.sessions), ("threads", cli.threads), ("micro_batch", cli.micro_batch)] {
        if let Some(v) = value {
            sql.push_str(&format!("SET odis.{key} = {v};"));
        }
    }
    sql
}

/// One thing to run from the command line, in the order it was given.
enum Script {
    Sql(String),
    File(PathBuf),
}

/// `-c` and `-f` in the order the user wrote them.
fn scripts_in_order(cli: &Cli, matches: &ArgMatches) -> Vec<Script> {
    let mut scripts: Vec<(usize, Script)> = Vec::new();
    if let Some(indices) = matches.indices_of("commands") {
        scripts.extend(indices.zip(&cli.commands).map(|(i, c)| (i, Script::Sql(c.clone()))));
    }
    if let Some(indices) = matches.indices_of("files") {
        scripts.extend(indices.zip(&cli.files).map(|(i, f)| (i, Script::File(f.clone()))));
    }
    scripts.sort_by_key(|(i, _)| *i);
    scripts.into_iter().map(|(_, s)| s).collect()
}

async fn run(cli: Cli, scripts: Vec<Script>) -> ExitCode {
    let mut builder = Engine::builder();
    if let Some(n) = cli.target_partitions {
        builder = builder.with_target_partitions(n.into());
    }
    let engine = match builder.build() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, dir) in &cli.models {
        if let Err(e) = engine.register_model(name, dir) {
            eprintln!("Error: --model {name}={}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let settings = settings(&cli);
    if !settings.is_empty() {
        if let Err(e) = engine.sql(&settings).await {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut runner = Runner::new(engine, cli.format);
    runner.progress = !cli.quiet && std::io::stderr().is_terminal();

    if scripts.is_empty() {
        return if repl::run(&mut runner, cli.quiet).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    for script in scripts {
        let result = match script {
            Script::Sql(sql) => runner.run_sql(&sql).await,
            Script::File(path) => match std::fs::read_to_string(&path) {
                Ok(sql) => runner.run_sql(&sql).await,
                Err(e) => {
                    eprintln!("Error: cannot read SQL file '{}': {e}", path.display());
                    return ExitCode::FAILURE;
                }
            },
        };
        match result {
            Ok(()) => {}
            Err(Stop::OutputClosed) => return ExitCode::SUCCESS,
            Err(Stop::Cancelled) => {
                eprintln!("Query cancelled.");
                return ExitCode::from(130);
            }
            Err(Stop::Failed(e)) => {
                eprintln!("Error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let scripts = scripts_in_order(&cli, &matches);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, scripts))
}
