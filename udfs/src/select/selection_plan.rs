//! Running a selection over a table: the candidate pass (ids and scores
//! only, into bounded heaps), the draft, and the pass that fetches the full
//! rows of the selected ids. Used by `top_k_per_dim`, its report, and the
//! baselines.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Float64Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Column as ColumnExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};
use futures::{StreamExt, TryStreamExt};

use crate::plan::budget::Budget;
use crate::plan::client::{ClientExec, ClientJob, ClientTable, batch_stream};
use crate::plan::id_keys::{IdCodec, IdKey};
use crate::plan::remote::{self, run, session_state};
use crate::plan::table_args::Column;
use crate::select::candidates::{self, CandidateSpec};
use crate::select::fetch::{FetchExec, FetchPicks, fetch_schema};
pub use crate::select::selection::Method;
use crate::select::selection::{Capacity, DimensionCandidates, DimensionReport, DraftError, Pick, TopHeap, draft, quotas, report};
use crate::vectors::Vectors;

/// A selection to run: the resolved arguments of a selection function.
#[derive(Debug)]
pub struct Selection {
    pub function: &'static str,
    pub table_name: String,
    pub table: Arc<dyn TableProvider>,
    pub id: Column,
    pub scores: Option<Column>,
    /// What each row costs (tokens, bytes): the budget is then spent in that
    /// unit; without it each row costs 1.
    pub cost: Option<Column>,
    pub budget: Budget,
    pub method: Method,
}

/// The outcome of the candidate pass and the draft.
pub struct Drafted {
    /// Rows, or with a cost column cost units.
    pub quotas: Vec<u64>,
    pub dims: Vec<DimensionCandidates<IdKey>>,
    pub picks: Vec<Pick<IdKey>>,
    pub codec: IdCodec,
    /// How many candidate passes the draft needed (1 unless overlap
    /// exhausted a heap).
    pub passes: usize,
    /// The candidate pass's scan: its partition count, and whether its rows
    /// come in the same order every time it is run (so the fetch may find a
    /// pick at the position the candidate pass read it from).
    pub scan: ScanShape,
}

/// What the fetch needs to know of the candidate pass's scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanShape {
    pub partitions: usize,
    pub stable_order: bool,
}

/// Whether every node of `plan` reads its rows in the same order whenever it
/// runs: file and memory scans, projections and filters over them. Anything
/// else (a repartition, a join, a custom node) may not.
fn stable_order(plan: &Arc<dyn ExecutionPlan>) -> bool {
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::datasource::physical_plan::FileScanConfig;
    use datafusion::datasource::source::DataSourceExec;
    let node_is_stable = if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        let data = source.data_source();
        data.downcast_ref::<FileScanConfig>().is_some() || data.downcast_ref::<MemorySourceConfig>().is_some()
    } else {
        matches!(plan.name(), "ProjectionExec" | "FilterExec" | "CoalesceBatchesExec" | "CooperativeExec")
    };
    node_is_stable && plan.children().into_iter().all(stable_order)
}

