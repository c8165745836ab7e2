//! What a dedup mode is: the facts `odis select` needs of it.

use std::fmt;

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

    /// Whether it compares document embeddings (`--embed`).
    fn needs_embeddings(&self) -> bool {
        false
    }

    /// The mode and its settings, as the report names them.
    fn describe(&self) -> String {
        self.name().to_string()
    }
}
