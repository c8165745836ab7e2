//! `mig_select(table, id_column, label_column, quality_column, budget [, spec])`:
//! MIG, information gain over a label graph (Chen et al., "MIG: Automatic
//! Data Selection for Instruction Tuning by Maximizing Information Gain in
//! Semantic Space", arXiv 2504.13835), with one label per row: a k-means
//! cluster of its embedding, or a label column.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Expr, when};
use datafusion::prelude::{SessionContext, cast, ident, lit};
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::clustering::kmeans_assign::kmeans_assign_udf;
use crate::clustering::model::read_model;
use crate::clustering::per_group::{fit, has_direction, kmeans_spec};
use crate::plan::budget::Budget;
use crate::select::deferred::{DeferredFunction, Source, Planned, deferred_table, is_finite, resolve_budget, strata_selection, strata_view};
use crate::select::selection::{Capacity, DimensionCandidates, Pick};
use crate::plan::id_keys::IdKey;
use crate::plan::table_args::{Args, Column};
use crate::vectors::is_vector_type;

pub const NAME: &str = "mig_select";
const USAGE: &str = "mig_select('table', 'id_column', 'label_column', 'quality_column', budget [, 'clusters=256,threshold=0.9,weight=1,exponent=0.8,neighbours=64,seed=1'])";
const EXAMPLE: &str = "clusters=256,threshold=0.9,weight=1,exponent=0.8,neighbours=64,seed=1";

/// Candidates each label keeps at first beyond twice its share of the
/// budget: a label that needs more is read again with a longer list.
const FIRST_EXTRA: u64 = 16;

/// The most labels: the greedy keeps a candidate list per label.
const MAX_LABELS: i64 = 1 << 22;

/// The settings of `spec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MigSpec {
    pub clusters: u64,
    pub threshold: f64,
    pub weight: f64,
    pub exponent: f64,
    /// Links of a label in the graph besides itself, at most.
    pub neighbours: u64,
    pub seed: u64,
}

impl Default for MigSpec {
    fn default() -> Self {
        MigSpec { clusters: 256, threshold: 0.9, weight: 1.0, exponent: 0.8, neighbours: 64, seed: 1 }
    }
}

impl fmt::Display for MigSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clusters={},threshold={},weight={},exponent={},neighbours={},seed={}",
            self.clusters, self.threshold, self.weight, self.exponent, self.neighbours, self.seed
        )
    }
}

impl MigSpec {
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        use crate::spec::number;
        let mut parsed = MigSpec::default();
        for item in crate::spec::items(spec, EXAMPLE) {
            let (key, value) = item?;
            match key {
                "clusters" => parsed.clusters = crate::spec::integer(key, value, 1, 1 << 20)?,
                "threshold" => parsed.threshold = number(key, value, |v| (-1.0..=1.0).contains(&v), "a number in [-1, 1]")?,
                "weight" => parsed.weight = number(key, value, |v| v.is_finite() && v >= 0.0, "a number >= 0")?,
                "exponent" => parsed.exponent = number(key, value, |v| v > 0.0 && v <= 1.0, "a number in (0, 1]")?,
                "neighbours" => parsed.neighbours = crate::spec::integer(key, value, 1, 100_000)?,
                "seed" => parsed.seed = crate::spec::integer(key, value, 0, u64::MAX)?,
                other => return Err(format!("unknown key '{other}'; the keys are clusters, threshold, weight, exponent, neighbours, seed")),
            }
        }
        Ok(parsed)
    }
}

/// The label graph P, sparse: `rows[l]` the non-zero P[l, l'], `columns[l']`
/// the labels l with P[l, l'] non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelGraph {
    rows: Vec<Vec<(usize, f64)>>,
    columns: Vec<Vec<usize>>,
}

impl LabelGraph {
    /// Labels without embeddings: each label informs itself only.
    pub fn identity(labels: usize) -> Self {
        LabelGraph { rows: (0..labels).map(|l| vec![(l, 1.0)]).collect(), columns: (0..labels).map(|l| vec![l]).collect() }
    }

