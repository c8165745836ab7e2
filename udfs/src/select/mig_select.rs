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
const USAGE: &str = "mig_select('table', 'id_column', 'label_column', 'quality_column', budget [, 'clusters=256,threshold=0.9,weight=1,exponent=0.8,seed=1'])";
const EXAMPLE: &str = "clusters=256,threshold=0.9,weight=1,exponent=0.8,seed=1";

/// The most labels: the greedy keeps a candidate list per label.
const MAX_LABELS: i64 = 1 << 22;

/// The settings of `spec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MigSpec {
    pub clusters: u64,
    pub threshold: f64,
    pub weight: f64,
    pub exponent: f64,
    pub seed: u64,
}

impl Default for MigSpec {
    fn default() -> Self {
        MigSpec { clusters: 256, threshold: 0.9, weight: 1.0, exponent: 0.8, seed: 1 }
    }
}

impl fmt::Display for MigSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "clusters={},threshold={},weight={},exponent={},seed={}", self.clusters, self.threshold, self.weight, self.exponent, self.seed)
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
                "seed" => parsed.seed = crate::spec::integer(key, value, 0, u64::MAX)?,
                other => return Err(format!("unknown key '{other}'; the keys are clusters, threshold, weight, exponent, seed")),
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

    /// MIG's graph of `labels` unit embeddings (row-major, `dims` wide):
    /// similarities below `threshold` dropped, the rest off the diagonal
    /// times `weight`, every column normalised to sum 1.
    pub fn from_embeddings(embeddings: &[f32], dims: usize, threshold: f64, weight: f64) -> Self {
        let labels = if dims == 0 { 0 } else { embeddings.len() / dims };
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
            for a in 0..labels {
                dense[a * labels + b] /= total;
            }
        }
        let rows: Vec<Vec<(usize, f64)>> =
            (0..labels).map(|a| (0..labels).filter(|&b| dense[a * labels + b] != 0.0).map(|b| (b, dense[a * labels + b])).collect()).collect();
        let mut columns = vec![Vec::new(); labels];
        for (a, row) in rows.iter().enumerate() {
            for &(b, _) in row {
                columns[b].push(a);
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

/// MIG's greedy over each label's candidates (`qualities[l]`, best first;
/// `complete[l]` whether they are all of the label's rows): up to `budget`
/// picks as (label, index in its list, gain). Stops early when no candidate
/// has a positive gain.
pub fn mig_greedy(graph: &LabelGraph, qualities: &[Vec<f64>], complete: &[bool], budget: usize, exponent: f64) -> Result<Vec<(usize, usize, f64)>, NeedMore> {
    let labels = graph.labels();
    let derivative = |x: f64| exponent * (x + 1e-6).powf(exponent - 1.0);
    let mut x = vec![0.0f64; labels];
    let slope = |l: usize, x: &[f64]| graph.rows[l].iter().map(|&(b, p)| p * derivative(x[b])).sum::<f64>();
    let mut g: Vec<f64> = (0..labels).map(|l| slope(l, &x)).collect();
    let mut next = vec![0usize; labels];
    let mut picks = Vec::with_capacity(budget);
    let mut short = Vec::new();
    while picks.len() < budget {
        let mut best: Option<(usize, f64)> = None;
        for l in 0..labels {
            let list = &qualities[l];
            let gain = match list.get(next[l]) {
                Some(&q) => q * g[l],
                None => continue,
            };
            if best.is_none_or(|(_, b)| gain > b) {
                best = Some((l, gain));
            }
        }
        // A label whose kept candidates ran out may hold a row that beats the
        // best: its next row's quality is at most its last kept one's.
        for l in 0..labels {
            if next[l] == qualities[l].len() && !complete[l] {
                let bound = qualities[l].last().copied().unwrap_or(f64::INFINITY) * g[l];
                if best.is_none_or(|(_, b)| bound >= b) && !short.contains(&l) {
                    short.push(l);
                }
            }
        }
        if !short.is_empty() {
            return Err(NeedMore(short));
        }
        let Some((l, gain)) = best.filter(|&(_, gain)| gain > 0.0) else { break };
        let q = qualities[l][next[l]];
        picks.push((l, next[l], gain));
        next[l] += 1;
        for &(b, p) in &graph.rows[l] {
            x[b] += q * p;
        }
        for &(b, _) in &graph.rows[l] {
            for &a in &graph.columns[b] {
                g[a] = slope(a, &x);
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
         diagonal times `weight`, each column normalised to sum 1), with φ(x) = x^exponent (so φ′(x) = \
         exponent · (x + 1e-6)^(exponent − 1), MIG's default 0.8 · (x + 1e-6)^(−0.2)). As the authors' code does, \
         each step picks the row of largest linearised gain quality_i · (P[label_i] · φ′(x)) and adds it to x; \
         ties go to the lower label, within a label to the higher quality, then the smaller id. \
         Within a label the gain is proportional to the quality, so only each label's best rows can be picked: \
         the candidate pass keeps a bounded list per label and is run again with longer lists when the greedy \
         could need more.\n\n\
         `label_column` is an embedding column (the labels are then its spherical k-means clusters, `clusters` \
         of them, and the graph comes from their centroids) or an integer column of labels 0 to L − 1 (then the \
         labels have no embeddings and the graph is the identity). The quality must be positive: rows whose \
         quality is NULL, NaN, infinite, zero or negative add no information and are never selected (shift a \
         signed score first, e.g. exp(score)). Returns the table's columns plus `odis_dim` (the label), \
         `odis_rank` (the pick's order within its label) and `odis_score` (its gain).\n\n\
         `spec`: clusters (default 256), threshold (default 0.9), weight (default 1), exponent (default 0.8), \
         seed (of the k-means, default 1).",
    syntax_example = "mig_select('table', 'id_column', 'label_column', 'quality_column', budget [, 'clusters=256,threshold=0.9,weight=1,exponent=0.8,seed=1'])",
    sql_example = "```sql\n> SELECT * FROM mig_select('docs', 'id', 'embedding', 'quality', 5000, 'clusters=512');\n```",
    argument(name = "table, id_column, budget", description = "As for top_k_per_dim."),
    argument(name = "label_column", description = "Name of an embedding column (labels: its k-means clusters) or of an integer column of labels."),
    argument(name = "quality_column", description = "Name of a numeric column of positive qualities."),
    argument(name = "spec", description = "Optional settings, e.g. 'clusters=256,threshold=0.9,weight=1,exponent=0.8,seed=1'."),
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
                    Some(m) => LabelGraph::from_embeddings(&m.centroids, m.dims, self.spec.threshold, self.spec.weight),
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
        let mut capacities = vec![Capacity::Rows((2 * budget / labels.max(1) + 256).min(budget) as u64); labels];
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
        let spec = MigSpec::parse("clusters=8,threshold=0.5,weight=2,exponent=0.5,seed=3").unwrap();
        assert_eq!(MigSpec::parse(&spec.to_string()), Ok(spec));
        assert!(MigSpec::parse("exponent=0").unwrap_err().contains("(0, 1]"));
        assert!(MigSpec::parse("threshold=2").unwrap_err().contains("[-1, 1]"));
        assert!(MigSpec::parse("k=3").unwrap_err().contains("unknown key 'k'"));
    }

    #[test]
    fn the_graph_drops_weak_links_and_normalises_columns() {
        // Labels 0 and 1 at 0.95, label 2 far from both.
        let c = [1.0f32, 0.0, 0.95, (1.0f32 - 0.95 * 0.95).sqrt(), 0.0, 1.0];
        let graph = LabelGraph::from_embeddings(&c, 2, 0.9, 1.0);
        let p = |a: usize, b: usize| graph.rows[a].iter().find(|e| e.0 == b).map_or(0.0, |e| e.1);
        assert!((p(0, 0) - 1.0 / 1.95).abs() < 1e-6);
        assert!((p(1, 0) - 0.95 / 1.95).abs() < 1e-6);
        assert_eq!(p(2, 0), 0.0);
        assert_eq!(p(2, 2), 1.0);
        assert_eq!(graph.columns[0], [0, 1]);
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
