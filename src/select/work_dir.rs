//! The work directory of `odis select`: the raw scores of pass 1, kept as
//! shards so that a killed run resumes where it stopped.
//!
//! Scoring a corpus is the costly step (hours with a model), so its output
//! is kept per shard (several small input files, one file, or a byte range
//! of a file larger than a shard) and written
//! atomically: a shard file exists only when complete. A manifest records
//! what the scores are of — the input files (size, modified time, ETag), the
//! scorer, the filter, the columns and the odis version — so that a rerun
//! reuses the finished shards only when they still describe the same
//! corpus, and says what changed when they do not. A lock file keeps two
//! runs from sharing one directory.

use std::fs::File;
use std::path::{Path, PathBuf};

use object_store::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::error::{OdisError, Result};
use crate::error::select::{OptionNames, SelectOption, wrong};

const MANIFEST: &str = "manifest.json";
const LOCK: &str = "lock";
const SHARDS: &str = "raw_scores";
/// Bumped when the layout or the shards' schema changes (2: each kept
/// document's bytes and tokens; 3: MinHash signatures packed; 4: near_duplicates'
/// rounds kept in dedup/; 5: files larger than a shard split into byte
/// ranges).
const FORMAT: u32 = 5;
/// Small input files are scored together, up to this many bytes per shard
/// by default: a shard is the unit of resumption, and one statement per
/// tiny file would leave cores idle. Over the 2M-document benchmark corpus
/// (8 files of 181 MB) 64 MiB made 24 shards, and a rerun after a kill at
/// 40% took 0.60x of a full run against 0.66x at 256 MiB (8 shards), for
/// the same full run (111.0 s against 107.8 s, within the noise).
pub const SHARD_BYTES: u64 = 64 << 20;
/// A file is cut into ranges of at least this many bytes, whatever the
/// shard size: a range reads whole row groups or lines, and ranges smaller
/// than those would be empty shards.
const MIN_RANGE: u64 = 4 << 20;

/// What the raw scores are a function of, besides the input files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringIdentity {
    pub odis_version: String,
    pub id_column: String,
    pub text_column: String,
    /// The SQL of the raw score vector.
    pub scores: String,
    /// Size and modified time of each file of the scoring model, if any.
    pub model_files: Vec<String>,
    pub filter: String,
    /// The SQL of what pass 1 keeps to find duplicates by.
    #[serde(default)]
    pub dedup: String,
    /// The SQL of the embedding pass 1 keeps, and the files of its model.
    #[serde(default)]
    pub embedding: String,
    #[serde(default)]
    pub embed_files: Vec<String>,
    /// The SQL that counts each kept document's tokens, and the size and
    /// modified time of its tokenizer.json.
    #[serde(default)]
    pub tokens: String,
    #[serde(default)]
    pub tokenizer_files: Vec<String>,
}

/// One input file as listed when the run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub location: String,
    pub size: u64,
    pub modified: String,
    pub e_tag: Option<String>,
}

impl InputFile {
    pub fn from_meta(store_url: &str, meta: &ObjectMeta) -> Self {
        InputFile {
            // (An object store URL ends with '/': file:///, s3://bucket/.)
            location: format!("{}/{}", store_url.strip_suffix('/').unwrap_or(store_url), meta.location),
            size: meta.size,
            modified: meta.last_modified.to_rfc3339(),
            e_tag: meta.e_tag.clone(),
        }
    }

    fn describe(&self) -> String {
        format!("{} bytes, modified {}", self.size, self.modified)
    }
}

/// How pass 1's input is cut into shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    /// A shard's bytes: small files are scored together up to this size.
    pub bytes: u64,
    /// Whether a file larger than `bytes` is cut into byte ranges, each a
    /// shard: Parquet (a range reads the row groups that start in it) and
    /// uncompressed JSON Lines (the lines that start in it) can be; a
    /// compressed file is read whole.
    pub split_files: bool,
}

/// A shard's part of an input file: all of it, or the bytes `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    pub file: usize,
    pub range: Option<[u64; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    input: String,
    identity: ScoringIdentity,
    files: Vec<InputFile>,
    /// The files' pieces in shard order: shard i holds
    /// pieces[shard_starts[i]..shard_starts[i + 1]]. (Absent from an older
    /// layout's manifest, which its format then refuses by name.)
    #[serde(default)]
    pieces: Vec<Piece>,
    shard_starts: Vec<usize>,
}

