//! Retries fit for hours-long scans that still fail fast on a wrong endpoint.
//!
//! A scan of a large corpus sends many thousands of requests over hours; some
//! meet a 503 SlowDown, a reset connection or a server that is restarting,
//! and one such error must not end the run. A wrong endpoint, however, must
//! be an error within seconds. object_store's retry policy cannot tell the
//! two apart (a refused connection is retried like a reset one), so each
//! bucket gets two stores with the same settings: a quick one that probes
//! the endpoint before the first request, and a patient one for every
//! request once the endpoint has answered. Errors no retry cures (403, 404,
//! a bad request) are retried by neither.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    BackoffConfig, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, RetryConfig,
};

/// Until the endpoint has answered: a few quick retries (a bad endpoint is
/// an error in about 15 seconds, an unreachable one after the connect
/// timeout).
pub fn quick() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
        ..Default::default()
    }
}

/// Once it has answered: up to 15 retries per request over up to 5
/// minutes, so a server that is away for a minute or two costs a pause, not
/// the run. object_store draws each pause at random between the first one
/// and `base` times the last (decorrelated jitter), so with base 2 the
/// pauses do not grow on average (10 retries were spent in 3 s here); base 3
/// grows them about 1.5x a retry, from 200 ms to at most 20 s (about two
/// minutes for all 15).
pub fn patient() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            base: 3.0,
        },
        max_retries: 15,
        retry_timeout: Duration::from_secs(5 * 60),
    }
}

/// A store whose first request is preceded by a probe with `quick`
/// retries (a HEAD of a key that need not exist): any answer from the
/// server, even an error status, shows the endpoint is there, and every
/// request then runs with `patient` retries; no answer is the request's
/// error, within seconds.
#[derive(Debug)]
pub struct FirstContactStore {
    quick: Arc<dyn ObjectStore>,
    patient: Arc<dyn ObjectStore>,
    answered: Arc<AtomicBool>,
}

/// The key the probe asks for.
const PROBE: &str = ".odis-endpoint-probe";

impl FirstContactStore {
    pub fn new(quick: Arc<dyn ObjectStore>, patient: Arc<dyn ObjectStore>) -> Self {
        Self {
            quick,
            patient,
            answered: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The patient store, once the endpoint has answered.
    async fn store(&self) -> Result<&Arc<dyn ObjectStore>> {
        probe(&self.quick, &self.answered).await?;
        Ok(&self.patient)
    }

    /// A stream from the patient store, after the probe.
    fn stream<T: Send + 'static>(
        &self,
        open: impl FnOnce(&Arc<dyn ObjectStore>) -> BoxStream<'static, Result<T>> + Send + 'static,
    ) -> BoxStream<'static, Result<T>> {
        if self.answered.load(Ordering::Relaxed) {
            return open(&self.patient);
        }
        let (quick, patient, answered) = (Arc::clone(&self.quick), Arc::clone(&self.patient), Arc::clone(&self.answered));
        futures::stream::once(async move {
            match probe(&quick, &answered).await {
                Ok(()) => open(&patient),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}

async fn probe(quick: &Arc<dyn ObjectStore>, answered: &AtomicBool) -> Result<()> {
    if answered.load(Ordering::Relaxed) {
        return Ok(());
    }
    match quick.head(&Path::from(PROBE)).await {
        Ok(_) => {}
        Err(e) if server_answered(&e) => {}
        Err(e) => return Err(e),
    }
    answered.store(true, Ordering::Relaxed);
    Ok(())
}

/// Whether `error` is an answer from the server (a status), as opposed to
/// no answer at all (refused, reset, timed out, unresolvable).
fn server_answered(error: &object_store::Error) -> bool {
    use object_store::Error::*;
    match error {
        NotFound { .. } | AlreadyExists { .. } | Precondition { .. } | NotModified { .. } | PermissionDenied { .. }
        | Unauthenticated { .. } => true,
        other => other.to_string().contains("status code"),
    }
}

impl fmt::Display for FirstContactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.patient)
    }
}

#[async_trait]
impl ObjectStore for FirstContactStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.store().await?.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.store().await?.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.store().await?.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.stream(move |store| store.delete_stream(locations))
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let prefix = prefix.cloned();
        self.stream(move |store| store.list(prefix.as_ref()))
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let (prefix, offset) = (prefix.cloned(), offset.clone());
        self.stream(move |store| store.list_with_offset(prefix.as_ref(), &offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.store().await?.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.store().await?.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.store().await?.rename_opts(from, to, options).await
    }
}
