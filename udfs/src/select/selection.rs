//! The exact ODiS selection: quotas, bounded per-dimension candidate heaps,
//! the draft, and the overlap report. Pure logic, no I/O; the table
//! functions in `top_k_per_dim.rs` and `top_k_per_dim_report.rs` feed it.
//!
//! Semantics (documented in `top_k_per_dim`'s help):
//! - quotas by the largest-remainder method over `weights`, in rows or, with
//!   a cost column, in cost units (tokens, bytes);
//! - candidates of dimension d: rows whose d-th score is finite, ordered by
//!   score descending, then id ascending;
//! - draft in rounds, d = 0..D-1, each dimension with quota left taking its
//!   best untaken candidate if it fits (a row costs 1 without a cost column);
//!   a dimension stops at its first candidate that does not fit, passing
//!   over those that alone exceed its quota; then, if a dimension ran out of
//!   candidates with quota left, round-robin ignoring quotas while rows fit
//!   in what is left of the budget.

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

/// A candidate: a row's id, its score on one dimension, where it was read,
/// and what it costs (tokens, bytes; 0 when the selection counts rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    pub score: f64,
    pub id: K,
    pub at: RowAt,
    pub cost: u64,
}

/// How much a heap keeps: its best `n` candidates, or its best candidates
/// until their costs add up to `n` (the shortest such prefix of the ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Capacity {
    Rows(u64),
    Cost(u64),
}

impl Capacity {
    fn is_zero(self) -> bool {
        matches!(self, Capacity::Rows(0) | Capacity::Cost(0))
    }
}

/// "Better" first: score descending, then id ascending.
pub fn ranking<K: Ord>(a: &Candidate<K>, b: &Candidate<K>) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}

/// The best candidates of one dimension seen so far (as many as its
/// [`Capacity`] says), and how many candidates there were in all.
///
/// Not a binary heap: candidates at or above a floor are appended to a
/// buffer, and when it holds half as many again as `capacity`, a linear
/// selection (`select_nth_unstable_by`) keeps the best `capacity` and
/// raises the floor to the worst of them. That costs a few sequential moves
/// per kept candidate, where a heap of a million entries costs twenty
/// cache-missing comparisons; the kept set is the same, exact to the id.
/// A cost capacity sorts the buffer when it has doubled since the last
/// compaction and keeps the shortest best prefix that costs the capacity.
#[derive(Debug)]
pub struct TopHeap<K> {
    capacity: Capacity,
    kept: Vec<Candidate<K>>,
    /// The worst kept score once the capacity is kept: nothing below it can
    /// enter (an equal score still needs the id comparison).
    floor: Option<f64>,
    seen: u64,
    /// The buffer's length after the last compaction.
    compacted: usize,
}

impl<K: Ord> TopHeap<K> {
    pub fn new(capacity: Capacity) -> Self {
        let reserve = match capacity {
            Capacity::Rows(n) => (n as usize).min(1 << 16),
            Capacity::Cost(_) => 1024,
        };
        Self {
            capacity,
            kept: Vec::with_capacity(reserve),
            floor: None,
            seen: 0,
            compacted: 0,
        }
    }

    /// Whether a candidate with this score could be kept (a cheap test
    /// that avoids building an id key for hopeless rows).
    pub fn may_accept(&self, score: f64) -> bool {
        !self.capacity.is_zero() && self.floor.is_none_or(|floor| score >= floor)
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
        let full = match self.capacity {
            Capacity::Rows(n) => self.kept.len() as u64 >= n + n / 2 + 64,
            Capacity::Cost(_) => self.kept.len() >= 2 * self.compacted + 64,
        };
        if full {
            self.compact();
        }
    }

