//! The models of a session: names given with `--model NAME=DIR` or
//! [`ModelRegistry::register`], and every directory loaded so far, each
//! loaded once and reused by every query.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::error::{DataFusionError, Result};

use crate::model_dirs::ModelNames;
use crate::score::model::ModelSpec;
use crate::score::options::Execution;
use crate::score::session_pool::SessionPool;

/// A model and the sessions currently running it.
#[derive(Debug)]
struct Loaded {
    spec: Arc<ModelSpec>,
    pool: Option<Arc<SessionPool>>,
}

/// The models known to one session.
#[derive(Debug, Default)]
pub struct ModelRegistry {
    names: Arc<ModelNames>,
    loaded: Mutex<HashMap<PathBuf, Loaded>>,
    /// Held while a pool starts, so that the first batches of every
    /// partition, arriving together, wait for one pool instead of each
    /// starting sessions of their own.
    starting: Mutex<()>,
}

fn lock_error() -> DataFusionError {
    DataFusionError::Internal("model registry lock poisoned".into())
}

impl ModelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names a model directory; loads it now, so a bad directory is an error
    /// here rather than in a later query.
    pub fn register(&self, name: &str, dir: &Path) -> Result<Arc<ModelSpec>> {
        if name.is_empty() {
            return Err(DataFusionError::Plan("a model name cannot be empty; use --model NAME=DIR".into()));
        }
        let spec = self.load(dir)?;
        self.names.insert(name, dir.to_path_buf())?;
        Ok(spec)
    }

    /// The session's model names, which `token_count` resolves too.
    pub fn names(&self) -> &Arc<ModelNames> {
        &self.names
    }

    /// The directory a model argument stands for: a registered name, or a path.
    pub fn resolve(&self, model: &str) -> Result<PathBuf> {
        self.names.resolve(model)
    }

    /// The loaded model of `dir`, loading it on first use.
    pub fn load(&self, dir: &Path) -> Result<Arc<ModelSpec>> {
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if let Some(loaded) = self.loaded.lock().map_err(|_| lock_error())?.get(&key) {
            return Ok(Arc::clone(&loaded.spec));
        }
        let spec = Arc::new(ModelSpec::load(dir)?);
        let mut loaded = self.loaded.lock().map_err(|_| lock_error())?;
        let entry = loaded.entry(key).or_insert(Loaded { spec, pool: None });
        Ok(Arc::clone(&entry.spec))
    }

    /// The sessions running `spec` with these settings; a change of settings
    /// replaces the previous sessions.
    pub fn pool(&self, spec: &Arc<ModelSpec>, execution: Execution) -> Result<Arc<SessionPool>> {
        let key = std::fs::canonicalize(&spec.dir).unwrap_or_else(|_| spec.dir.clone());
        let running = || -> Result<Option<Arc<SessionPool>>> {
            let loaded = self.loaded.lock().map_err(|_| lock_error())?;
            Ok(loaded.get(&key).and_then(|l| l.pool.as_ref()).filter(|p| p.execution == execution).cloned())
        };
        if let Some(pool) = running()? {
            return Ok(pool);
        }
        let _starting = self.starting.lock().map_err(|_| lock_error())?;
        // Another caller may have started it while this one waited.
        if let Some(pool) = running()? {
            return Ok(pool);
        }
        let pool = Arc::new(SessionPool::start(Arc::clone(spec), execution)?);
        let mut loaded = self.loaded.lock().map_err(|_| lock_error())?;
        let entry = loaded.entry(key).or_insert(Loaded { spec: Arc::clone(spec), pool: None });
        entry.pool = Some(Arc::clone(&pool));
        Ok(pool)
    }

    /// (name or directory, directory, model) of every registered or loaded model.
    pub fn list(&self) -> Result<Vec<(Option<String>, Arc<ModelSpec>)>> {
        let names = self.names.all()?;
        let mut out = Vec::new();
        for (name, dir) in &names {
            out.push((Some(name.clone()), self.load(dir)?));
        }
        let loaded = self.loaded.lock().map_err(|_| lock_error())?;
        let named: Vec<PathBuf> = names.values().map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())).collect();
        let mut others: Vec<(&PathBuf, &Loaded)> = loaded.iter().filter(|(k, _)| !named.contains(k)).collect();
        others.sort_by_key(|(k, _)| (*k).clone());
        out.extend(others.into_iter().map(|(_, l)| (None, Arc::clone(&l.spec))));
        Ok(out)
    }
}
