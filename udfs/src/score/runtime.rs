//! Finding and loading the ONNX Runtime shared library.
//!
//! odis loads ONNX Runtime at run time (`ort`'s `load-dynamic`), so that the
//! same binary runs with the CPU runtime from the PyPI `onnxruntime` wheel or
//! the CUDA one from `onnxruntime-gpu`, and so that a machine without any
//! runtime still runs every query that scores nothing.
//!
//! `ort` panics when a library fails to load unless it is loaded through
//! [`ort::init_from`]; everything here goes through that path and turns
//! failures into [`RuntimeError`]s that say how to install the runtime.

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable `ort` itself reads for the library's path.
pub const ORT_DYLIB_PATH_ENV: &str = "ORT_DYLIB_PATH";
/// Where odis keeps what its setup installs (default `~/.local/share/odis`).
pub const ODIS_HOME_ENV: &str = "ODIS_HOME";

const INSTALL_HINT: &str = "run `scripts/setup.sh` (it installs libonnxruntime.so from the PyPI \
     `onnxruntime` wheel into $ODIS_HOME/lib), or set ORT_DYLIB_PATH to a libonnxruntime.so file";

/// Why the ONNX Runtime could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error("ONNX Runtime library not found (looked in {searched}); {INSTALL_HINT}")]
    NotFound { searched: String },
    #[error("ORT_DYLIB_PATH is set to '{}', which does not exist; point it at a libonnxruntime.so file or unset it", path.display())]
    BadEnvPath { path: PathBuf },
    #[error("could not load ONNX Runtime from '{}': {reason}; {INSTALL_HINT}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error(
        "ONNX Runtime {version} at '{}' is too old: odis needs 1.{min_minor} or newer; {INSTALL_HINT}",
        path.display()
    )]
    TooOld {
        path: PathBuf,
        version: String,
        min_minor: u32,
    },
}

/// A loaded ONNX Runtime: where it came from, its version, and the
/// process-wide `ort` environment every session is built in.
pub struct OnnxRuntime {
    pub path: PathBuf,
    pub version: String,
    pub environment: ort::environment::Environment,
}

impl std::fmt::Debug for OnnxRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxRuntime")
            .field("path", &self.path)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Result<OnnxRuntime, RuntimeError>> = OnceLock::new();

/// The process's ONNX Runtime, loaded on first use.
///
/// A library can be loaded only once per process, so the first outcome
/// (success or failure) is kept for the life of the process.
pub fn onnx_runtime() -> Result<&'static OnnxRuntime, RuntimeError> {
    RUNTIME.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// The directory odis's setup installs into: `$ODIS_HOME`, or
/// `~/.local/share/odis` (the platform data directory) when unset.
pub fn odis_home() -> PathBuf {
    match std::env::var_os(ODIS_HOME_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("odis"),
    }
}

/// Where the library is looked for, in order: `ORT_DYLIB_PATH`, then the
/// newest `libonnxruntime.so*` in `$ODIS_HOME/lib`.
pub fn locate() -> Result<PathBuf, RuntimeError> {
    if let Some(path) = std::env::var_os(ORT_DYLIB_PATH_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(RuntimeError::BadEnvPath { path })
        };
    }
    let lib_dir = odis_home().join("lib");
    find_in_dir(&lib_dir).ok_or_else(|| RuntimeError::NotFound {
        searched: format!("${ORT_DYLIB_PATH_ENV} (unset), {}", lib_dir.display()),
    })
}

/// The library in `dir` with the highest version suffix; a bare
/// `libonnxruntime.so` counts as the lowest.
fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let prefix = format!("{}onnxruntime{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let suffix = name.strip_prefix(&prefix)?;
            let version: Vec<u64> = suffix
                .split('.')
                .filter(|part| !part.is_empty())
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, entry.path()))
        })
        .max()
        .map(|(_, path)| path)
}

fn load() -> Result<OnnxRuntime, RuntimeError> {
    let path = locate()?;
    let version = probe_version(&path)?;
    let minor: u32 = version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
    if minor < ort::MINOR_VERSION {
        return Err(RuntimeError::TooOld {
            path,
            version,
            min_minor: ort::MINOR_VERSION,
        });
    }
    let load_error = |reason: String| RuntimeError::Load {
        path: path.clone(),
        reason,
    };
    let environment = ort::init_from(&path)
        .map_err(|e| load_error(e.to_string()))?
        .with_name("odis")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    Ok(OnnxRuntime {
        path,
        version,
        environment,
    })
}

/// Reads the runtime's version through its C entry point before handing the
/// library to `ort`, so that a wrong file is a clear error rather than a
/// panic inside `ort`.
fn probe_version(path: &Path) -> Result<String, RuntimeError> {
    let load_error = |reason: String| RuntimeError::Load {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: loading ONNX Runtime runs its initialisers, which have no
    // preconditions; the library stays loaded for the life of the process
    // (ort keeps its own handle to the same file).
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| load_error(e.to_string()))?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime
    // release; the struct it returns starts with `GetApi`, `GetVersionString`.
    unsafe {
        let get_api_base = lib
            .get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase")
            .map_err(|_| load_error("the file does not export OrtGetApiBase; is it ONNX Runtime?".into()))?;
        let base = get_api_base();
        if base.is_null() {
            return Err(load_error("OrtGetApiBase returned null".into()));
        }
        let version: *const c_char = ((*base).GetVersionString)();
        if version.is_null() {
            return Err(load_error("GetVersionString returned null".into()));
        }
        Ok(CStr::from_ptr(version).to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_versioned_library() {
        let dir = std::env::temp_dir().join(format!("odis-runtime-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["libonnxruntime.so", "libonnxruntime.so.1.9.0", "libonnxruntime.so.1.32.0", "libonnxruntime_providers_shared.so"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        assert_eq!(find_in_dir(&dir).unwrap(), dir.join("libonnxruntime.so.1.32.0"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_directory_finds_nothing() {
        let dir = std::env::temp_dir().join(format!("odis-runtime-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(find_in_dir(&dir).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