    /// MIG's graph of `labels` unit embeddings (row-major, `dims` wide),
    /// sparse: each label linked to itself and to its `neighbours` most
    /// similar labels (ties: the lower label) whose cosine similarity
    /// reaches `threshold`, those links times `weight`, every column
    /// normalised to sum 1. Where no label has more than `neighbours` others
    /// above the threshold this is MIG's dense graph. Memory O(labels ×
    /// neighbours): the similarities are computed a block of labels at a
    /// time (f32 products to screen, f64 to decide the threshold).
    pub fn from_embeddings(embeddings: &[f32], dims: usize, threshold: f64, weight: f64, neighbours: usize) -> Self {
        let labels = if dims == 0 { 0 } else { embeddings.len() / dims };
        let all = ndarray::ArrayView2::from_shape((labels, dims), embeddings).expect("labels × dims values");
        let exact = |a: usize, b: usize| all.row(a).iter().zip(all.row(b)).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
        // f32 products are off by far less than this for unit vectors.
        let screen = threshold - 1e-3;
        let mut rows: Vec<Vec<(usize, f64)>> = Vec::with_capacity(labels);
        for start in (0..labels).step_by(GRAPH_BLOCK) {
            let end = (start + GRAPH_BLOCK).min(labels);
            let products = crate::blas::sgemm_abt(all.slice(ndarray::s![start..end, ..]), all);
            for a in start..end {
                let mut linked: Vec<(usize, f64)> = products
                    .row(a - start)
                    .iter()
                    .enumerate()
                    .filter(|&(b, &p)| b != a && p as f64 >= screen)
                    .map(|(b, _)| (b, exact(a, b)))
                    .filter(|&(_, similarity)| similarity >= threshold)
                    .collect();
                linked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                linked.truncate(neighbours);
                let mut row: Vec<(usize, f64)> = linked.into_iter().map(|(b, similarity)| (b, similarity * weight)).collect();
                // The diagonal is 1, as MIG sets it (every threshold is at most 1).
                row.push((a, 1.0));
                row.retain(|&(_, p)| p != 0.0);
                row.sort_by_key(|&(b, _)| b);
                rows.push(row);
            }
        }
        let mut totals = vec![0.0f64; labels];
        for row in &rows {
            for &(b, p) in row {
                totals[b] += p;
            }
        }
        let mut columns = vec![Vec::new(); labels];
        for (a, row) in rows.iter_mut().enumerate() {
            for (b, p) in row.iter_mut() {
                *p /= totals[*b];
                columns[*b].push(a);
            }
        }
        LabelGraph { rows, columns }
    }

    pub fn labels(&self) -> usize {
        self.rows.len()
    }
}

/// The greedy needs more candidates of these labels than the pass kept.
#[derive(Debug, PartialEq)]
pub struct NeedMore(pub Vec<usize>);

/// Labels whose similarities one block of the graph's products holds:
/// the scratch is `GRAPH_BLOCK × labels` floats.
const GRAPH_BLOCK: usize = 256;

/// What the greedy's queue holds for a label: its next candidate's gain,
/// or (`short`) an upper bound of what a row beyond its kept candidates
/// could gain. `version` tells a live entry from one its label outdated.
#[derive(Debug, Clone, Copy)]
struct Entry {
    gain: f64,
    label: usize,
    short: bool,
    version: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// The largest gain first; ties: the lower label, and a bound before a
    /// candidate (a bound that ties the best must be looked at).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.gain.total_cmp(&other.gain).then(other.label.cmp(&self.label)).then(self.short.cmp(&other.short))
    }
}

