//! What a dedup mode is: the facts `odis select` needs of it.

use std::fmt;

/// What the dedup step's sorts, joins and counts hold (never more than the
/// engine's limit): past it they spill. Under the engine's default limit
/// (3/4 of memory) they would keep every signature in memory instead. Over
/// 2M documents 128 MiB peaked about 75 MiB lower than 512 MiB, in about
/// 10% more time for the step (docs/benchmarks.md).
pub const DEDUP_MEMORY: usize = 128 << 20;

/// The same for `--dedup semantic`, whose rows carry embeddings.
pub const SEMANTIC_DEDUP_MEMORY: usize = 512 << 20;

/// One way of finding duplicates.
pub trait DedupMode: fmt::Debug + Send + Sync {
    /// The name `--dedup` takes.
    fn name(&self) -> &'static str;

    /// What pass 1 keeps of each kept document to find duplicates by, as
    /// SQL over `text` (the quoted text column); `None` keeps nothing. The
    /// work directory's manifest records it: another key scores again.
    fn key(&self, _text: &str) -> Option<String> {
        None
    }

    /// The table function call that lists the duplicates among the kept
    /// documents (`id`, `duplicate_of`, `similarity`), over a table of their
    /// ids (`odis_id`), keys (`odis_dedup`) and embeddings (`odis_embedding`).
    fn finder(&self, table: &str) -> String;

    /// What its step holds before its sorts, joins and counts spill,
    /// unless `--dedup-memory` says otherwise: past a few batches more
    /// memory buys little speed, and what it holds is returned late (the
    /// allocator keeps freed pages a while), so the step's peak is about
    /// twice this.
    fn memory(&self) -> usize {
        DEDUP_MEMORY
    }

    /// Whether it compares document embeddings (`--embed`).
    fn needs_embeddings(&self) -> bool {
        false
    }

    /// The mode and its settings, as the report names them.
    fn describe(&self) -> String {
        self.name().to_string()
    }
}
