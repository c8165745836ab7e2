//! Panics deep in a dependency become errors.
//!
//! A corrupt input can still trip an arithmetic check inside a reader (a
//! Parquet footer whose metadata length exceeds the file, for one); that
//! must end the statement with an error, not the process with a panic.
//! [`catch`] runs a future and turns a panic into its description; the
//! binary's [`install_hook`] keeps the default panic report off the
//! terminal while a caught future runs, so the user sees one error line.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;

/// How many [`catch`]es are running.
static CATCHING: AtomicUsize = AtomicUsize::new(0);
/// Where the last panic during a [`catch`] happened.
static LAST_LOCATION: Mutex<Option<String>> = Mutex::new(None);

struct Catching;

impl Catching {
    fn enter() -> Self {
        CATCHING.fetch_add(1, Ordering::SeqCst);
        Catching
    }
}

impl Drop for Catching {
    fn drop(&mut self) {
        CATCHING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `future`; a panic while polling it is returned as `Err` with the
/// panic's message and, when the hook saw it, its location.
pub async fn catch<T>(future: impl Future<Output = T>) -> Result<T, String> {
    let _catching = Catching::enter();
    AssertUnwindSafe(future).catch_unwind().await.map_err(|payload| describe(payload.as_ref()))
}

fn describe(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into());
    match LAST_LOCATION.lock().ok().and_then(|mut l| l.take()) {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    }
}

/// Installs a panic hook that records, rather than prints, panics that
/// happen while a [`catch`] runs; other panics are reported as before.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.load(Ordering::SeqCst) > 0 {
            if let (Ok(mut last), Some(location)) = (LAST_LOCATION.lock(), info.location()) {
                *last = Some(format!("{}:{}", location.file().rsplit("/src/").next().unwrap_or(location.file()), location.line()));
            }
        } else {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_its_message() {
        assert_eq!(catch(async { 41 + 1 }).await, Ok(42));
        let caught = catch(async {
            let v: Vec<u8> = Vec::new();
            #[allow(clippy::out_of_bounds_indexing)]
            v[3]
        })
        .await
        .unwrap_err();
        assert!(caught.contains("index out of bounds"), "{caught}");
    }
}
