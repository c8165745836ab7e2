//! Running a model: micro-batches of token ids go to a pool of ONNX Runtime
//! sessions, each on its own thread.
//!
//! `Session::run` takes `&mut self`, and a run can take tens of milliseconds,
//! so sessions live on dedicated threads that take micro-batches from a
//! shared queue; the query awaits the answers without blocking its async
//! runtime. A dropped query leaves its queued micro-batches unanswered and
//! the workers skip them, so Ctrl-C stops the work promptly.

use std::sync::Arc;
use std::thread::JoinHandle;

use datafusion::error::{DataFusionError, Result};
use tokio::sync::oneshot;

use crate::score::inference::{MicroBatch, score};
use crate::score::model::{ModelSpec, new_session};
use crate::score::options::Execution;

struct Job {
    batch: MicroBatch,
    reply: oneshot::Sender<Result<Vec<f32>>>,
}

/// Sessions of one model, each on its own thread.
pub struct SessionPool {
    pub execution: Execution,
    sender: Option<crossbeam_channel::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool").field("execution", &self.execution).finish()
    }
}

impl SessionPool {
    /// Creates the sessions (this takes a moment; call it off the async
    /// runtime) and starts their threads.
    pub fn start(spec: Arc<ModelSpec>, execution: Execution) -> Result<Self> {
        let sessions = (0..execution.sessions)
            .map(|_| new_session(&spec.dir, execution.device, execution.threads))
            .collect::<Result<Vec<_>>>()?;
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        let workers = sessions
            .into_iter()
            .enumerate()
            .map(|(i, mut session)| {
                let (receiver, spec) = (receiver.clone(), Arc::clone(&spec));
                std::thread::Builder::new()
                    .name(format!("odis-score-{i}"))
                    .spawn(move || {
                        for job in receiver {
                            if job.reply.is_closed() {
                                continue; // the query is gone
                            }
                            let _ = job.reply.send(score(&mut session, &spec, &job.batch));
                        }
                    })
                    .map_err(|e| DataFusionError::Execution(format!("odis_score: cannot start a scoring thread: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            execution,
            sender: Some(sender),
            workers,
        })
    }

    /// Scores one micro-batch on whichever session is free.
    pub async fn run(&self, batch: MicroBatch) -> Result<Vec<f32>> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .as_ref()
            .expect("open until dropped")
            .send(Job { batch, reply })
            .map_err(|_| DataFusionError::Execution("odis_score: the scoring threads stopped".into()))?;
        answer
            .await
            .map_err(|_| DataFusionError::Execution("odis_score: a scoring thread stopped".into()))?
    }
}

impl Drop for SessionPool {
    fn drop(&mut self) {
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