/// `plan` with its file scans reading each partition's files in plan order.
/// DataFusion otherwise lets sibling partitions take each other's files as
/// they free up, so a file's rows reach whichever partition was idle, and
/// two runs of one plan disagree on where a row was read.
fn in_fixed_order(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::datasource::source::DataSourceExec;
    plan.transform_up(|node| match node.downcast_ref::<DataSourceExec>().and_then(|_| node.with_preserve_order(true)) {
        Some(fixed) => Ok(Transformed::yes(fixed)),
        None => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

/// A scan of `projection` of the selection's table, in fixed order when its
/// order can be fixed (see [`stable_order`]), and whether it is.
async fn positional_scan(
    selection: &Selection,
    state: &SessionState,
    projection: &Vec<usize>,
) -> Result<(Arc<dyn ExecutionPlan>, bool)> {
    let plan = selection.table.scan(state, Some(projection), &[], None).await?;
    if stable_order(&plan) { Ok((in_fixed_order(plan)?, true)) } else { Ok((plan, false)) }
}

pub use crate::select::fetch::{DIM_COLUMN, RANK_COLUMN, SCORE_COLUMN};

fn exec_err(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

impl Selection {
    /// The input's columns, then odis_dim, odis_rank and odis_score.
    pub fn output_schema(&self) -> SchemaRef {
        fetch_schema(&self.table.schema())
    }

    /// Input columns `columns`, then odis_dim, odis_rank and odis_score.
    fn fetch_schema(&self, columns: &[usize]) -> Result<SchemaRef> {
        Ok(fetch_schema(&self.table.schema().project(columns)?))
    }

    fn narrow_projection(&self) -> Vec<usize> {
        let mut projection = vec![self.id.index];
        projection.extend(self.scores.as_ref().map(|s| s.index));
        projection.extend(self.cost.as_ref().map(|c| c.index));
        projection
    }

    /// Scans `projection` of the input, all partitions merged.
    async fn scan(&self, state: &SessionState, projection: Option<&Vec<usize>>) -> Result<SendableRecordBatchStream> {
        let plan = self.table.scan(state, projection, &[], None).await?;
        run(plan, state)
    }

    async fn row_count(&self, state: &SessionState) -> Result<u64> {
        let plan = self.table.scan(state, Some(&vec![self.id.index]), &[], None).await?;
        let statistics = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
        if let Precision::Exact(n) = statistics.num_rows {
            return Ok(n as u64);
        }
        let mut stream = run(plan, state)?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            rows += batch?.num_rows() as u64;
        }
        Ok(rows)
    }

    /// How many dimensions the scores have, before the candidate pass.
    async fn dimensions(&self, state: &SessionState) -> Result<usize> {
        let weights = match &self.method {
            Method::PerDimension { weights } => weights.as_ref(),
            Method::Stratified { quotas, .. } => return Ok(quotas.len()),
            _ => return Ok(1),
        };
        let scores = self.scores.as_ref().expect("per-dimension selection has scores");
        let declared = match scores.field.data_type() {
            DataType::FixedSizeList(_, n) => Some(*n as usize),
            _ => None,
        };
        let dims = match declared {
            Some(n) => Some(n),
            None => {
                // The length of the first non-NULL vector.
                let mut stream = self.scan(state, Some(&vec![scores.index])).await?;
                let mut found = None;
                while let (None, Some(batch)) = (found, stream.next().await) {
                    let batch = batch?;
                    let vectors = Vectors::try_new(batch.column(0))?;
                    found = (0..vectors.len()).find_map(|i| vectors.row(i).map(<[f64]>::len));
                }
                found.or(weights.map(Vec::len))
            }
        };
        let dims = dims.unwrap_or(1);
        if let Some(w) = weights.filter(|w| w.len() != dims) {
            return Err(exec_err(format!(
                "{}: `weights` has {} entries but the scores have {dims} dimensions; give one weight per dimension",
                self.function,
                w.len()
            )));
        }
        if dims == 0 {
            return Err(exec_err(format!("{}: the score vectors are empty", self.function)));
        }
        Ok(dims)
    }

    /// The candidate pass: every row's id and scores, into one bounded heap
    /// per dimension. One plan ([`candidates::candidate_plan`]) wherever it
    /// runs: each partition of the scan fills heaps of its own, merged at
    /// the end; a heap keeps the best by (score, id), so the merged heaps do
    /// not depend on how rows fell into partitions.
    pub(crate) async fn gather(&self, state: &SessionState, capacities: &[Capacity]) -> Result<(Vec<DimensionCandidates<IdKey>>, ScanShape)> {
        let projection = self.narrow_projection();
        let (scan, stable) = match remote::remote(state.config()) {
            // The fetch finds the picks by id on a cluster: its tasks' row
            // positions are not this process's to keep.
            Some(remote) => (remote.0.scan_input(self.table.scan(state, Some(&projection), &[], None).await?), false),
            None => positional_scan(self, state, &projection).await?,
        };
        let partitions = scan.properties().output_partitioning().partition_count();
        u32::try_from(partitions).map_err(|_| exec_err(format!("{}: too many partitions", self.function)))?;
        let spec = CandidateSpec {
            function: self.function.to_string(),
            id_name: self.id.field.name().clone(),
            method: self.method.clone(),
            capacities: capacities.to_vec(),
            costed: self.cost.is_some(),
        };
        let plan = candidates::candidate_plan(scan, spec)?;
        let codec = IdCodec::new(self.id.field.data_type())?;
        let mut merged: Vec<TopHeap<IdKey>> = capacities.iter().map(|&c| TopHeap::new(c)).collect();
        let mut stream = run(plan, state)?;
        while let Some(batch) = stream.next().await {
            candidates::merge_candidates(&batch?, &codec, &mut merged)?;
        }
        Ok((sorted_candidates(merged), ScanShape { partitions, stable_order: stable }))
    }

    /// The candidate pass and the draft; the pass is repeated with larger
    /// heaps when overlap between dimensions used up a heap, so the result
    /// is always exact. A session with [`DraftReuse`] switched on gets the
    /// last draft of the same selection again instead of a second pass.
    pub async fn draft(&self, state: &SessionState) -> Result<Arc<Drafted>> {
        let reuse = state.config().get_extension::<DraftReuse>().filter(|r| r.is_on());
        if let Some(drafted) = reuse.as_ref().and_then(|r| r.find(self)) {
            return Ok(drafted);
        }
        let drafted = Arc::new(self.draft_once(state).await?);
        if let Some(reuse) = reuse {
            reuse.remember(self, Arc::clone(&drafted));
        }
        Ok(drafted)
    }

    async fn draft_once(&self, state: &SessionState) -> Result<Drafted> {
        let codec = IdCodec::new(self.id.field.data_type())?;
        let dims = self.dimensions(state).await?;
        let by_cost = self.cost.is_some();
        let (budget, quotas) = match &self.method {
            // Groups are disjoint: each quota is met from its own group.
            Method::Stratified { quotas, .. } => (quotas.iter().sum(), quotas.clone()),
            method => {
                let budget = match self.budget {
                    Budget::Fraction(_) if by_cost => self.budget.resolve(self.total_cost(state).await?),
                    Budget::Fraction(_) => self.budget.resolve(self.row_count(state).await?),
                    budget => budget.resolve(0),
                };
                let weights = match method {
                    Method::PerDimension { weights: Some(w) } => w.clone(),
                    _ => vec![1.0; dims],
                };
                (budget, quotas(budget, &weights))
            }
        };
        // Room for rows that other dimensions take first; orthogonal
        // dimensions overlap little (ODiS reports < 2%).
        let mut capacities: Vec<Capacity> = match self.method {
            Method::PerDimension { .. } if by_cost => quotas.iter().map(|&q| Capacity::Cost(q + q / 4 + 1)).collect(),
            Method::PerDimension { .. } => quotas.iter().map(|&q| Capacity::Rows(q + q / 4 + 256)).collect(),
            Method::Stratified { .. } => quotas.iter().map(|&q| Capacity::Rows(q)).collect(),
            _ if by_cost => vec![Capacity::Cost(budget)],
            _ => vec![Capacity::Rows(budget)],
        };
        let mut passes = 0;
        loop {
            passes += 1;
            let (candidates, scan) = self.gather(state, &capacities).await?;
            match draft(budget, &quotas, &candidates, by_cost) {
                Ok(picks) => {
                    return Ok(Drafted {
                        quotas,
                        dims: candidates,
                        picks,
                        codec,
                        passes,
                        scan,
                    });
                }
                Err(DraftError::NeedMore(more)) => capacities = more.capacities,
                Err(DraftError::DuplicateId(id)) => return Err(duplicate_id(self, &codec, &id)),
            }
        }
    }

    /// The sum of the cost column over the table (a fractional budget of
    /// cost is a fraction of it): one read of that column.
    async fn total_cost(&self, state: &SessionState) -> Result<u64> {
        let cost = self.cost.as_ref().expect("a costed selection");
        let mut stream = self.scan(state, Some(&vec![cost.index])).await?;
        let mut total = 0u64;
        while let Some(batch) = stream.next().await {
            let values = datafusion::arrow::compute::cast(batch?.column(0), &DataType::Int64)?;
            let values = values.as_primitive::<Int64Type>();
            // Negative and NULL costs are reported by the candidate pass.
            total = values.iter().flatten().fold(total, |t, v| t.saturating_add(v.max(0) as u64));
        }
        Ok(total)
    }
}

/// The last draft of a session, kept while a caller says that the tables
/// it reads do not change (`odis select` turns it on for its run: its
/// selection and its report then draft once). Off by default: a user's
/// statements may read a table whose files changed in between.
#[derive(Default)]
pub struct DraftReuse {
    on: std::sync::atomic::AtomicBool,
    last: std::sync::Mutex<Option<(DraftKey, Arc<Drafted>)>>,
    reused: std::sync::atomic::AtomicU64,
}

/// Keeps a session's drafts while it lives (see [`DraftReuse::keep`]).
#[must_use = "drafts are kept only while the guard lives"]
pub struct KeepingDrafts(Arc<DraftReuse>);

impl Drop for KeepingDrafts {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl fmt::Debug for DraftReuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DraftReuse").field("on", &self.is_on()).finish_non_exhaustive()
    }
}

/// What makes two selections the same draft: the same table object (held,
/// so that its address is not reused), columns, budget and method.
struct DraftKey {
    table: Arc<dyn TableProvider>,
    id: usize,
    scores: Option<usize>,
    cost: Option<usize>,
    budget: Budget,
    method: Method,
}

impl DraftKey {
    fn of(selection: &Selection) -> Self {
        DraftKey {
            table: Arc::clone(&selection.table),
            id: selection.id.index,
            scores: selection.scores.as_ref().map(|s| s.index),
            cost: selection.cost.as_ref().map(|c| c.index),
            budget: selection.budget,
            method: selection.method.clone(),
        }
    }

    fn matches(&self, other: &DraftKey) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.table), Arc::as_ptr(&other.table))
            && (self.id, self.scores, self.cost, self.budget, &self.method) == (other.id, other.scores, other.cost, other.budget, &other.method)
    }
}