    /// Keeps the best candidates the capacity allows and raises the floor.
    fn compact(&mut self) {
        match self.capacity {
            Capacity::Rows(n) => {
                let n = n as usize;
                if self.kept.len() <= n || n == 0 {
                    return;
                }
                self.kept.select_nth_unstable_by(n - 1, ranking);
                self.kept.truncate(n);
                self.floor = Some(self.kept[n - 1].score);
            }
            Capacity::Cost(budget) => {
                self.kept.sort_by(ranking);
                let mut spent = 0u64;
                if let Some(last) = self.kept.iter().position(|c| {
                    spent = spent.saturating_add(c.cost);
                    spent >= budget
                }) {
                    self.kept.truncate(last + 1);
                    self.floor = Some(self.kept[last].score);
                }
                self.compacted = self.kept.len();
            }
        }
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

    /// The kept candidates in no particular order (a merge takes the best
    /// of them).
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

    /// The kept candidates, best first, and whether they are all of them
    /// (none was dropped here or in a partial heap merged into this one).
    pub fn into_sorted(mut self) -> (Vec<Candidate<K>>, bool) {
        self.compact();
        let mut kept = self.kept;
        kept.sort_by(ranking);
        let complete = kept.len() as u64 == self.seen;
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
    pub cost: u64,
}

/// The draft needed candidates that the heaps did not keep: run the pass
/// again with at least these capacities.
#[derive(Debug, PartialEq)]
pub struct NeedMore {
    pub capacities: Vec<Capacity>,
}

/// Why the draft could not be completed.
#[derive(Debug, PartialEq)]
pub enum DraftError<K> {
    /// Some heap ran dry before the dimension was exhausted.
    NeedMore(NeedMore),
    /// An id appears twice among one dimension's candidates.
    DuplicateId(K),
}

/// The draft's state: who took what, and how far each dimension has read.
struct Drafting<'a, K> {
    dims: &'a [DimensionCandidates<K>],
    by_cost: bool,
    next: Vec<usize>,
    spent: Vec<u64>,
    ranks: Vec<u64>,
    total: u64,
    // Each taken id and the row it was read from: the same id met again at
    // another row is two rows sharing an id, not one row in two top lists.
    taken: HashMap<K, RowAt>,
    picks: Vec<Pick<K>>,
    exhausted_incomplete: Vec<bool>,
}

impl<K: Ord + Hash + Clone> Drafting<'_, K> {
    fn cost(&self, c: &Candidate<K>) -> u64 {
        if self.by_cost { c.cost } else { 1 }
    }

    /// The next untaken candidate of `d`, or None when it has none left.
    fn peek(&mut self, d: usize) -> Result<Option<Candidate<K>>, DraftError<K>> {
        let list = &self.dims[d].sorted;
        while self.next[d] < list.len() {
            let c = &list[self.next[d]];
            match self.taken.get(&c.id) {
                None => return Ok(Some(c.clone())),
                Some(at) if *at != c.at => return Err(DraftError::DuplicateId(c.id.clone())),
                Some(_) => self.next[d] += 1,
            }
        }
        if !self.dims[d].complete {
            self.exhausted_incomplete[d] = true;
        }
        Ok(None)
    }

    /// `d` takes `c`, its next untaken candidate.
    fn take(&mut self, d: usize, c: Candidate<K>) {
        let cost = self.cost(&c);
        self.next[d] += 1;
        self.spent[d] += cost;
        self.total += cost;
        self.ranks[d] += 1;
        self.taken.insert(c.id.clone(), c.at);
        self.picks.push(Pick { id: c.id, dim: d, rank: self.ranks[d], score: c.score, at: c.at, cost: c.cost });
    }
}

