//! Reference data made by the Python scripts in tests/support, cached under
//! the build's temporary directory and keyed by the script's contents.

use std::path::PathBuf;

/// Runs `tests/support/<script>` into a cache directory unless its output
/// (`expected.json`) is already there, and returns the directory.
pub fn generate(script: &str) -> PathBuf {
    // Tests of one binary run as threads: the first runs the script, the
    // others wait for it.
    static RUNNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let path = super::repo_root().join("tests/support").join(script);
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // FNV-1a: a stable key for the script's version.
    let hash = source.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3));
    let stem = script.trim_end_matches(".py");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{stem}-{hash:016x}"));
    if !dir.join("expected.json").exists() {
        let status = std::process::Command::new(super::python()).arg(&path).arg(&dir).status().unwrap();
        assert!(status.success(), "{} failed", path.display());
    }
    dir
}
