//! The exact ODiS selection: quotas, bounded per-dimension candidate heaps,
//! the draft, and the overlap report. Pure logic, no I/O; the table
//! functions in `top_k_per_dim.rs` and `top_k_per_dim_report.rs` feed it.
//!
//! Semantics (documented in `top_k_per_dim`'s help):
//! - quotas by the largest-remainder method over `weights`;
//! - candidates of dimension d: rows whose d-th score is finite, ordered by
//!   score descending, then id ascending;
//! - draft in rounds, d = 0..D-1, each dimension below quota taking its best
//!   untaken candidate; then round-robin ignoring quotas until the budget is
//!   met or no dimension has untaken candidates.

use std::cmp::Ordering;
// Id sets of up to the budget's size: foldhash, not SipHash (no
// untrusted input chooses these keys to collide; lookups only, no order).
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::hash::Hash;

/// Quotas q_d = floor(B·w_d/Σw), plus one for each of the R = B − Σq_d
/// dimensions with the largest fractional part (ties: lower d).
pub fn quotas(budget: u64, weights: &[f64]) -> Vec<u64> {
    let total: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| budget as f64 * w / total).collect();
    let mut quotas: Vec<u64> = shares.iter().map(|s| s.floor() as u64).collect();
    let assigned: u64 = quotas.iter().sum();
    let remaining = budget.saturating_sub(assigned) as usize;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (shares[a] - shares[a].floor(), shares[b] - shares[b].floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &d in order.iter().take(remaining) {
        quotas[d] += 1;
    }
    quotas
}

/// Where a row was read: its partition of the scan, and its ordinal within
/// that partition's stream. Never part of the ranking; it lets the fetch pass
/// find a selected row without looking its id up, and tells two rows that
/// share an id apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RowAt {
    pub partition: u32,
    pub row: u64,
}

/// A candidate: a row's id, its score on one dimension, and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    pub score: f64,
    pub id: K,
    pub at: RowAt,
}

/// "Better" first: score descending, then id ascending.
pub fn ranking<K: Ord>(a: &Candidate<K>, b: &Candidate<K>) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}

/// The best `capacity` candidates of one dimension seen so far, and how
/// many candidates there were in all.
///
/// Not a binary heap: candidates at or above a floor are appended to a
/// buffer, and when it holds half as many again as `capacity`, a linear
/// selection (`select_nth_unstable_by`) keeps the best `capacity` and
/// raises the floor to the worst of them. That costs a few sequential moves
/// per kept candidate, where a heap of a million entries costs twenty
/// cache-missing comparisons; the kept set is the same, exact to the id.
#[derive(Debug)]
pub struct TopHeap<K> {
    capacity: usize,
    kept: Vec<Candidate<K>>,
    /// The worst kept score once `capacity` candidates are kept: nothing
    /// below it can enter (an equal score still needs the id comparison).
    floor: Option<f64>,
    seen: u64,
}

impl<K: Ord> TopHeap<K> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            kept: Vec::with_capacity(capacity.min(1 << 16)),
            floor: None,
            seen: 0,
        }
    }

    /// Whether a candidate with this score could be kept (a cheap test
    /// that avoids building an id key for hopeless rows).
    pub fn may_accept(&self, score: f64) -> bool {
        self.capacity > 0 && self.floor.is_none_or(|floor| score >= floor)
    }

    /// Counts a candidate, and keeps it when it is among the best.
    pub fn offer(&mut self, candidate: Candidate<K>) {
        self.seen += 1;
        self.offer_uncounted(candidate);
    }

    /// How many candidates were offered in all.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Counts a candidate that [`Self::may_accept`] already turned away.
    pub fn count_rejected(&mut self) {
        self.seen += 1;
    }

    fn offer_uncounted(&mut self, candidate: Candidate<K>) {
        if !self.may_accept(candidate.score) {
            return;
        }
        self.kept.push(candidate);
        if self.kept.len() >= self.capacity + self.capacity / 2 + 64 {
            self.compact();
        }
    }

    /// Keeps the best `capacity` candidates and raises the floor.
    fn compact(&mut self) {
        if self.kept.len() <= self.capacity || self.capacity == 0 {
            return;
        }
        self.kept.select_nth_unstable_by(self.capacity - 1, ranking);
        self.kept.truncate(self.capacity);
        self.floor = Some(self.kept[self.capacity - 1].score);
    }

    /// Takes a candidate that another heap kept and already counted: how a
    /// partial heap sent from elsewhere (a cluster's task) is merged.
    pub fn offer_counted(&mut self, candidate: Candidate<K>) {
        self.offer_uncounted(candidate);
    }

    /// Adds the count of candidates another partial heap saw.
    pub fn count_seen(&mut self, n: u64) {
        self.seen += n;
    }

    /// The kept candidates in no particular order (at most 1.5x capacity
    /// plus 64; a merge takes the best of them).
    pub fn kept(&self) -> &[Candidate<K>] {
        &self.kept
    }

    /// Merges another partial heap of the same dimension.
    pub fn merge(&mut self, other: TopHeap<K>) {
        self.seen += other.seen;
        for c in other.kept {
            self.offer_uncounted(c);
        }
    }

    /// The kept candidates, best first, and whether they are all of them.
    pub fn into_sorted(mut self) -> (Vec<Candidate<K>>, bool) {
        let complete = self.seen as usize <= self.capacity;
        self.compact();
        let mut kept = self.kept;
        kept.sort_by(ranking);
        (kept, complete)
    }
}