/// An open (locked) work directory.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    manifest: Manifest,
    /// Held for as long as this value lives; released on drop or exit.
    _lock: File,
}

/// The files' pieces: a file larger than a shard, where it can be split,
/// in equal byte ranges of at most a shard each, so that a killed run loses
/// at most a shard's work however large the files; other files whole.
fn pieces(files: &[InputFile], sharding: Sharding) -> Vec<Piece> {
    let bytes = sharding.bytes.max(MIN_RANGE);
    let mut pieces = Vec::new();
    for (file, f) in files.iter().enumerate() {
        if !sharding.split_files || f.size <= bytes {
            pieces.push(Piece { file, range: None });
            continue;
        }
        let n = f.size.div_ceil(bytes);
        let cut = |k: u64| (u128::from(f.size) * u128::from(k) / u128::from(n)) as u64;
        pieces.extend((0..n).map(|k| Piece { file, range: Some([cut(k), cut(k + 1)]) }));
    }
    pieces
}

/// Shards of consecutive whole files, each up to `shard_bytes` (or one
/// file); a range of a file is a shard of its own.
fn shard_starts(files: &[InputFile], pieces: &[Piece], shard_bytes: u64) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut bytes = 0u64;
    let mut ranged = false;
    for (i, piece) in pieces.iter().enumerate() {
        let size = match piece.range {
            Some([start, end]) => end - start,
            None => files[piece.file].size,
        };
        if starts.is_empty() || ranged || piece.range.is_some() || bytes + size > shard_bytes {
            starts.push(i);
            bytes = 0;
        }
        ranged = piece.range.is_some();
        bytes += size;
    }
    starts
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> OdisError {
    move |e| OdisError::io(context, e)
}

/// An error about the work directory, `what` following its option's name
/// and the directory.
fn work_dir_error(path: &Path, what: impl Fn(&OptionNames) -> String + Send + Sync + 'static) -> OdisError {
    let shown = path.display().to_string();
    wrong(SelectOption::WorkDir, move |o| format!("{} {shown}{}", o.work_dir, what(o)))
}

/// An I/O error on the work directory: what odis could not do, and why.
fn work_dir_io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> OdisError {
    let path = path.to_path_buf();
    move |e| {
        let e = e.to_string();
        work_dir_error(&path, move |_| format!(": {what} ({e})"))
    }
}