/// Runs the draft. `dims[d]` are dimension d's candidates, best first;
/// `budget` and `quotas` are rows, or with `by_cost` the candidates' cost.
pub fn draft<K: Ord + Hash + Clone>(
    budget: u64,
    quotas: &[u64],
    dims: &[DimensionCandidates<K>],
    by_cost: bool,
) -> Result<Vec<Pick<K>>, DraftError<K>> {
    let d_count = dims.len();
    let mut state = Drafting {
        dims,
        by_cost,
        next: vec![0; d_count],
        spent: vec![0; d_count],
        ranks: vec![0; d_count],
        total: 0,
        taken: HashMap::new(),
        picks: Vec::new(),
        exhausted_incomplete: vec![false; d_count],
    };

    // Phase 1: rounds over the dimensions with quota left. A dimension
    // stops at its first candidate that does not fit (its selection stays a
    // prefix of its ranking), passing over those that alone exceed its
    // quota: they never could.
    let mut active: Vec<bool> = quotas.iter().map(|&q| q > 0).collect();
    let mut ran_out = false;
    loop {
        let mut progress = false;
        for d in 0..d_count {
            while active[d] {
                let Some(c) = state.peek(d)? else {
                    active[d] = false;
                    ran_out = true;
                    break;
                };
                let cost = state.cost(&c);
                if state.spent[d] + cost <= quotas[d] {
                    state.take(d, c);
                    active[d] = state.spent[d] < quotas[d];
                    progress = true;
                    break;
                } else if cost > quotas[d] {
                    state.next[d] += 1;
                } else {
                    active[d] = false;
                }
            }
        }
        if !progress {
            break;
        }
    }
    // Phase 2: a dimension ran out of candidates with quota left; the others
    // go on round-robin, ignoring quotas, each while its next candidate fits
    // in what is left of the budget.
    if ran_out {
        let mut open = vec![true; d_count];
        while state.total < budget && open.iter().any(|&o| o) {
            for d in 0..d_count {
                if !open[d] {
                    continue;
                }
                match state.peek(d)? {
                    Some(c) if state.total + state.cost(&c) <= budget => state.take(d, c),
                    _ => open[d] = false,
                }
            }
        }
    }

    if state.exhausted_incomplete.iter().any(|&e| e) {
        let capacities = dims
            .iter()
            .zip(&state.exhausted_incomplete)
            .map(|(dim, &short)| {
                let have = dim.sorted.len() as u64;
                if by_cost {
                    let cost: u64 = dim.sorted.iter().map(|c| c.cost).sum();
                    // (+1: a capacity the kept rows reach keeps them all.)
                    Capacity::Cost(if short { cost.saturating_mul(2).saturating_add(1) } else { cost.saturating_add(1) })
                } else {
                    Capacity::Rows(if short { (have * 2).max(have + 1024).min(dim.total) } else { have })
                }
            })
            .collect();
        return Err(DraftError::NeedMore(NeedMore { capacities }));
    }
    check_duplicates(dims)?;
    Ok(state.picks)
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
    /// Rows of its raw top list: the rows it would take alone (its quota;
    /// with a cost column, the prefix of its ranking its cost quota takes).
    pub quota: u64,
    pub selected: u64,
    /// The lowest score the dimension took.
    pub threshold: Option<f64>,
    /// Rows of its raw top list that are in another dimension's raw top list.
    pub overlap: u64,
    pub overlap_ratio: Option<f64>,
    /// With a cost column: the dimension's cost quota, the cost of what it
    /// selected, and the cost of its overlap rows (the ratio over the cost
    /// of its raw top list).
    pub cost: Option<DimensionCost>,
}

/// The costs of one dimension's report line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DimensionCost {
    pub quota: u64,
    pub selected: u64,
    pub overlap: u64,
    pub overlap_ratio: Option<f64>,
}

/// The rows dimension d would take alone: its quota's best rows, or with
/// costs the phase-1 rule without the other dimensions.
fn raw_top<K>(quota: u64, dim: &DimensionCandidates<K>, by_cost: bool) -> Vec<&Candidate<K>> {
    if !by_cost {
        return dim.sorted.iter().take(quota as usize).collect();
    }
    let mut spent = 0u64;
    let mut top = Vec::new();
    for c in &dim.sorted {
        if spent + c.cost <= quota {
            spent += c.cost;
            top.push(c);
        } else if c.cost <= quota {
            break;
        }
    }
    top
}

