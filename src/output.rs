//! Atomic outputs.
//!
//! A `COPY` that fails half-way (a bad row, a full disk, Ctrl-C) must not
//! leave a partial file where the user expects a result. odis therefore
//! writes to a hidden staging path beside the target (`.odis-tmp-…`) and
//! moves it into place only after the whole write succeeded; a failed or
//! cancelled write removes the staging path.
//!
//! A single object written to S3 needs none of this — an object appears only
//! when its upload completes — so only local files and directory outputs
//! (several files) are staged.
//!
//! One type, [`StagedOutput`], serves every writer: `COPY` (through
//! [`stage_copy`]), and `odis select`'s `--out-files` directory, which
//! replaces the previous output as a whole, and only once all its files are
//! written.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::dml::CopyTo;
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use object_store::path::Path as ObjectPath;

use crate::error::{OdisError, Result};

const STAGING_PREFIX: &str = ".odis-tmp-";
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An output being written under a staging name.
///
/// Dropping it without [`StagedOutput::commit`] removes what was staged.
pub struct StagedOutput {
    store: Arc<dyn ObjectStore>,
    staging: ObjectPath,
    target: ObjectPath,
    single_file: bool,
    /// A directory output replaces what the target held (else its files
    /// join those already there, as a COPY into a directory does).
    replace: bool,
    /// Where writers write: the staging location as a URL or local path
    /// (a directory's ends with '/').
    staging_location: String,
    /// The staging path on the local file system, when the output is local:
    /// cleanup on drop is then synchronous, so it also happens when the
    /// process is about to exit.
    local_staging: Option<PathBuf>,
    committed: bool,
}

/// Whether DataFusion will write `copy` as one file (as opposed to a
/// directory of files), by the same rule DataFusion applies.
fn writes_single_file(copy: &CopyTo, url: &ListingTableUrl) -> bool {
    if !copy.partition_by.is_empty() {
        return false;
    }
    match copy.options.get("single_file_output").map(|v| v.trim()) {
        Some("true") => true,
        Some("false") => false,
        _ => !url.is_collection() && url.file_extension().is_some(),
    }
}

/// A fresh staging name for `name`, unique within this process and across
/// concurrent processes.
fn staging_name(name: &str) -> String {
    let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{STAGING_PREFIX}{}-{n}-{name}", std::process::id())
}

/// Rewrites `copy` to write to a staging path, when the target needs one.
pub(crate) fn stage_copy(state: &SessionState, mut copy: CopyTo) -> Result<(CopyTo, Option<StagedOutput>)> {
    let url = ListingTableUrl::parse(&copy.output_url)?;
    let single_file = writes_single_file(&copy, &url);
    let Some(staged) = StagedOutput::new(state, &copy.output_url, single_file, false)? else {
        return Ok((copy, None));
    };
    copy.output_url = staged.staging_location.clone();
    copy.options.insert("single_file_output".to_string(), single_file.to_string());
    Ok((copy, Some(staged)))
}

impl StagedOutput {
    /// Stages an output to `location` (a local path or URL): one file, or a
    /// directory of files that with `replace` replaces the target's
    /// contents. None when no staging is needed (one object on an object
    /// store appears only when complete).
    pub fn new(state: &SessionState, location: &str, single_file: bool, replace: bool) -> Result<Option<StagedOutput>> {
        let url = ListingTableUrl::parse(location)?;
        let is_local = url.scheme() == "file";
        if !is_local && single_file {
            return Ok(None);
        }
        let store = state.runtime_env().object_store(url.object_store())?;
        let target = url.prefix().clone();
        let name = target.filename().filter(|n| !n.is_empty()).ok_or_else(|| {
            OdisError::InvalidArgument(format!(
                "the output '{location}' names no file or directory; give a path such as 'out.parquet' or 'out/'"
            ))
        })?;
        let staging_leaf = staging_name(name);
        let staging: ObjectPath = match target.parts().count() {
            0 | 1 => ObjectPath::from(staging_leaf.as_str()),
            n => {
                let parent: ObjectPath = target.parts().take(n - 1).collect();
                parent.join(staging_leaf.as_str())
            }
        };

        let mut staging_url = url.get_url().clone();
        let mut staging_url_path = format!("/{staging}");
        if !single_file {
            staging_url_path.push('/');
        }
        staging_url.set_path(&staging_url_path);
        let local_staging = if is_local {
            Some(staging_url.to_file_path().map_err(|()| {
                OdisError::InvalidArgument(format!("the output '{location}' is not a valid local path"))
            })?)
        } else {
            None
        };
        let staging_location = match &local_staging {
            Some(path) if single_file => path.display().to_string(),
            Some(path) => format!("{}/", path.display()),
            None => staging_url.to_string(),
        };
        Ok(Some(StagedOutput {
            store,
            staging,
            target,
            single_file,
            replace,
            staging_location,
            local_staging,
            committed: false,
        }))
    }

