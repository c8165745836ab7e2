//! Running statements for the CLI: streaming results to stdout, timing, and
//! cancelling on Ctrl-C.

use std::io::{BufWriter, Stdout, Write};
use std::time::Instant;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use futures::StreamExt;
use odis::{Engine, OdisError};

use crate::print::{Format, ResultPrinter};

/// Why a run of statements stopped early.
#[derive(Debug)]
pub enum Stop {
    /// A statement failed; the message is already one line.
    Failed(OdisError),
    /// The user pressed Ctrl-C.
    Cancelled,
    /// Whoever read our output went away (`odis ... | head`).
    OutputClosed,
}

impl From<OdisError> for Stop {
    fn from(e: OdisError) -> Self {
        Stop::Failed(e)
    }
}

impl From<ArrowError> for Stop {
    fn from(e: ArrowError) -> Self {
        let broken_pipe = match &e {
            ArrowError::IoError(_, io) => io.kind() == std::io::ErrorKind::BrokenPipe,
            _ => false,
        };
        if broken_pipe {
            Stop::OutputClosed
        } else {
            Stop::Failed(DataFusionError::ArrowError(Box::new(e), None).into())
        }
    }
}

/// The CLI's session state: the engine and how results are shown.
pub struct Runner {
    pub engine: Engine,
    pub format: Format,
    pub timing: bool,
    /// Show scoring progress on stderr (a terminal, not -q).
    pub progress: bool,
}

impl Runner {
    pub fn new(engine: Engine, format: Format) -> Self {
        Self {
            engine,
            format,
            timing: false,
            progress: false,
        }
    }

    fn progress_enabled(&self) -> bool {
        self.progress
            && self
                .engine
                .context()
                .state()
                .config()
                .options()
                .extensions
                .get::<odis::udfs::OdisOptions>()
                .is_none_or(|o| o.progress)
    }

    /// Runs every statement in `sql`, in order, stopping at the first that
    /// fails or is cancelled.
    pub async fn run_sql(&self, sql: &str) -> Result<(), Stop> {
        for statement in self.engine.parse(sql)? {
            let started = Instant::now();
            let progress = odis::engine::StatementProgress::default();
            let run = async {
                let mut stream = self.engine.execute_watched(statement, &progress).await?;
                let mut printer = ResultPrinter::new(self.format, BufWriter::new(std::io::stdout()));
                printer.set_schema(stream.schema());
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(OdisError::from)?;
                    printer.write(&batch)?;
                }
                let rows = printer.rows();
                printer.finish()?;
                Ok::<usize, Stop>(rows)
            };
            let run = async {
                match odis::panic_guard::catch(run).await {
                    Ok(rows) => rows,
                    Err(panic) => Err(Stop::Failed(OdisError::Internal(panic))),
                }
            };
            let ticker = self.progress_enabled().then(|| tokio::spawn(show_progress(progress.scoring.clone())));
            let rows = cancellable(run).await;
            if let Some(ticker) = ticker {
                ticker.abort();
                eprint!("\r\x1b[2K");
            }
            let rows = rows?;
            if self.timing {
                eprintln!("Run time: {:.3} s, {rows} row(s)", started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }
}

/// Prints a statement's odis_score progress (rows done, rows/s, ETA when the
/// total is known) on one line of stderr, twice a second, until aborted.
async fn show_progress(scoring: odis::udfs::score::progress::ScoreProgress) {
    let started = Instant::now();
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        interval.tick().await;
        let done = scoring.rows_scored();
        if done == 0 {
            continue;
        }
        let seconds = started.elapsed().as_secs_f64();
        let rate = done as f64 / seconds.max(1e-9);
        let line = match scoring.expected_rows() {
            Some(total) if total >= done => {
                let eta = (total - done) as f64 / rate.max(1e-9);
                format!(
                    "scoring: {done}/{total} rows ({:.0}%), {rate:.1} rows/s, ETA {}",
                    100.0 * done as f64 / total.max(1) as f64,
                    format_duration(eta)
                )
            }
            _ => format!("scoring: {done} rows, {rate:.1} rows/s"),
        };
        eprint!("\r\x1b[2K{line}");
    }
}

fn format_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Runs `work` until it finishes or the user presses Ctrl-C; dropping the
/// future cancels the query (DataFusion stops when its stream is dropped).
pub async fn cancellable<T>(work: impl Future<Output = Result<T, Stop>>) -> Result<T, Stop> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(Stop::Cancelled),
    }
}

/// Writes `text` to stdout, mapping a closed pipe to [`Stop::OutputClosed`].
pub fn print_out(text: &str) -> Result<(), Stop> {
    let mut out: BufWriter<Stdout> = BufWriter::new(std::io::stdout());
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    written.map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Stop::OutputClosed
        } else {
            Stop::Failed(OdisError::io("cannot write to stdout", e))
        }
    })
}