/// The per-dimension report of a draft.
pub fn report<K: Ord + Hash + Clone>(
    quotas: &[u64],
    dims: &[DimensionCandidates<K>],
    picks: &[Pick<K>],
    by_cost: bool,
) -> Vec<DimensionReport> {
    let raw_top: Vec<Vec<&Candidate<K>>> = dims.iter().zip(quotas).map(|(dim, &q)| raw_top(q, dim, by_cost)).collect();
    let mut lists_containing: HashMap<&K, usize> = HashMap::new();
    for list in &raw_top {
        for c in list {
            *lists_containing.entry(&c.id).or_default() += 1;
        }
    }
    let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    (0..dims.len())
        .map(|d| {
            let mine = picks.iter().filter(|p| p.dim == d);
            let selected = mine.clone().count() as u64;
            let threshold = mine.clone().map(|p| p.score).reduce(f64::min);
            let shared: Vec<&&Candidate<K>> = raw_top[d].iter().filter(|c| lists_containing[&c.id] > 1).collect();
            let overlap = shared.len() as u64;
            let top_rows = raw_top[d].len() as u64;
            let quota = if by_cost { top_rows } else { quotas[d] };
            let cost = by_cost.then(|| {
                let overlap = shared.iter().map(|c| c.cost).sum();
                DimensionCost {
                    quota: quotas[d],
                    selected: mine.map(|p| p.cost).sum(),
                    overlap,
                    overlap_ratio: ratio(overlap, raw_top[d].iter().map(|c| c.cost).sum()),
                }
            });
            DimensionReport { dim: d, quota, selected, threshold, overlap, overlap_ratio: ratio(overlap, quota), cost }
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
        let mut sorted: Vec<Candidate<i64>> = list.iter().map(|&(score, id)| Candidate { score, id, at: RowAt::default(), cost: 0 }).collect();
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
        let mut heap = TopHeap::new(Capacity::Rows(3));
        for (score, id) in [(1.0, 5), (3.0, 9), (3.0, 2), (2.0, 1), (3.0, 4), (0.5, 0)] {
            if heap.may_accept(score) {
                heap.offer(Candidate { score, id, at: RowAt::default(), cost: 0 });
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
        let mut expected: Vec<Candidate<i64>> = rows.iter().map(|&(score, id)| Candidate { score, id, at: RowAt::default(), cost: 0 }).collect();
        expected.sort_by(ranking);
        for capacity in [1, 100, 999, 5000] {
            for parts in [1, 3] {
                let mut heaps: Vec<TopHeap<i64>> = (0..parts).map(|_| TopHeap::new(Capacity::Rows(capacity as u64))).collect();
                for (i, &(score, id)) in rows.iter().enumerate() {
                    let heap = &mut heaps[i % parts];
                    if heap.may_accept(score) {
                        heap.offer(Candidate { score, id, at: RowAt::default(), cost: 0 });
                    } else {
                        heap.count_rejected();
                    }
                }
                let mut merged = TopHeap::new(Capacity::Rows(capacity as u64));
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
        let picks = draft(4, &[2, 2], &dims, false).unwrap();
        let got: Vec<(i64, usize, u64)> = picks.iter().map(|p| (p.id, p.dim, p.rank)).collect();
        assert_eq!(got, [(1, 0, 1), (4, 1, 1), (2, 0, 2), (5, 1, 2)]);
    }

    #[test]
    fn second_phase_fills_the_budget_round_robin() {
        // Dimension 1 has one candidate for a quota of 2: the budget is
        // completed by round-robin over the dimensions that still have some.
        let dims = [complete(&[(5.0, 1), (4.0, 2), (3.0, 3), (2.0, 4)]), complete(&[(7.0, 9)])];
        let picks = draft(4, &[2, 2], &dims, false).unwrap();
        let got: Vec<(i64, usize, u64)> = picks.iter().map(|p| (p.id, p.dim, p.rank)).collect();
        assert_eq!(got, [(1, 0, 1), (9, 1, 1), (2, 0, 2), (3, 0, 3)]);
        let r = report(&[2, 2], &dims, &picks, false);
        assert_eq!((r[0].selected, r[0].threshold), (3, Some(3.0)));
        assert_eq!((r[1].selected, r[1].overlap), (1, 0));
    }

    #[test]
    fn truncated_heaps_ask_for_more() {
        let mut dims = [complete(&[(9.0, 1), (8.0, 2)]), complete(&[(9.0, 1), (8.0, 2)])];
        dims[1].complete = false;
        dims[1].total = 10;
        match draft(4, &[2, 2], &dims, false) {
            Err(DraftError::NeedMore(NeedMore { capacities })) => assert_eq!(capacities, [Capacity::Rows(2), Capacity::Rows(10)]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let dims = [complete(&[(9.0, 1), (8.0, 1)])];
        assert_eq!(draft(1, &[1], &dims, false), Err(DraftError::DuplicateId(1)));
    }

    #[test]
    fn one_id_at_two_rows_in_two_dimensions_is_a_duplicate() {
        // Id 7 tops both dimensions, read from two different rows: two rows
        // share the id (one row in two top lists would have one position).
        let at = |row| RowAt { partition: 0, row };
        let dims = [
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3), cost: 0 }], complete: true, total: 1 },
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(8), cost: 0 }], complete: true, total: 1 },
        ];
        assert_eq!(draft(2, &[1, 1], &dims, false), Err(DraftError::DuplicateId(7)));
        let same_row = [
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3), cost: 0 }], complete: true, total: 1 },
            DimensionCandidates { sorted: vec![Candidate { score: 9.0, id: 7, at: at(3), cost: 0 }], complete: true, total: 1 },
        ];
        assert_eq!(draft(2, &[1, 1], &same_row, false).map(|p| p.len()), Ok(1));
    }

    #[test]
    fn overlap_counts_rows_in_several_raw_top_lists() {
        let dims = [complete(&[(9.0, 1), (8.0, 2), (7.0, 3)]), complete(&[(9.0, 2), (8.0, 5), (7.0, 6)])];
        let picks = draft(4, &[2, 2], &dims, false).unwrap();
        let r = report(&[2, 2], &dims, &picks, false);
        assert_eq!((r[0].overlap, r[0].overlap_ratio), (1, Some(0.5)));
        assert_eq!((r[1].overlap, r[1].overlap_ratio), (1, Some(0.5)));
    }

    fn costed(list: &[(f64, i64, u64)]) -> DimensionCandidates<i64> {
        let mut sorted: Vec<Candidate<i64>> =
            list.iter().map(|&(score, id, cost)| Candidate { score, id, at: RowAt::default(), cost }).collect();
        sorted.sort_by(ranking);
        DimensionCandidates { total: sorted.len() as u64, sorted, complete: true }
    }

    fn picked(picks: &[Pick<i64>]) -> Vec<(i64, usize)> {
        picks.iter().map(|p| (p.id, p.dim)).collect()
    }

    #[test]
    fn a_cost_quota_takes_a_prefix_and_stops_at_the_first_row_that_does_not_fit() {
        // Quota 100: rows of 40 and 50 fit (90); the next, 30, does not: the
        // dimension stops there, although the row after it (5) would fit.
        let dims = [costed(&[(9.0, 1, 40), (8.0, 2, 50), (7.0, 3, 30), (6.0, 4, 5)])];
        let picks = draft(100, &[100], &dims, true).unwrap();
        assert_eq!(picked(&picks), [(1, 0), (2, 0)]);
        let r = report(&[100], &dims, &picks, true);
        assert_eq!(r[0].cost.map(|c| (c.quota, c.selected)), Some((100, 90)));
        assert_eq!(r[0].quota, 2);
    }

    #[test]
    fn a_row_that_alone_exceeds_the_quota_is_passed_over() {
        let dims = [costed(&[(9.0, 1, 500), (8.0, 2, 50), (7.0, 3, 30), (6.0, 4, 40)])];
        let picks = draft(100, &[100], &dims, true).unwrap();
        assert_eq!(picked(&picks), [(2, 0), (3, 0)]);
    }

    #[test]
    fn a_row_two_dimensions_rank_high_costs_once() {
        // Row 1 tops both; dimension 0 takes it, dimension 1 goes deeper and
        // spends its own quota on rows of its own.
        let dims = [costed(&[(9.0, 1, 60), (8.0, 2, 30), (1.0, 3, 10)]), costed(&[(9.0, 1, 60), (5.0, 4, 50), (4.0, 5, 40), (3.0, 6, 20)])];
        let picks = draft(200, &[100, 100], &dims, true).unwrap();
        assert_eq!(picked(&picks), [(1, 0), (4, 1), (2, 0), (5, 1), (3, 0)]);
        let total: u64 = picks.iter().map(|p| p.cost).sum();
        assert_eq!(total, 60 + 30 + 10 + 50 + 40);
        let r = report(&[100, 100], &dims, &picks, true);
        // Alone, dimension 1 would take row 1 (60), then stop at row 4 (50).
        assert_eq!((r[1].quota, r[1].overlap), (1, 1));
        assert_eq!(r[1].cost.map(|c| (c.selected, c.overlap)), Some((90, 60)));
    }

    #[test]
    fn a_dimension_that_runs_out_leaves_its_quota_to_the_others() {
        let dims = [costed(&[(9.0, 1, 10), (8.0, 2, 40), (7.0, 3, 40), (6.0, 4, 40)]), costed(&[(9.0, 7, 10)])];
        let picks = draft(100, &[50, 50], &dims, true).unwrap();
        // Phase 1: 0 takes 1 and 2 (50, its quota); 1 takes 7 (10) and runs
        // out. Phase 2: 0 takes 3 (60 + 40 = 100): the budget is spent.
        assert_eq!(picked(&picks), [(1, 0), (7, 1), (2, 0), (3, 0)]);
        assert_eq!(picks.iter().map(|p| p.cost).sum::<u64>(), 100);
    }

    #[test]
    fn cost_heaps_keep_the_shortest_prefix_that_reaches_the_capacity_in_any_split() {
        let mut state = 11u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let rows: Vec<(f64, i64, u64)> = (0..5_000).map(|id| ((next() % 50) as f64, id, next() % 100)).collect();
        let mut expected: Vec<Candidate<i64>> =
            rows.iter().map(|&(score, id, cost)| Candidate { score, id, at: RowAt::default(), cost }).collect();
        expected.sort_by(ranking);
        for capacity in [1u64, 700, 20_000] {
            let mut spent = 0;
            let prefix = expected.iter().position(|c| {
                spent += c.cost;
                spent >= capacity
            });
            let want = &expected[..prefix.map_or(expected.len(), |p| p + 1)];
            for parts in [1, 4] {
                let mut heaps: Vec<TopHeap<i64>> = (0..parts).map(|_| TopHeap::new(Capacity::Cost(capacity))).collect();
                for (i, &(score, id, cost)) in rows.iter().enumerate() {
                    let heap = &mut heaps[i % parts];
                    if heap.may_accept(score) {
                        heap.offer(Candidate { score, id, at: RowAt::default(), cost });
                    } else {
                        heap.count_rejected();
                    }
                }
                let mut merged = TopHeap::new(Capacity::Cost(capacity));
                for heap in heaps {
                    merged.merge(heap);
                }
                let (kept, complete) = merged.into_sorted();
                assert!(!complete);
                assert_eq!(kept, want, "capacity {capacity}, {parts} parts");
            }
        }
    }

    #[test]
    fn a_short_cost_heap_asks_for_twice_its_cost() {
        let mut dims = [costed(&[(9.0, 1, 10), (8.0, 2, 20)])];
        dims[0].complete = false;
        dims[0].total = 10;
        assert_eq!(
            draft(100, &[100], &dims, true),
            Err(DraftError::NeedMore(NeedMore { capacities: vec![Capacity::Cost(61)] }))
        );
    }

    #[test]
    fn unit_costs_draft_as_rows_do() {
        // The same lists, once by rows and once with every row costing 1.
        let lists: [&[(f64, i64)]; 2] = [&[(5.0, 1), (4.0, 2), (3.0, 3), (2.0, 4), (1.0, 8)], &[(7.0, 9), (5.0, 1), (2.0, 3)]];
        let rows: Vec<_> = lists.iter().map(|l| complete(l)).collect();
        let ones: Vec<_> = lists.iter().map(|l| costed(&l.iter().map(|&(s, id)| (s, id, 1)).collect::<Vec<_>>())).collect();
        for budget in 1..=8 {
            let q = quotas(budget, &[1.0, 1.0]);
            let a = draft(budget, &q, &rows, false).unwrap();
            let b = draft(budget, &q, &ones, true).unwrap();
            assert_eq!(picked(&a), picked(&b), "budget {budget}");
        }
    }
}