/// One dimension's sorted candidates (a prefix of them when not complete).
#[derive(Debug)]
pub struct DimensionCandidates<K> {
    pub sorted: Vec<Candidate<K>>,
    /// Whether `sorted` holds every candidate of the dimension.
    pub complete: bool,
    /// How many candidates the dimension has in all.
    pub total: u64,
}

/// A drafted row.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick<K> {
    pub id: K,
    pub dim: usize,
    /// 1-based pick number within the dimension.
    pub rank: u64,
    pub score: f64,
    pub at: RowAt,
}

/// The draft needed candidates that the heaps did not keep: run the pass
/// again with at least these capacities.
#[derive(Debug, PartialEq)]
pub struct NeedMore {
    pub capacities: Vec<usize>,
}

/// Why the draft could not be completed.
#[derive(Debug, PartialEq)]
pub enum DraftError<K> {
    /// Some heap ran dry before the dimension was exhausted.
    NeedMore(NeedMore),
    /// An id appears twice among one dimension's candidates.
    DuplicateId(K),
}

/// Runs the draft. `dims[d]` are dimension d's candidates, best first.
pub fn draft<K: Ord + Hash + Clone>(
    budget: u64,
    quotas: &[u64],
    dims: &[DimensionCandidates<K>],
) -> Result<Vec<Pick<K>>, DraftError<K>> {
    let d_count = dims.len();
    let mut next = vec![0usize; d_count];
    let mut taken_by_dim = vec![0u64; d_count];
    // Each taken id and the row it was read from: the same id met again at
    // another row is two rows sharing an id, not one row in two top lists.
    let mut taken: HashMap<K, RowAt> = HashMap::new();
    let mut picks = Vec::new();
    let mut exhausted_incomplete = vec![false; d_count];

    // The next untaken candidate of `d`, or None when it has none left.
    let take_next = |d: usize,
                     taken: &mut HashMap<K, RowAt>,
                     next: &mut [usize],
                     exhausted_incomplete: &mut [bool]|
     -> Result<Option<Candidate<K>>, DraftError<K>> {
        let list = &dims[d].sorted;
        while next[d] < list.len() {
            let c = &list[next[d]];
            next[d] += 1;
            match taken.entry(c.id.clone()) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(c.at);
                    return Ok(Some(c.clone()));
                }
                std::collections::hash_map::Entry::Occupied(row) if *row.get() != c.at => {
                    return Err(DraftError::DuplicateId(c.id.clone()));
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
            }
        }
        if !dims[d].complete {
            exhausted_incomplete[d] = true;
        }
        Ok(None)
    };

    // Phase 1: rounds over the dimensions still below quota.
    loop {
        let mut progress = false;
        for d in 0..d_count {
            if taken_by_dim[d] >= quotas[d] {
                continue;
            }
            if let Some(c) = take_next(d, &mut taken, &mut next, &mut exhausted_incomplete)? {
                taken_by_dim[d] += 1;
                picks.push(Pick { id: c.id, dim: d, rank: taken_by_dim[d], score: c.score, at: c.at });
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    // Phase 2: round-robin over every dimension with untaken candidates.
    while (picks.len() as u64) < budget {
        let mut progress = false;
        for d in 0..d_count {
            if picks.len() as u64 >= budget {
                break;
            }
            if let Some(c) = take_next(d, &mut taken, &mut next, &mut exhausted_incomplete)? {
                taken_by_dim[d] += 1;
                picks.push(Pick { id: c.id, dim: d, rank: taken_by_dim[d], score: c.score, at: c.at });
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }

    if exhausted_incomplete.iter().any(|&e| e) {
        let capacities = dims
            .iter()
            .zip(&exhausted_incomplete)
            .map(|(dim, &short)| {
                let have = dim.sorted.len();
                if short { (have * 2).max(have + 1024).min(dim.total as usize) } else { have }
            })
            .collect();
        return Err(DraftError::NeedMore(NeedMore { capacities }));
    }
    check_duplicates(dims)?;
    Ok(picks)
}

/// An id twice in one dimension's list means two rows share it.
fn check_duplicates<K: Ord + Hash + Clone>(dims: &[DimensionCandidates<K>]) -> Result<(), DraftError<K>> {
    for dim in dims {
        let mut seen = HashSet::with_capacity(dim.sorted.len());
        for c in &dim.sorted {
            if !seen.insert(&c.id) {
                return Err(DraftError::DuplicateId(c.id.clone()));
            }
        }
    }
    Ok(())
}

/// One dimension's line of the overlap report.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionReport {
    pub dim: usize,
    pub quota: u64,
    pub selected: u64,
    /// The lowest score the dimension took.
    pub threshold: Option<f64>,
    /// Rows of its raw top-q list that are in another dimension's raw top list.
    pub overlap: u64,
    pub overlap_ratio: Option<f64>,
}

/// The per-dimension report of a draft.
pub fn report<K: Ord + Hash + Clone>(
    quotas: &[u64],
    dims: &[DimensionCandidates<K>],
    picks: &[Pick<K>],
) -> Vec<DimensionReport> {
    let raw_top: Vec<&[Candidate<K>]> = dims
        .iter()
        .zip(quotas)
        .map(|(dim, &q)| &dim.sorted[..(q as usize).min(dim.sorted.len())])
        .collect();
    let mut lists_containing: HashMap<&K, usize> = HashMap::new();
    for list in &raw_top {
        for c in *list {
            *lists_containing.entry(&c.id).or_default() += 1;
        }
    }
    (0..dims.len())
        .map(|d| {
            let mine = picks.iter().filter(|p| p.dim == d);
            let selected = mine.clone().count() as u64;
            let threshold = mine.map(|p| p.score).reduce(f64::min);
            let overlap = raw_top[d].iter().filter(|c| lists_containing[&c.id] > 1).count() as u64;
            DimensionReport {
                dim: d,
                quota: quotas[d],
                selected,
                threshold,
                overlap,
                overlap_ratio: (quotas[d] > 0).then(|| overlap as f64 / quotas[d] as f64),
            }
        })
        .collect()
}

/// How rows are scored and picked.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// ODiS: the top of each dimension, drafted under one budget.
    PerDimension { weights: Option<Vec<f64>> },
    /// Baseline "PC average-top": the top rows by the mean of the scores.
    AverageTop,
    /// Baseline "PC average-sample": rows sampled without replacement with
    /// probability proportional to exp(mean / temperature).
    AverageSample { seed: u64, temperature: f64 },
    /// Baseline "random": a uniform sample.
    Uniform { seed: u64 },
    /// Rows in groups (strata, clusters), each group its quota, drawn within
    /// the group without replacement with probability proportional to
    /// exp(log_weight); with no seed, the group's top rows by log_weight.
    /// The scores column holds `[group, log_weight]`; `quotas[g]` is group g's.
    Stratified { seed: Option<u64>, quotas: Vec<u64> },
    /// Rows picked elsewhere (`dpp_select`'s greedy), only fetched.
    Picked,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(list: &[(f64, i64)]) -> DimensionCandidates<i64> {
        let mut sorted: Vec<Candidate<i64>> = list.iter().map(|&(score, id)| Candidate { score, id, at: RowAt::default() }).collect();
        sorted.sort_by(ranking);
        DimensionCandidates { total: sorted.len() as u64, sorted, complete: true }
    }

    #[test]
    fn largest_remainder_quotas() {
        assert_eq!(quotas(10, &[1.0, 1.0, 1.0]), [4, 3, 3]);
        assert_eq!(quotas(10, &[1.0, 2.0, 1.0]), [3, 5, 2]);
        assert_eq!(quotas(7, &[0.0, 1.0]), [0, 7]);
        assert_eq!(quotas(2, &[1.0, 1.0, 1.0, 1.0]), [1, 1, 0, 0]);
        assert_eq!(quotas(0, &[1.0]), [0]);
    }

    #[test]
    fn heap_keeps_the_best_with_ties_broken_by_id() {
        let mut heap = TopHeap::new(3);
        for (score, id) in [(1.0, 5), (3.0, 9), (3.0, 2), (2.0, 1), (3.0, 4), (0.5, 0)] {
            if heap.may_accept(score) {
                heap.offer(Candidate { score, id, at: RowAt::default() });
            } else {
                heap.count_rejected();
            }
        }
        let (kept, complete) = heap.into_sorted();
        let ids: Vec<i64> = kept.iter().map(|c| c.id).collect();
        assert_eq!(ids, [2, 4, 9]);
        assert!(!complete);
    }

    #[test]
    fn compacting_keeps_exactly_the_best_in_any_split() {
        // Scores with many ties (20 values), ids unique; capacity small
        // enough that every buffer compacts many times.
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let rows: Vec<(f64, i64)> = (0..20_000).map(|id| ((next() % 20) as f64, id)).collect();
        let mut expected: Vec<Candidate<i64>> = rows.iter().map(|&(score, id)| Candidate { score, id, at: RowAt::default() }).collect();
        expected.sort_by(ranking);
        for capacity in [1, 100, 999, 5000] {
            for parts in [1, 3] {
                let mut heaps: Vec<TopHeap<i64>> = (0..parts).map(|_| TopHeap::new(capacity)).collect();
                for (i, &(score, id)) in rows.iter().enumerate() {
                    let heap = &mut heaps[i % parts];
                    if heap.may_accept(score) {
                        heap.offer(Candidate { score, id, at: RowAt::default() });
                    } else {
                        heap.count_rejected();
                    }
                }
                let mut merged = TopHeap::new(capacity);
                for heap in heaps {
                    merged.merge(heap);
                }
                assert_eq!(merged.seen(), rows.len() as u64);
                let (kept, complete) = merged.into_sorted();
                assert!(!complete);
                assert_eq!(kept, expected[..capacity], "capacity {capacity}, {parts} parts");
            }
        }
    }

    #[test]
    fn draft_skips_rows_taken_by_other_dimensions() {
        // Row 1 is the best of both dimensions; dimension 0 drafts it first.
        let dims = [complete(&[(9.0, 1), (8.0, 2), (1.0, 3)]), complete(&[(9.0, 1), (5.0, 4), (4.0, 5)])];
        let picks = draft(4, &[2, 2], &dims).unwrap();
        let got: Vec<(i64, usize, u64)> = picks.iter().map(|p| (p.id, p.dim, p.rank)).collect();
        assert_eq!(got, [(1, 0, 1), (4, 1, 1), (2, 0, 2), (5, 1, 2)]);
    }

    #[test]
    fn second_phase_fills_the_budget_round_robin() {
        // Dimension 1 has one candidate for a quota of 2: the budget is
        // completed by round-robin over the dimensions that still have some.
        let dims = [complete(&[(5.0, 1), (4.0, 2), (3.0, 3), (2.0, 4)]), complete(&[(7.0, 9)])];
        let picks = draft(4, &[2, 2], &dims).unwrap();
        let got: Vec<(i64, usize, u64)> = picks.iter().map(|p| (p.id, p.dim, p.rank)).collect();
        assert_eq!(got, [(1, 0, 1), (9, 1, 1), (2, 0, 2), (3, 0, 3)]);
        let r = report(&[2, 2], &dims, &picks);
        assert_eq!((r[0].selected, r[0].threshold), (3, Some(3.0)));
        assert_eq!((r[1].selected, r[1].overlap), (1, 0));
    }

    #[test]
    fn truncated_heaps_ask_for_more() {
        let mut dims = [complete(&[(9.0, 1), (8.0, 2)]), complete(&[(9.0, 1), (8.0, 2)])];
        dims[1].complete = false;
        dims[1].total = 10;
        match draft(4, &[2, 2], &dims) {
            Err(DraftError::NeedMore(NeedMore { capacities })) => assert_eq!(capacities, [2, 10]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let dims = [complete(&[(9.0, 1), (8.0, 1)])];
        assert_eq!(draft(1, &[1], &dims), Err(DraftError::DuplicateId(1)));
    }

    #[test]
    fn one_id_at_two_rows_in_two_dimensions_is_a_duplicate() {
        // Id 7 tops both dimensions, read from two different rows: two rows
        // share the id (one row in two top lists would have one position).
        let at = |row| RowAt { partition: 0, row };
        let dims = [
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3) }], complete: true, total: 1 },
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(8) }], complete: true, total: 1 },
        ];
        assert_eq!(draft(2, &[1, 1], &dims), Err(DraftError::DuplicateId(7)));
        let same_row = [
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3) }], complete: true, total: 1 },
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3) }], complete: true, total: 1 },
        ];
        assert_eq!(draft(2, &[1, 1], &same_row).map(|p| p.len()), Ok(1));
    }

    #[test]
    fn overlap_counts_rows_in_several_raw_top_lists() {
        let dims = [complete(&[(9.0, 1), (8.0, 2), (7.0, 3)]), complete(&[(9.0, 2), (8.0, 5), (7.0, 6)])];
        let picks = draft(4, &[2, 2], &dims).unwrap();
        let r = report(&[2, 2], &dims, &picks);
        assert_eq!((r[0].overlap, r[0].overlap_ratio), (1, Some(0.5)));
        assert_eq!((r[1].overlap, r[1].overlap_ratio), (1, Some(0.5)));
    }
}
