//! Exact sets and ids of strings for the per-document counts (distinct
//! words, repeated lines), kept between documents so that a batch of rows
//! allocates once.
//!
//! Why not `HashSet<&str>`: its borrow ties the set to one document, so
//! every row would grow a fresh table (and std's SipHash costs more than the
//! short keys it hashes). These tables store positions, hash with foldhash
//! and compare the strings themselves, so answers stay exact.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

fn hasher() -> FixedState {
    FixedState::with_seed(0x6f64_6973)
}

/// Above this many slots a table is shrunk when it is emptied: clearing
/// costs its capacity, and one long document must not make every later
/// one pay for its table.
pub const KEEP_SLOTS: usize = 4096;

/// A set of byte ranges of one text, compared by content.
#[derive(Debug)]
pub struct SpanSet {
    table: HashTable<(usize, usize)>,
    state: FixedState,
}

impl Default for SpanSet {
    fn default() -> Self {
        Self { table: HashTable::new(), state: hasher() }
    }
}

impl SpanSet {
    /// Empties the set, keeping its memory unless it grew large.
    pub fn clear(&mut self) {
        self.table.clear();
        if self.table.capacity() > KEEP_SLOTS {
            self.table.shrink_to(KEEP_SLOTS / 4, |_| 0);
        }
    }

    /// Adds `text[start..end]`; false when an equal string of the same text
    /// was added since the last [`clear`](Self::clear).
    pub fn insert(&mut self, text: &str, start: usize, end: usize) -> bool {
        let element = &text[start..end];
        let hash = self.state.hash_one(element);
        let state = &self.state;
        let entry = self.table.entry(hash, |&(a, b)| &text[a..b] == element, |&(a, b)| state.hash_one(&text[a..b]));
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert((start, end));
                true
            }
        }
    }
}

/// (elements, elements that repeat an earlier one, characters of those) of
/// `elements`, which are slices of `text`: Gopher's duplicate counts.
pub fn repeats<'a>(text: &'a str, seen: &mut SpanSet, elements: impl Iterator<Item = &'a str>) -> (usize, usize, usize) {
    seen.clear();
    let base = text.as_ptr() as usize;
    let (mut total, mut count, mut chars) = (0, 0, 0);
    for element in elements {
        total += 1;
        let start = element.as_ptr() as usize - base;
        if !seen.insert(text, start, start + element.len()) {
            count += 1;
            chars += super::char_count(element);
        }
    }
    (total, count, chars)
}

/// Dense ids (0, 1, 2, ... in order of first appearance) of strings that
/// need not outlive the call: each new one is copied into an arena.
#[derive(Debug)]
pub struct Interner {
    arena: String,
    spans: Vec<(usize, usize)>,
    table: HashTable<u32>,
    state: FixedState,
}

impl Default for Interner {
    fn default() -> Self {
        Self { arena: String::new(), spans: Vec::new(), table: HashTable::new(), state: hasher() }
    }
}

impl Interner {
    /// Forgets every string, keeping the memory unless it grew large.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
        self.table.clear();
        if self.table.capacity() > KEEP_SLOTS {
            self.table.shrink_to(KEEP_SLOTS / 4, |_| 0);
        }
    }

    /// How many distinct strings were interned.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The id of `s`.
    pub fn intern(&mut self, s: &str) -> u32 {
        let hash = self.state.hash_one(s);
        let Self { arena, spans, table, state } = self;
        let entry = table.entry(
            hash,
            |&id| {
                let (a, b) = spans[id as usize];
                &arena[a..b] == s
            },
            |&id| {
                let (a, b) = spans[id as usize];
                state.hash_one(&arena[a..b])
            },
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(found) => *found.get(),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let id = u32::try_from(spans.len()).expect("fewer than 2^32 distinct words in one text");
                spans.push((arena.len(), arena.len() + s.len()));
                arena.push_str(s);
                vacant.insert(id);
                id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_set_compares_content() {
        let text = "ab ab abc ab";
        let mut set = SpanSet::default();
        assert!(set.insert(text, 0, 2));
        assert!(!set.insert(text, 3, 5));
        assert!(set.insert(text, 6, 9));
        assert!(!set.insert(text, 10, 12));
        set.clear();
        assert!(set.insert(text, 3, 5));
    }

    #[test]
    fn interner_gives_dense_ids_in_order() {
        let mut ids = Interner::default();
        let got: Vec<u32> = ["the", "cat", "the", "hat", "cat"].iter().map(|w| ids.intern(w)).collect();
        assert_eq!(got, [0, 1, 0, 2, 1]);
        assert_eq!(ids.len(), 3);
        ids.clear();
        assert_eq!(ids.intern("hat"), 0);
        // Many strings: the table grows and rehashes from the arena.
        let words: Vec<String> = (0..10_000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(ids.intern(w) as usize, i + 1);
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(ids.intern(w) as usize, i + 1);
        }
    }
}