impl DraftReuse {
    /// Keeps drafts until the guard is dropped (however the caller's work
    /// ends, cancelled included), then forgets them.
    pub fn keep(self: Arc<Self>) -> KeepingDrafts {
        self.set(true);
        KeepingDrafts(self)
    }

    /// How many drafts were served again.
    pub fn reused(&self) -> u64 {
        self.reused.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn set(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::SeqCst);
        if !on {
            *self.last.lock().expect("not poisoned") = None;
        }
    }

    fn is_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn find(&self, selection: &Selection) -> Option<Arc<Drafted>> {
        let key = DraftKey::of(selection);
        let last = self.last.lock().expect("not poisoned");
        let found = last.as_ref().filter(|(k, _)| k.matches(&key)).map(|(_, d)| Arc::clone(d));
        if found.is_some() {
            self.reused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        found
    }

    fn remember(&self, selection: &Selection, drafted: Arc<Drafted>) {
        *self.last.lock().expect("not poisoned") = Some((DraftKey::of(selection), drafted));
    }
}

/// Merged heaps as the draft reads them.
fn sorted_candidates(heaps: Vec<TopHeap<IdKey>>) -> Vec<DimensionCandidates<IdKey>> {
    heaps
        .into_iter()
        .map(|heap| {
            let total = heap.seen();
            let (sorted, complete) = heap.into_sorted();
            DimensionCandidates { sorted, complete, total }
        })
        .collect()
}

fn duplicate_id(selection: &Selection, codec: &IdCodec, id: &IdKey) -> DataFusionError {
    exec_err(format!(
        "{}: id {} appears in more than one row of '{}'; ids in column '{}' must be unique",
        selection.function,
        codec.display(id),
        selection.table_name,
        selection.id.field.name()
    ))
}

/// The fetch of a selection's rows: its input columns `columns` plus
/// odis_dim, odis_rank and odis_score, in no particular order (a sort
/// follows). A job in the client: it drafts (or takes picks made
/// elsewhere), then runs the fetch plan here or on the cluster.
#[derive(Debug)]
struct FetchJob {
    selection: Arc<Selection>,
    /// Picks made elsewhere (by `dpp_select`'s greedy), fetched by id
    /// instead of drafted.
    picks: Option<Arc<Vec<Pick<IdKey>>>>,
    /// The input columns the fetch reads (ascending; the id among them).
    columns: Vec<usize>,
    schema: SchemaRef,
}

#[async_trait]
impl ClientJob for FetchJob {
    fn function(&self) -> &'static str {
        self.selection.function
    }