/// MIG's greedy over each label's candidates (`qualities[l]`, best first;
/// `complete[l]` whether they are all of the label's rows): up to `budget`
/// picks as (label, index in its list, gain). Stops early when no candidate
/// has a positive gain.
///
/// A label's gain is its next candidate's quality times its slope
/// P[l]·φ′(x); φ is concave and x only grows, so a pick changes the slopes
/// of the labels linked to its label's links, and only lowers them. A queue
/// of gains keyed by label then gives the best pick without a scan of every
/// label: a pick costs O(links² · log labels), not O(labels).
pub fn mig_greedy(graph: &LabelGraph, qualities: &[Vec<f64>], complete: &[bool], budget: usize, exponent: f64) -> Result<Vec<(usize, usize, f64)>, NeedMore> {
    use std::collections::BinaryHeap;
    let labels = graph.labels();
    let derivative = |x: f64| exponent * (x + 1e-6).powf(exponent - 1.0);
    let mut x = vec![0.0f64; labels];
    let slope = |l: usize, x: &[f64]| graph.rows[l].iter().map(|&(b, p)| p * derivative(x[b])).sum::<f64>();
    let mut g: Vec<f64> = (0..labels).map(|l| slope(l, &x)).collect();
    let mut next = vec![0usize; labels];
    let mut version = vec![0u64; labels];
    // The label's entry as it stands: its next candidate, or the bound of
    // the rows it did not keep, or nothing when it has no rows left.
    let entry = |l: usize, next: &[usize], g: &[f64], version: &[u64]| -> Option<Entry> {
        match qualities[l].get(next[l]) {
            Some(&q) => Some(Entry { gain: q * g[l], label: l, short: false, version: version[l] }),
            None if !complete[l] => {
                let bound = qualities[l].last().copied().unwrap_or(f64::INFINITY) * g[l];
                Some(Entry { gain: bound, label: l, short: true, version: version[l] })
            }
            None => None,
        }
    };
    let mut queue: BinaryHeap<Entry> = (0..labels).filter_map(|l| entry(l, &next, &g, &version)).collect();
    let mut picks = Vec::with_capacity(budget.min(qualities.iter().map(Vec::len).sum()));
    while picks.len() < budget {
        // The best live entry; bounds at or above it mean more candidates
        // are needed first.
        let mut short: Vec<usize> = Vec::new();
        let best = loop {
            let Some(top) = queue.pop() else { break None };
            if top.version != version[top.label] {
                continue;
            }
            if top.short {
                short.push(top.label);
                continue;
            }
            break Some(top);
        };
        if let Some(best) = best {
            // Bounds that tie the best (a higher label) count too; tied
            // candidates go back.
            let mut tied = Vec::new();
            while let Some(&other) = queue.peek() {
                if other.gain < best.gain {
                    break;
                }
                queue.pop();
                match (other.version == version[other.label], other.short) {
                    (false, _) => {}
                    (true, true) => short.push(other.label),
                    (true, false) => tied.push(other),
                }
            }
            queue.extend(tied);
        }
        if !short.is_empty() {
            short.sort_unstable();
            short.dedup();
            return Err(NeedMore(short));
        }
        let Some(Entry { label: l, gain, .. }) = best.filter(|b| b.gain > 0.0) else { break };
        let q = qualities[l][next[l]];
        picks.push((l, next[l], gain));
        next[l] += 1;
        for &(b, p) in &graph.rows[l] {
            x[b] += q * p;
        }
        // Every label whose slope moved, and the one picked, anew.
        let mut moved: Vec<usize> = graph.rows[l].iter().flat_map(|&(b, _)| graph.columns[b].iter().copied()).collect();
        moved.push(l);
        moved.sort_unstable();
        moved.dedup();
        for a in moved {
            g[a] = slope(a, &x);
            version[a] += 1;
            if let Some(e) = entry(a, &next, &g, &version) {
                queue.push(e);
            }
        }
    }
    Ok(picks)
}

/// Where the labels come from.
#[derive(Debug)]
enum Labels {
    /// K-means clusters of an embedding column; the graph from their centroids.
    Clusters,
    /// An integer column; no graph.
    Column,
}

