//! What a table function that works in stages (near_duplicates: a band
//! at a time, then rounds of label propagation) tells whoever runs it: each
//! stage as it starts. `odis select` shows them as its progress; a session
//! without a listener hears nothing.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::prelude::SessionConfig;

type Listener = Arc<dyn Fn(&str) + Send + Sync>;

/// The session's listener of stages, as a config extension.
#[derive(Default)]
pub struct Stages {
    listener: Mutex<Option<Listener>>,
}

impl fmt::Debug for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stages").finish_non_exhaustive()
    }
}

/// Hears stages while it lives (see [`Stages::listen`]).
#[must_use = "stages are heard only while the guard lives"]
pub struct Listening(Arc<Stages>);

impl Drop for Listening {
    fn drop(&mut self) {
        *self.0.listener.lock().expect("not poisoned") = None;
    }
}

impl Stages {
    /// `listener` hears every stage until the guard is dropped.
    pub fn listen(self: Arc<Self>, listener: impl Fn(&str) + Send + Sync + 'static) -> Listening {
        *self.listener.lock().expect("not poisoned") = Some(Arc::new(listener));
        Listening(self)
    }

    /// Tells the session's listener, if any, that `stage` starts.
    pub fn say(config: &SessionConfig, stage: &str) {
        let listener = config.get_extension::<Stages>().and_then(|s| s.listener.lock().expect("not poisoned").clone());
        if let Some(listener) = listener {
            listener(stage);
        }
    }
}