    fn describe(&self) -> String {
        let s = &self.selection;
        format!("table={}, id={}, budget={}, method={:?}", s.table_name, s.id.field.name(), s.budget, s.method)
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        let rows = select_rows(Arc::clone(&self.selection), self.picks.clone(), state, self.columns.clone(), Arc::clone(&self.schema)).await?;
        project_stream(rows, projection)
    }
}

/// `stream`'s columns `projection`.
fn project_stream(stream: SendableRecordBatchStream, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
    let schema = Arc::new(stream.schema().project(&projection)?);
    let batches = stream.map(move |batch| Ok(batch?.project(&projection)?));
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
}

/// The fetch: one plan (`FetchExec` over each partition of the scan) run
/// here or on the session's cluster; every pick must arrive once.
async fn select_rows(
    selection: Arc<Selection>,
    given: Option<Arc<Vec<Pick<IdKey>>>>,
    state: SessionState,
    columns: Vec<usize>,
    schema: SchemaRef,
) -> Result<SendableRecordBatchStream> {
    let (chosen, drafted_scan) = match given {
        Some(picks) => (picks, None),
        None => {
            let drafted = selection.draft(&state).await?;
            (Arc::new(drafted.picks.clone()), Some(drafted.scan))
        }
    };
    let (scan, stable) = match remote::remote(state.config()) {
        Some(remote) => (remote.0.scan_input(selection.table.scan(&state, Some(&columns), &[], None).await?), false),
        None => positional_scan(&selection, &state, &columns).await?,
    };
    let partitions = scan.properties().output_partitioning().partition_count();
    // Reading the rows where the candidate pass read them saves hashing
    // every id of the table: possible when both scans read the same
    // partitions in the same order.
    let by_position = drafted_scan.is_some_and(|shape| shape.stable_order && stable && shape.partitions == partitions);
    let id_column = columns
        .binary_search(&selection.id.index)
        .map_err(|_| DataFusionError::Internal("the fetch must read the id column".into()))?;
    let picks = FetchPicks::new(
        selection.function,
        id_column,
        selection.id.field.data_type(),
        chosen.as_ref().clone(),
        by_position.then_some(partitions),
    );
    let plan = Arc::new(CoalescePartitionsExec::new(Arc::new(FetchExec::new(scan, Arc::new(picks)))));
    // Pick number d, r sits at slot starts[d] + r - 1.
    let picks = chosen.as_ref();
    let dims = picks.iter().map(|p| p.dim + 1).max().unwrap_or(0);
    let mut starts = vec![0usize; dims + 1];
    for p in picks {
        starts[p.dim + 1] += 1;
    }
    for d in 0..dims {
        starts[d + 1] += starts[d];
    }
    let expected = picks.len();
    let found = Arc::new(std::sync::Mutex::new((vec![false; expected], 0usize)));
    let codec = IdCodec::new(selection.id.field.data_type())?;
    let (out, tally, function) = (Arc::clone(&schema), Arc::clone(&found), selection.function);
    let rows = run(plan, &state)?.map(move |batch| {
        let batch = batch?;
        let width = batch.num_columns() - 3;
        let dim = batch.column(width).as_primitive::<Int32Type>();
        let rank = batch.column(width + 1).as_primitive::<Int64Type>();
        let mut found = tally.lock().expect("not poisoned");
        let (flags, count) = &mut *found;
        for i in 0..batch.num_rows() {
            let slot = starts[dim.value(i) as usize] + rank.value(i) as usize - 1;
            if std::mem::replace(&mut flags[slot], true) {
                return Err(duplicate_id(&selection, &codec, &codec.keys(batch.column(id_column))?.key(i)));
            }
            *count += 1;
        }
        Ok(RecordBatch::try_new(Arc::clone(&out), batch.columns().to_vec())?)
    });
    // After the last batch, every selected id must have been seen once.
    let empty = RecordBatch::new_empty(Arc::clone(&schema));
    let check = futures::stream::once(async move {
        let seen = found.lock().expect("not poisoned").1;
        if seen != expected {
            return Err(exec_err(format!(
                "{function}: the table changed while it was being read ({seen} of {expected} selected rows found); run the query again"
            )));
        }
        Ok(empty)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        rows.chain(check).try_filter(|b| futures::future::ready(b.num_rows() > 0)),
    )))
}