#[derive(Debug)]
struct Mig {
    source: Source,
    label: Column,
    labels: Labels,
    quality: Column,
    budget: Budget,
    spec: MigSpec,
}

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = "MIG's selection: the information of a set is E(S) = Σ_l φ(x_l), x = Σ_{i∈S} quality_i · P[label_i], over a \
         graph P of the labels (their cosine similarities, those below `threshold` set to 0, the others off the \
         diagonal times `weight`, each column normalised to sum 1; each label keeps its `neighbours` most similar \
         labels above the threshold, so the graph takes O(labels × neighbours) memory and equals MIG's dense graph \
         where no label has more such neighbours), with φ(x) = x^exponent (so φ′(x) = \
         exponent · (x + 1e-6)^(exponent − 1), MIG's default 0.8 · (x + 1e-6)^(−0.2)). As the authors' code does, \
         each step picks the row of largest linearised gain quality_i · (P[label_i] · φ′(x)) and adds it to x; \
         ties go to the lower label, within a label to the higher quality, then the smaller id. \
         Within a label the gain is proportional to the quality, so only each label's best rows can be picked: \
         the candidate pass keeps a bounded list per label (twice its share of the budget, plus 16) and is run \
         again with longer lists when the greedy could need more. A pick only lowers gains (φ is concave and x \
         grows), so a queue of the labels' gains gives the best pick without a scan of every label: the same \
         picks as the scan.\n\n\
         `label_column` is an embedding column (the labels are then its spherical k-means clusters, `clusters` \
         of them, and the graph comes from their centroids) or an integer column of labels 0 to L − 1 (then the \
         labels have no embeddings and the graph is the identity). The quality must be positive: rows whose \
         quality is NULL, NaN, infinite, zero or negative add no information and are never selected (shift a \
         signed score first, e.g. exp(score)). Returns the table's columns plus `odis_dim` (the label), \
         `odis_rank` (the pick's order within its label) and `odis_score` (its gain).\n\n\
         `spec`: clusters (default 256), threshold (default 0.9), weight (default 1), exponent (default 0.8), \
         neighbours (default 64), seed (of the k-means, default 1).",
    syntax_example = "mig_select('table', 'id_column', 'label_column', 'quality_column', budget [, 'clusters=256,threshold=0.9,weight=1,exponent=0.8,neighbours=64,seed=1'])",
    sql_example = "```sql\n> SELECT * FROM mig_select('docs', 'id', 'embedding', 'quality', 5000, 'clusters=512');\n```",
    argument(name = "table, id_column, budget", description = "As for top_k_per_dim."),
    argument(name = "label_column", description = "Name of an embedding column (labels: its k-means clusters) or of an integer column of labels."),
    argument(name = "quality_column", description = "Name of a numeric column of positive qualities."),
    argument(name = "spec", description = "Optional settings, e.g. 'clusters=256,threshold=0.9,weight=1,exponent=0.8,neighbours=64,seed=1'."),
    related_udf(name = "dpp_select"),
    related_udf(name = "cluster_balanced_sample"),
)]
#[derive(Debug, Default)]
pub struct MigSelectFunc;

impl TableFunctionImpl for MigSelectFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[5, 6])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let label = args.column(2, "label_column", &table_name, &schema)?;
        let labels = match label.field.data_type() {
            t if is_vector_type(t) => Labels::Clusters,
            t if t.is_integer() => Labels::Column,
            other => {
                return Err(DataFusionError::Plan(format!(
                    "{NAME}: label column '{}' must hold embeddings (lists of numbers) or integer labels, got {other}",
                    label.field.name()
                )));
            }
        };
        let quality = args.number_column(3, "quality_column", &table_name, &schema)?;
        let budget = args.budget(4)?;
        let spec = if args.len() == 6 { args.spec(5, EXAMPLE, MigSpec::parse)? } else { MigSpec::default() };
        Ok(deferred_table(Arc::new(Mig { source: Source { table_name, table, id }, label, labels, quality, budget, spec })))
    }
}

documented_table_function!(MigSelectFunc, NAME);

