//! The library's error type, and [`select`]'s errors: what can be wrong
//! with a selection's options, by option.

pub mod select;

use datafusion::error::DataFusionError;

/// Everything that can go wrong in odis, by kind.
///
/// Messages are written for the person at the keyboard: they name the
/// argument or resource at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OdisError {
    /// Planning or running a query failed (bad SQL, a missing file, a
    /// function's argument check, an object store error, ...).
    #[error("{}", with_hint(one_line(&strip_backtrace(.0))))]
    DataFusion(#[from] DataFusionError),

    /// The ONNX Runtime library could not be found or loaded.
    #[error(transparent)]
    Runtime(#[from] odis_udfs::score::runtime::RuntimeError),

    /// An object store could not be configured for a URL.
    #[error("cannot open '{url}': {message}")]
    ObjectStore { url: String, message: String },

    /// A file operation of odis's own (history, output staging) failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A cluster's scheduler or executor could not be reached or started.
    #[error("{0}")]
    Cluster(String),

    /// An option of `odis select` is wrong (it names which).
    #[error(transparent)]
    Select(#[from] select::SelectError),

    /// A caller-supplied value is out of range or malformed.
    #[error("{0}")]
    InvalidArgument(String),

    /// A dependency panicked while running a statement (caught; see
    /// `panic_guard`). Usually a malformed input a reader did not expect.
    #[error(
        "internal error: {0}; an input may be corrupt or not what it claims to be (check the files the \
         statement reads); if they are sound, please report this"
    )]
    Internal(String),
}

/// The crate's `Result`.
pub type Result<T, E = OdisError> = std::result::Result<T, E>;

impl OdisError {
    /// An I/O error with what odis was doing when it happened.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// DataFusion appends a backtrace to some messages when built with the
/// `backtrace` feature; users need only the message.
fn strip_backtrace(e: &DataFusionError) -> String {
    let mut message = e.to_string();
    if let Some(at) = message.find("\n\nbacktrace:") {
        message.truncate(at);
    }
    message
}

/// Object-store failures name an HTTP status or a transport error; say what
/// to check.
fn with_hint(message: String) -> String {
    let message = message.trim_end_matches([':', ' ']).to_string();
    let hint = if message.contains("403 Forbidden") || message.contains("lacked the necessary privileges") {
        "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or OPTIONS('aws.access_key_id' …, 'aws.secret_access_key' …)"
    } else if message.contains("Resources exhausted") {
        "raise the memory limit: odis --memory-limit SIZE, or EngineBuilder::with_memory_limit"
    } else if message.contains("error sending request") {
        "check that the endpoint is reachable: AWS_ENDPOINT_URL, or OPTIONS('aws.endpoint' …)"
    } else {
        return message;
    };
    format!("{message}; {hint}")
}

/// Errors reach terminals and log lines: keep them to one line.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_store_failures_get_a_hint() {
        let e = OdisError::from(DataFusionError::Plan("HEAD x - Server returned non-2xx status code: 403 Forbidden:".into()));
        assert!(e.to_string().ends_with("403 Forbidden; check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or OPTIONS('aws.access_key_id' …, 'aws.secret_access_key' …)"), "{e}");
        let e = OdisError::from(DataFusionError::Plan("HTTP error: error sending request".into()));
        assert!(e.to_string().contains("AWS_ENDPOINT_URL"), "{e}");
    }

    #[test]
    fn multi_line_messages_become_one_line() {
        let e = OdisError::from(DataFusionError::Plan("first\n  second\n\nthird".into()));
        assert_eq!(e.to_string(), "Error during planning: first; second; third");
    }
}