/// A selection function's result as a table.
#[derive(Debug)]
pub struct SelectionTable {
    selection: Arc<Selection>,
    picks: Option<Arc<Vec<Pick<IdKey>>>>,
    schema: SchemaRef,
}

impl SelectionTable {
    pub fn new(selection: Selection) -> Self {
        let schema = selection.output_schema();
        Self {
            selection: Arc::new(selection),
            picks: None,
            schema,
        }
    }

    /// The rows of `picks`, made elsewhere, fetched from the selection's
    /// table by id.
    pub fn with_picks(selection: Selection, picks: Vec<Pick<IdKey>>) -> Self {
        Self { picks: Some(Arc::new(picks)), ..Self::new(selection) }
    }
}

#[async_trait]
impl TableProvider for SelectionTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The fetch reads only the input columns the query uses, and the id.
        let width = self.selection.table.schema().fields().len();
        let mut columns: Vec<usize> = match projection {
            Some(p) => p.iter().copied().filter(|&i| i < width).collect(),
            None => (0..width).collect(),
        };
        columns.push(self.selection.id.index);
        columns.sort_unstable();
        columns.dedup();
        let fetched = columns.len();
        let job = FetchJob {
            selection: Arc::clone(&self.selection),
            picks: self.picks.clone(),
            schema: self.selection.fetch_schema(&columns)?,
            columns: columns.clone(),
        };
        let all = (0..job.schema.fields().len()).collect();
        let exec = Arc::new(ClientExec::new(Arc::new(job), session_state(session)?, all)?);
        // Output column i of the table as a column of the exec.
        let exec_column = |i: usize| -> Arc<dyn PhysicalExpr> {
            let at = if i < width { columns.binary_search(&i).expect("fetched") } else { fetched + (i - width) };
            Arc::new(ColumnExpr::new(self.schema.field(i).name(), at))
        };
        // Output order: odis_dim, then odis_rank. DataFusion's sort spills to
        // disk under memory pressure, so large selections need not fit.
        let ordering = LexOrdering::new([
            PhysicalSortExpr::new_default(exec_column(width)),
            PhysicalSortExpr::new_default(exec_column(width + 1)),
        ])
        .expect("non-empty ordering");
        let sorted: Arc<dyn ExecutionPlan> = Arc::new(SortExec::new(ordering, exec));
        let output: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..width + 3).collect(),
        };
        if output.len() == fetched + 3 && output.iter().enumerate().all(|(at, &i)| at == i) {
            return Ok(sorted);
        }
        let exprs = output.iter().map(|&i| (exec_column(i), self.schema.field(i).name().clone())).collect::<Vec<_>>();
        Ok(Arc::new(ProjectionExec::try_new(exprs, sorted)?))
    }
}