impl Mig {
    /// Each row's label (as a Float64) and the label graph.
    async fn labels(&self, ctx: &SessionContext, eligible: Expr) -> Result<(Expr, Expr, LabelGraph)> {
        let label = ident(self.label.field.name());
        let rows = ctx.read_table(Arc::clone(&self.source.table))?;
        match self.labels {
            Labels::Clusters => {
                let eligible = eligible.and(has_direction(label.clone()));
                let rows = rows.filter(eligible.clone())?;
                let count = rows.clone().count().await? as u64;
                let k = self.spec.clusters.min(count.max(1));
                let model = fit(rows, label.clone(), k, &kmeans_spec(self.spec.seed)).await?;
                let read = read_model(NAME, &model.to_array()?, 0)?;
                let graph = match &read {
                    Some(m) => LabelGraph::from_embeddings(&m.centroids, m.dims, self.spec.threshold, self.spec.weight, self.spec.neighbours as usize),
                    None => LabelGraph::identity(0),
                };
                let cluster = get_field(kmeans_assign_udf().call(vec![label, lit(model)]), "cluster");
                // A row without a cluster (a NaN in its embedding) has a NULL
                // label, which the candidate pass skips.
                Ok((cast(cluster, DataType::Float64), eligible, graph))
            }
            Labels::Column => {
                let eligible = eligible.and(label.clone().is_not_null());
                let range = rows.filter(eligible.clone())?.aggregate(vec![], vec![min(cast(label.clone(), DataType::Int64)), max(cast(label.clone(), DataType::Int64))])?.collect().await?;
                let batch = range.iter().find(|b| b.num_rows() > 0).ok_or_else(|| DataFusionError::Internal(format!("{NAME}: no aggregate row")))?;
                let (low, high) = (cast_array(batch.column(0), &DataType::Int64)?, cast_array(batch.column(1), &DataType::Int64)?);
                let (low, high) = (low.as_primitive::<Int64Type>(), high.as_primitive::<Int64Type>());
                let labels = if high.is_null(0) { 0 } else { high.value(0) + 1 };
                if !low.is_null(0) && (low.value(0) < 0 || labels > MAX_LABELS) {
                    return Err(DataFusionError::Execution(format!(
                        "{NAME}: label column '{}' holds {}; labels must be numbered from 0 (at most {MAX_LABELS}); renumber with \
                         DENSE_RANK() OVER (ORDER BY label) - 1",
                        self.label.field.name(),
                        if low.value(0) < 0 { low.value(0) } else { high.value(0) }
                    )));
                }
                Ok((cast(label, DataType::Float64), eligible, LabelGraph::identity(labels as usize)))
            }
        }
    }
}

#[async_trait]
impl DeferredFunction for Mig {
    fn function(&self) -> &'static str {
        NAME
    }

    fn source(&self) -> &Source {
        &self.source
    }

    fn describe(&self) -> String {
        format!(
            "table={}, id={}, label={}, quality={}, budget={}, {}",
            self.source.table_name,
            self.source.id.field.name(),
            self.label.field.name(),
            self.quality.field.name(),
            self.budget,
            self.spec
        )
    }

    async fn plan(&self, ctx: &SessionContext) -> Result<Planned> {
        let quality = ident(self.quality.field.name());
        let positive = is_finite(quality.clone()).and(cast(quality.clone(), DataType::Float64).gt(lit(0.0)));
        let (label, eligible, graph) = self.labels(ctx, positive).await?;
        let budget = resolve_budget(ctx, &self.source.table, self.budget).await? as usize;
        let labels = graph.labels();
        let strata = when(eligible, make_array(vec![label, cast(quality, DataType::Float64)])).end()?;
        let view = strata_view(ctx, &self.source.table, strata)?;
        // Each label's best rows by quality: the greedy never looks further.
        let selection = strata_selection(self, view, None, vec![0; labels])?;
        let state = ctx.state();
        let first = (2 * budget as u64 / labels.max(1) as u64 + FIRST_EXTRA).min(budget as u64);
        let mut capacities = vec![Capacity::Rows(first); labels];
        loop {
            let (candidates, _) = selection.gather(&state, &capacities).await?;
            let qualities: Vec<Vec<f64>> = candidates.iter().map(|c| c.sorted.iter().map(|c| c.score).collect()).collect();
            let complete: Vec<bool> = candidates.iter().map(|c| c.complete).collect();
            match mig_greedy(&graph, &qualities, &complete, budget, self.spec.exponent) {
                Ok(picks) => return Ok(Planned::Picks(picks_of(&candidates, &picks))),
                Err(NeedMore(short)) => {
                    for l in short {
                        let have = candidates[l].sorted.len() as u64;
                        capacities[l] = Capacity::Rows((have * 2).max(have + 1024).min(candidates[l].total));
                    }
                }
            }
        }
    }
}

