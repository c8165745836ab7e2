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
}

impl Runner {
    pub fn new(engine: Engine, format: Format) -> Self {
        Self {
            engine,
            format,
            timing: false,
        }
    }

    /// Runs every statement in `sql`, in order, stopping at the first that
    /// fails or is cancelled.
    pub async fn run_sql(&self, sql: &str) -> Result<(), Stop> {
        for statement in self.engine.parse(sql)? {
            let started = Instant::now();
            let run = async {
                let mut stream = self.engine.execute(statement).await?;
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
            let rows = cancellable(run).await?;
            if self.timing {
                eprintln!("Run time: {:.3} s, {rows} row(s)", started.elapsed().as_secs_f64());
            }
        }
        Ok(())
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