/// The per-dimension report of a selection, as rows: the candidate pass
/// and the draft (or the last draft of the same selection), in the client.
#[derive(Debug)]
struct ReportJob(Arc<Selection>);

/// The per-dimension report of a selection, as a table.
pub fn report_table(selection: Selection) -> ClientTable {
    ClientTable(Arc::new(ReportJob(Arc::new(selection))))
}

pub fn report_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("dim", DataType::Int32, false),
        Field::new("quota", DataType::Int64, false),
        Field::new("selected", DataType::Int64, false),
        Field::new("threshold", DataType::Float64, true),
        Field::new("overlap", DataType::Int64, false),
        Field::new("overlap_ratio", DataType::Float64, true),
        Field::new("cost_quota", DataType::Int64, true),
        Field::new("selected_cost", DataType::Int64, true),
        Field::new("overlap_cost", DataType::Int64, true),
        Field::new("overlap_cost_ratio", DataType::Float64, true),
    ]))
}

fn report_batch(schema: &SchemaRef, lines: &[DimensionReport]) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(Int32Array::from_iter_values(lines.iter().map(|l| l.dim as i32))),
            Arc::new(Int64Array::from_iter_values(lines.iter().map(|l| l.quota as i64))),
            Arc::new(Int64Array::from_iter_values(lines.iter().map(|l| l.selected as i64))),
            Arc::new(Float64Array::from_iter(lines.iter().map(|l| l.threshold))),
            Arc::new(Int64Array::from_iter_values(lines.iter().map(|l| l.overlap as i64))),
            Arc::new(Float64Array::from_iter(lines.iter().map(|l| l.overlap_ratio))),
            Arc::new(Int64Array::from_iter(lines.iter().map(|l| l.cost.map(|c| c.quota as i64)))),
            Arc::new(Int64Array::from_iter(lines.iter().map(|l| l.cost.map(|c| c.selected as i64)))),
            Arc::new(Int64Array::from_iter(lines.iter().map(|l| l.cost.map(|c| c.overlap as i64)))),
            Arc::new(Float64Array::from_iter(lines.iter().map(|l| l.cost.and_then(|c| c.overlap_ratio)))),
        ],
    )?)
}

#[async_trait]
impl ClientJob for ReportJob {
    fn function(&self) -> &'static str {
        self.0.function
    }

    fn describe(&self) -> String {
        format!("table={}, budget={}", self.0.table_name, self.0.budget)
    }

    fn schema(&self) -> SchemaRef {
        report_schema()
    }

    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        let drafted = self.0.draft(&state).await?;
        let lines = report(&drafted.quotas, &drafted.dims, &drafted.picks, self.0.cost.is_some());
        batch_stream(report_batch(&report_schema(), &lines)?, &projection)
    }
}