    /// Where to write: a path or URL (a directory's ends with '/').
    pub fn staging_location(&self) -> &str {
        &self.staging_location
    }

    /// Moves the staged output to its target.
    pub async fn commit(mut self) -> Result<()> {
        let store_error = |e: object_store::Error| OdisError::ObjectStore {
            url: self.target.to_string(),
            message: e.to_string(),
        };
        if let Some(path) = &self.local_staging {
            // On disk before it gets its name: after a power loss the target
            // is the old file or the whole new one.
            sync_tree(path).map_err(|e| OdisError::io(format!("cannot flush '{}' to disk", path.display()), e))?;
        }
        if self.single_file {
            self.store.rename(&self.staging, &self.target).await.map_err(store_error)?;
        } else if let (true, Some(staging)) = (self.replace, &self.local_staging) {
            // A local directory replaced whole: the old one moves aside, the
            // new one takes its name, the old one goes.
            let target = staging.with_file_name(self.target.filename().unwrap_or_default());
            let old = staging.with_file_name(staging_name("old"));
            let had_old = target.is_dir();
            let cannot = |what: &str| {
                let target = target.display().to_string();
                let what = what.to_string();
                move |e| OdisError::io(format!("cannot {what} '{target}'"), e)
            };
            if had_old {
                std::fs::rename(&target, &old).map_err(cannot("replace"))?;
            }
            std::fs::rename(staging, &target).map_err(cannot("write"))?;
            if had_old {
                let _ = std::fs::remove_dir_all(&old);
            }
        } else {
            // The target's objects before the move: with `replace`, those the
            // new output does not overwrite are removed after it.
            let before: Vec<ObjectPath> = if self.replace {
                self.store.list(Some(&self.target)).map_ok(|m| m.location).try_collect().await.map_err(store_error)?
            } else {
                Vec::new()
            };
            let mut written = std::collections::HashSet::new();
            let staged: Vec<_> = self
                .store
                .list(Some(&self.staging))
                .try_collect()
                .await
                .map_err(store_error)?;
            let staging_depth = self.staging.parts().count();
            for object in staged {
                let relative = object.location.parts().skip(staging_depth);
                let destination = relative.fold(self.target.clone(), |path, part| path.join(part));
                self.store
                    .rename(&object.location, &destination)
                    .await
                    .map_err(store_error)?;
                written.insert(destination);
            }
            for stale in before.into_iter().filter(|p| !written.contains(p)) {
                self.store.delete(&stale).await.map_err(store_error)?;
            }
        }
        self.committed = true;
        if let Some(parent) = self.local_staging.as_ref().and_then(|p| p.parent()) {
            // The rename itself is durable once its directory is.
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        if let Some(dir) = self.local_staging.as_ref().filter(|_| !self.single_file && !self.replace) {
            // Only the now-empty staging directories remain.
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }
}

impl Drop for StagedOutput {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(path) = &self.local_staging {
            if self.single_file {
                let _ = std::fs::remove_file(path);
                remove_upload_leftovers(path);
            } else {
                let _ = std::fs::remove_dir_all(path);
            }
            return;
        }
        // Remote directory output: delete what was staged, in the background.
        let (store, staging) = (Arc::clone(&self.store), self.staging.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let locations = store.list(Some(&staging)).map_ok(|meta| meta.location).boxed();
                let _ = store.delete_stream(locations).try_collect::<Vec<_>>().await;
            });
        }
    }
}

use futures::StreamExt as _;

/// fsync of a file, or of every file under a directory.
fn sync_tree(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            sync_tree(&entry?.path())?;
        }
        Ok(())
    } else {
        std::fs::File::open(path)?.sync_all()
    }
}

/// The local object store uploads to `<path>#<n>` and renames on completion;
/// an interrupted upload can leave that file behind.
fn remove_upload_leftovers(path: &std::path::Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let upload_prefix = format!("{name}#");
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&upload_prefix)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes a small local file (a report) so that readers see the old file or
/// the whole new one, never a part: a temporary file beside it, then a rename.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let context = || format!("cannot write '{}'", path.display());
    let mut staged = tempfile::NamedTempFile::new_in(dir).map_err(|e| OdisError::io(context(), e))?;
    staged.write_all(bytes).and_then(|()| staged.as_file().sync_all()).map_err(|e| OdisError::io(context(), e))?;
    // A temporary file is private (0600); the file it becomes is an ordinary one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        staged.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| OdisError::io(context(), e))?;
    }
    staged.persist(path).map_err(|e| OdisError::io(context(), e.error))?;
    Ok(())
}