/// The greedy's picks as rows to fetch: label and rank within the label.
fn picks_of(candidates: &[DimensionCandidates<IdKey>], picks: &[(usize, usize, f64)]) -> Vec<Pick<IdKey>> {
    picks
        .iter()
        .map(|&(label, index, gain)| {
            let c = &candidates[label].sorted[index];
            Pick { id: c.id.clone(), dim: label, rank: index as u64 + 1, score: gain, at: c.at, cost: c.cost }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_what_is_wrong() {
        assert_eq!(MigSpec::parse(""), Ok(MigSpec::default()));
        let spec = MigSpec::parse("clusters=8,threshold=0.5,weight=2,exponent=0.5,neighbours=5,seed=3").unwrap();
        assert_eq!(spec.neighbours, 5);
        assert_eq!(MigSpec::parse(&spec.to_string()), Ok(spec));
        assert!(MigSpec::parse("exponent=0").unwrap_err().contains("(0, 1]"));
        assert!(MigSpec::parse("threshold=2").unwrap_err().contains("[-1, 1]"));
        assert!(MigSpec::parse("k=3").unwrap_err().contains("unknown key 'k'"));
    }

    #[test]
    fn the_graph_drops_weak_links_and_normalises_columns() {
        // Labels 0 and 1 at 0.95, label 2 far from both.
        let c = [1.0f32, 0.0, 0.95, (1.0f32 - 0.95 * 0.95).sqrt(), 0.0, 1.0];
        let graph = LabelGraph::from_embeddings(&c, 2, 0.9, 1.0, 64);
        let p = |a: usize, b: usize| graph.rows[a].iter().find(|e| e.0 == b).map_or(0.0, |e| e.1);
        assert!((p(0, 0) - 1.0 / 1.95).abs() < 1e-6);
        assert!((p(1, 0) - 0.95 / 1.95).abs() < 1e-6);
        assert_eq!(p(2, 0), 0.0);
        assert_eq!(p(2, 2), 1.0);
        assert_eq!(graph.columns[0], [0, 1]);
        // One neighbour: 0 and 1 keep each other, as they are each other's
        // nearest; the dense graph is the same here.
        assert_eq!(LabelGraph::from_embeddings(&c, 2, 0.9, 1.0, 1), graph);
    }

    /// The dense graph and the scan of every label at every pick, as MIG's
    /// code has them: what the sparse graph and the queue must equal.
    fn dense_graph(embeddings: &[f32], dims: usize, threshold: f64, weight: f64) -> LabelGraph {
        let labels = embeddings.len() / dims;
        let row = |l: usize| embeddings[l * dims..(l + 1) * dims].iter().map(|&v| v as f64);
        let mut dense = vec![0.0f64; labels * labels];
        for a in 0..labels {
            for b in 0..labels {
                let similarity: f64 = if a == b { 1.0 } else { row(a).zip(row(b)).map(|(x, y)| x * y).sum() };
                if similarity >= threshold {
                    dense[a * labels + b] = if a == b { similarity } else { similarity * weight };
                }
            }
        }
        for b in 0..labels {
            let total: f64 = (0..labels).map(|a| dense[a * labels + b]).sum();
            (0..labels).for_each(|a| dense[a * labels + b] /= total);
        }
        let rows: Vec<Vec<(usize, f64)>> =
            (0..labels).map(|a| (0..labels).filter(|&b| dense[a * labels + b] != 0.0).map(|b| (b, dense[a * labels + b])).collect()).collect();
        let mut columns = vec![Vec::new(); labels];
        for (a, r) in rows.iter().enumerate() {
            r.iter().for_each(|&(b, _)| columns[b].push(a));
        }
        LabelGraph { rows, columns }
    }

    fn scan_greedy(graph: &LabelGraph, qualities: &[Vec<f64>], budget: usize, exponent: f64) -> Vec<(usize, usize, f64)> {
        let labels = graph.labels();
        let derivative = |x: f64| exponent * (x + 1e-6).powf(exponent - 1.0);
        let mut x = vec![0.0f64; labels];
        let mut next = vec![0usize; labels];
        let mut picks = Vec::new();
        while picks.len() < budget {
            let mut best: Option<(usize, f64)> = None;
            for l in 0..labels {
                let Some(&q) = qualities[l].get(next[l]) else { continue };
                let gain = q * graph.rows[l].iter().map(|&(b, p)| p * derivative(x[b])).sum::<f64>();
                if best.is_none_or(|(_, b)| gain > b) {
                    best = Some((l, gain));
                }
            }
            let Some((l, gain)) = best.filter(|&(_, g)| g > 0.0) else { break };
            let q = qualities[l][next[l]];
            picks.push((l, next[l], gain));
            next[l] += 1;
            graph.rows[l].iter().for_each(|&(b, p)| x[b] += q * p);
        }
        picks
    }

    #[test]
    fn the_sparse_graph_and_the_queue_pick_what_the_dense_scan_picks() {
        let mut state = 11u64;
        let mut draw = || (crate::spec::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        for (labels, dims, threshold) in [(40, 4, 0.9), (120, 3, 0.95), (60, 8, 0.5), (30, 2, 0.0)] {
            // Unit label vectors in a few tight bunches, so many links pass.
            let centres: Vec<f64> = (0..4 * dims).map(|_| draw() - 0.5).collect();
            let mut e: Vec<f32> = Vec::new();
            for l in 0..labels {
                let v: Vec<f64> = (0..dims).map(|j| centres[(l % 4) * dims + j] + 0.1 * (draw() - 0.5)).collect();
                let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                e.extend(v.iter().map(|a| (a / n) as f32));
            }
            let sparse = LabelGraph::from_embeddings(&e, dims, threshold, 0.7, labels);
            let dense = dense_graph(&e, dims, threshold, 0.7);
            assert_eq!(sparse.columns, dense.columns);
            for (s, d) in sparse.rows.iter().zip(&dense.rows) {
                assert_eq!(s.len(), d.len());
                assert!(s.iter().zip(d).all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() < 1e-12));
            }
            let qualities: Vec<Vec<f64>> = (0..labels)
                .map(|_| {
                    let mut q: Vec<f64> = (0..(draw() * 6.0) as usize).map(|_| 0.1 + draw()).collect();
                    q.sort_by(|a, b| b.total_cmp(a));
                    q
                })
                .collect();
            let complete = vec![true; labels];
            let budget = qualities.iter().map(Vec::len).sum::<usize>() * 2 / 3;
            let want = scan_greedy(&dense, &qualities, budget, 0.8);
            let got = mig_greedy(&sparse, &qualities, &complete, budget, 0.8).unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "{labels} labels: {got:?}");
                assert!((g.2 - w.2).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn greedy_spreads_over_labels_and_asks_for_more_when_a_list_runs_out() {
        // One label with far better rows: the concave φ still moves to the
        // other label once the first has information.
        let graph = LabelGraph::identity(2);
        let picks = mig_greedy(&graph, &[vec![10.0, 9.0, 8.0], vec![1.0, 0.5]], &[true, true], 4, 0.8).unwrap();
        let labels: Vec<usize> = picks.iter().map(|p| p.0).collect();
        assert_eq!(labels[0], 0);
        assert!(labels.contains(&1), "{picks:?}");
        // Gains only shrink within a label.
        assert!(picks.windows(2).filter(|w| w[0].0 == w[1].0).all(|w| w[0].2 >= w[1].2));
        // An incomplete list that runs out while it could still win.
        assert_eq!(mig_greedy(&graph, &[vec![10.0], vec![1.0]], &[false, true], 3, 0.8), Err(NeedMore(vec![0])));
        // All picked when the budget exceeds the rows.
        assert_eq!(mig_greedy(&graph, &[vec![3.0], vec![1.0]], &[true, true], 5, 0.8).unwrap().len(), 2);
    }
}