impl WorkDir {
    /// Opens `path` for scoring `files` of `input` as `identity` says:
    /// creates it, or checks that the scores already there are of the same
    /// corpus and scorer. Stale scores are an error, or with `replace_stale`
    /// (a directory odis chose, not the user) are removed.
    pub fn open(
        path: &Path,
        input: &str,
        identity: ScoringIdentity,
        files: Vec<InputFile>,
        sharding: Sharding,
        replace_stale: bool,
    ) -> Result<WorkDir> {
        let shown = path.display();
        std::fs::create_dir_all(path.join(SHARDS))
            .map_err(work_dir_io(path, "cannot create it; name a directory odis may write to"))?;
        let lock = File::create(path.join(LOCK))
            .map_err(work_dir_io(path, "cannot write in it; name a directory odis may write to"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(work_dir_error(path, |o| {
                    format!(" is in use by another odis select; wait for it, or pass another {}", o.work_dir)
                }));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(work_dir_io(path, "cannot lock it")(e)),
        }
        let manifest_path = path.join(MANIFEST);
        let pieces = pieces(&files, sharding);
        let fresh = Manifest {
            format: FORMAT,
            input: input.to_string(),
            identity,
            shard_starts: shard_starts(&files, &pieces, sharding.bytes),
            pieces,
            files,
        };
        let manifest = match std::fs::read(&manifest_path) {
            Ok(bytes) => {
                let old = serde_json::from_slice::<Manifest>(&bytes)
                    .map_err(|e| {
                        let e = e.to_string();
                        work_dir_error(path, move |_| {
                            format!(": its {MANIFEST} is unreadable ({e}); remove the directory to score again")
                        })
                    })
                    .and_then(|old| check_same(path, &old, &fresh).map(|()| old));
                match old {
                    Ok(old) => old,
                    Err(_) if replace_stale => {
                        std::fs::remove_dir_all(path.join(SHARDS))
                            .and_then(|()| std::fs::create_dir(path.join(SHARDS)))
                            .map_err(io(format!("cannot clear the work directory '{shown}'")))?;
                        let json = serde_json::to_vec_pretty(&fresh).expect("a manifest serialises");
                        crate::output::write_atomically(&manifest_path, &json)?;
                        fresh
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::read_dir(path.join(SHARDS)).map(|mut d| d.next().is_some()).unwrap_or(false) {
                    return Err(work_dir_error(path, |o| {
                        format!(" holds files but no {MANIFEST}; remove it or pass another {}", o.work_dir)
                    }));
                }
                let json = serde_json::to_vec_pretty(&fresh).expect("a manifest serialises");
                crate::output::write_atomically(&manifest_path, &json)?;
                fresh
            }
            Err(e) => return Err(work_dir_io(path, "cannot read its manifest")(e)),
        };
        let dir = WorkDir { path: path.to_path_buf(), manifest, _lock: lock };
        dir.remove_partial_shards();
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory of the shard files.
    pub fn shards_dir(&self) -> PathBuf {
        self.path.join(SHARDS)
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.manifest.shard_starts.len()
    }

    /// The input files of shard `i`, each whole or a byte range of it.
    pub fn shard_files(&self, i: usize) -> Vec<(&InputFile, Option<[u64; 2]>)> {
        let starts = &self.manifest.shard_starts;
        let end = starts.get(i + 1).copied().unwrap_or(self.manifest.pieces.len());
        self.manifest.pieces[starts[i]..end].iter().map(|p| (&self.manifest.files[p.file], p.range)).collect()
    }

    /// The file shard `i` is written to; it exists only when complete.
    pub fn shard_path(&self, i: usize) -> PathBuf {
        self.shards_dir().join(format!("part-{i:05}.parquet"))
    }

    pub fn is_done(&self, i: usize) -> bool {
        self.shard_path(i).is_file()
    }

    /// A run killed while writing a shard leaves its staging file (the
    /// shard glob skips it); nothing else can be writing here while the lock
    /// is held.
    fn remove_partial_shards(&self) {
        let Ok(entries) = std::fs::read_dir(self.shards_dir()) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(|n| n.starts_with('.')) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Removes the directory (after a successful run).
    pub fn remove(self) -> Result<()> {
        let path = self.path.clone();
        drop(self);
        std::fs::remove_dir_all(&path).map_err(io(format!("cannot remove the work directory '{}'", path.display())))
    }
}

/// The scores in `old` describe what `new` would score, or an error that
/// says what changed.
fn check_same(path: &Path, old: &Manifest, new: &Manifest) -> Result<()> {
    // What changed, said with the options' names where an option changed.
    let differ_in = |option: Option<SelectOption>, what: String| {
        Err(work_dir_error(path, move |o| {
            let what = match option {
                Some(option) => format!("its {} {what}", o.get(option)),
                None => what.clone(),
            };
            format!(" holds the scores of another run: {what}; pass another {}, or remove it to score again", o.work_dir)
        }))
    };
    let differ = |what: String| differ_in(None, what);
    if old.format != FORMAT {
        return differ(format!("its layout is version {} of odis's work directories, this odis writes {FORMAT}", old.format));
    }
    let (a, b) = (&old.identity, &new.identity);
    if a.odis_version != b.odis_version {
        return differ(format!("its odis version was '{}', this run's is '{}'", a.odis_version, b.odis_version));
    }
    let fields = [
        (SelectOption::IdColumn, &a.id_column, &b.id_column),
        (SelectOption::TextColumn, &a.text_column, &b.text_column),
        (SelectOption::Scores, &a.scores, &b.scores),
        (SelectOption::Filter, &a.filter, &b.filter),
        (SelectOption::Dedup, &a.dedup, &b.dedup),
        (SelectOption::Embed, &a.embedding, &b.embedding),
        (SelectOption::Tokenizer, &a.tokens, &b.tokens),
    ];
    for (option, was, is) in fields {
        if was != is {
            return differ_in(Some(option), format!("was '{was}', this run's is '{is}'"));
        }
    }
    if a.model_files != b.model_files {
        return differ(format!(
            "the scoring model changed since ({} then, {} now)",
            a.model_files.join("; "),
            b.model_files.join("; ")
        ));
    }
    if a.embed_files != b.embed_files {
        return differ_in(Some(SelectOption::Embed), format!(
            "model changed since ({} then, {} now)",
            a.embed_files.join("; "),
            b.embed_files.join("; ")
        ));
    }
    if a.tokenizer_files != b.tokenizer_files {
        return differ_in(Some(SelectOption::Tokenizer), format!(
            "file changed since ({} then, {} now)",
            a.tokenizer_files.join("; "),
            b.tokenizer_files.join("; ")
        ));
    }
    if old.input != new.input {
        return differ(format!("its input was '{}', this run's is '{}'", old.input, new.input));
    }
    for file in &new.files {
        match old.files.iter().find(|f| f.location == file.location) {
            None => return differ(format!("the input file '{}' is new", file.location)),
            Some(was) if was != file => {
                return differ(format!(
                    "the input file '{}' changed ({} then, {} now)",
                    file.location,
                    was.describe(),
                    file.describe()
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(gone) = old.files.iter().find(|f| !new.files.iter().any(|n| n.location == f.location)) {
        return differ(format!("the input file '{}' is gone", gone.location));
    }
    Ok(())
}

/// Size and modified time of a file: a changed tokenizer makes earlier
/// token counts stale.
pub fn file_fingerprint(file: &Path) -> Vec<String> {
    let Ok(meta) = std::fs::metadata(file) else { return Vec::new() };
    let modified = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    vec![format!("{name} {} bytes @{modified}", meta.len())]
}

/// Sizes and modified times of the files of a model directory: a changed
/// model makes earlier scores stale.
pub fn model_fingerprint(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                    meta.is_file().then(|| format!("{} {} bytes @{modified}", e.file_name().to_string_lossy(), meta.len()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ScoringIdentity {
        ScoringIdentity {
            odis_version: "0.1.0".into(),
            id_column: "id".into(),
            text_column: "text".into(),
            scores: "quality_ratings_vector(\"text\")".into(),
            model_files: vec![],
            filter: "default".into(),
            dedup: "minhash_pack(text_minhash(\"text\", 'bits=8'))".into(),
            embedding: "CAST(NULL AS REAL[])".into(),
            embed_files: vec![],
            tokens: "CAST(NULL AS BIGINT)".into(),
            tokenizer_files: vec![],
        }
    }

    fn file(name: &str, size: u64) -> InputFile {
        InputFile { location: format!("file:///c/{name}"), size, modified: "2026-01-01T00:00:00+00:00".into(), e_tag: None }
    }

    const WHOLE: Sharding = Sharding { bytes: SHARD_BYTES, split_files: false };

    fn starts(files: &[InputFile], sharding: Sharding) -> Vec<usize> {
        shard_starts(files, &pieces(files, sharding), sharding.bytes)
    }

    #[test]
    fn small_files_share_a_shard_and_large_ones_get_their_own() {
        let files = [file("a", 10), file("b", 10), file("c", SHARD_BYTES), file("d", 5), file("e", 5)];
        assert_eq!(starts(&files, WHOLE), [0, 2, 3]);
        assert_eq!(starts(&files, Sharding { bytes: 1, split_files: false }), [0, 1, 2, 3, 4]);
        assert_eq!(starts(&[], WHOLE), Vec::<usize>::new());
    }

    #[test]
    fn a_file_larger_than_a_shard_is_cut_into_ranges_that_cover_it_once() {
        const M: u64 = MIN_RANGE;
        let files = [file("a", 10 * M), file("b", 25 * M), file("c", 5 * M), file("d", 5 * M)];
        let split = Sharding { bytes: 10 * M, split_files: true };
        let cut = pieces(&files, split);
        let third = 25 * M / 3;
        let ranges: Vec<_> = cut.iter().map(|p| (p.file, p.range)).collect();
        assert_eq!(ranges, [(0, None), (1, Some([0, third])), (1, Some([third, 2 * 25 * M / 3])), (1, Some([2 * 25 * M / 3, 25 * M])), (2, None), (3, None)]);
        // Each range is a shard; the small files after them share one.
        assert_eq!(shard_starts(&files, &cut, 10 * M), [0, 1, 2, 3, 4]);
        // Unsplittable (compressed) files stay whole.
        assert_eq!(pieces(&files, Sharding { split_files: false, ..split }).len(), 4);
        // A tiny shard size does not cut a file into ranges of a few bytes.
        assert_eq!(pieces(&[file("e", 3 * M)], Sharding { bytes: 1, split_files: true }).len(), 3);
        assert_eq!(pieces(&[file("f", M)], Sharding { bytes: 1, split_files: true }), [Piece { file: 0, range: None }]);
        // Ranges of a huge file add up to it exactly, without overflow.
        let huge = [file("h", u64::MAX - 1)];
        let cut = pieces(&huge, Sharding { bytes: 1 << 60, split_files: true });
        assert_eq!(cut.len(), 16);
        assert_eq!(cut.first().unwrap().range.unwrap()[0], 0);
        assert_eq!(cut.last().unwrap().range.unwrap()[1], u64::MAX - 1);
        assert!(cut.windows(2).all(|w| w[0].range.unwrap()[1] == w[1].range.unwrap()[0]));
    }

    #[test]
    fn a_reopened_directory_keeps_its_shards_and_refuses_another_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("work");
        let files = vec![file("a", SHARD_BYTES), file("b", SHARD_BYTES)];
        let work = WorkDir::open(&path, "c/", identity(), files.clone(), WHOLE, false).unwrap();
        assert_eq!(work.shards(), 2);
        std::fs::write(work.shard_path(1), b"done").unwrap();
        std::fs::write(work.shards_dir().join(".odis-tmp-1-0-part-00000.parquet"), b"half").unwrap();

        // A second run cannot share it while the first holds it.
        let busy = WorkDir::open(&path, "c/", identity(), files.clone(), WHOLE, false).unwrap_err();
        assert!(busy.to_string().contains("is in use by another odis select"), "{busy}");
        drop(work);

        let work = WorkDir::open(&path, "c/", identity(), files.clone(), WHOLE, false).unwrap();
        assert!(!work.is_done(0) && work.is_done(1));
        assert_eq!(std::fs::read_dir(work.shards_dir()).unwrap().count(), 1, "the partial shard is removed");
        drop(work);

        let mut changed = files.clone();
        changed[1].size += 1;
        let e = WorkDir::open(&path, "c/", identity(), changed.clone(), WHOLE, false).unwrap_err().to_string();
        assert!(e.contains("the input file 'file:///c/b' changed") && e.contains("pass another work_dir"), "{e}");
        let e = WorkDir::open(&path, "c/", identity(), files[..1].to_vec(), WHOLE, false).unwrap_err().to_string();
        assert!(e.contains("'file:///c/b' is gone"), "{e}");
        let mut other = identity();
        other.filter = "none".into();
        let e = WorkDir::open(&path, "c/", other, files.clone(), WHOLE, false).unwrap_err().to_string();
        assert!(e.contains("its filter was 'default', this run's is 'none'"), "{e}");
        let mut other = identity();
        other.model_files = vec!["model.onnx 10 bytes @1".into()];
        let e = WorkDir::open(&path, "c/", other, files.clone(), WHOLE, false).unwrap_err().to_string();
        assert!(e.contains("the scoring model changed"), "{e}");

        // A directory odis chose itself starts again instead.
        let work = WorkDir::open(&path, "c/", identity(), changed, WHOLE, true).unwrap();
        assert!(!work.is_done(0) && !work.is_done(1));
        drop(work);
        WorkDir::open(&path, "c/", identity(), files, WHOLE, false).unwrap_err();
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_named() {
        // (A path under a regular file: unwritable even for root.)
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let e = WorkDir::open(&dir.path().join("file/work"), "c/", identity(), vec![], WHOLE, false).unwrap_err().to_string();
        assert!(e.starts_with("work_dir ") && e.contains("cannot create it; name a directory odis may write to"), "{e}");
    }
}
