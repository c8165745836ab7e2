//! The candidate pairs of one MinHash band, as a plan node: the rows of each
//! band key in id order, each paired with the key's first rows and the rows
//! just before it. A task holds a few ids of the key it is in, whatever the
//! key's size, and streams the pairs out; `near_duplicates` checks their
//! similarity afterwards, once for a pair that several bands propose.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::array::{Array, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::col as physical_col;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::plan::id_keys::{IdCodec, IdKey, IdKeys};
use crate::plan::remote::by_key_sorted;
use crate::plan::sorted_join::ASCENDING;

/// The input columns: the band key (UInt64) and the id.
pub const KEY: &str = "odis_key";
pub const ID: &str = "odis_id";

/// Which earlier rows of its band key, in id order, a row is paired with:
/// the key's first `firsts` rows and the `neighbours` rows before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reach {
    pub firsts: usize,
    pub neighbours: usize,
}

impl Reach {
    /// odis's own: the pairs are checked afterwards, and a crowded key's
    /// rows meet its first ones as well as their neighbours.
    pub const CHECKED: Reach = Reach { firsts: 2, neighbours: 6 };
    /// datatrove's: each row with the one before it, unchecked, so a key's
    /// rows form a chain.
    pub const CHAIN: Reach = Reach { firsts: 0, neighbours: 1 };
}

/// Integer ids' sort column: (key, id) as one 128-bit integer.
pub const ORDER: &str = "odis_order";

/// `input` (the columns above) hash-partitioned by key and sorted by (key,
/// id) into the candidate pairs of every key's rows: `odis_high`,
/// `odis_low` (equal for one id held twice, for the caller to refuse).
///
/// Integer ids are sorted by [`ORDER`], which [`BandOrderExec`] adds: a
/// sort by two columns compares rows in Arrow's row format, and merging the
/// sorted batches that way took a third of the bands' time; one primitive
/// column is compared as a number.
pub fn band_pairs_plan(input: Arc<dyn ExecutionPlan>, partitions: usize, reach: Reach) -> Result<Arc<dyn ExecutionPlan>> {
    let input: Arc<dyn ExecutionPlan> =
        if input.schema().field_with_name(ID)?.data_type().is_integer() { Arc::new(BandOrderExec::try_new(input)?) } else { input };
    let schema = input.schema();
    let ordering = key_ordering(&schema)?;
    by_key_sorted(input, physical_col(KEY, &schema)?, ordering, partitions, |sorted| Ok(Arc::new(BandPairsExec::try_new(sorted, reach)?)))
}

/// (key, id) ascending, or [`ORDER`] where the input has it.
fn key_ordering(schema: &Schema) -> Result<LexOrdering> {
    let columns: &[&str] = if schema.index_of(ORDER).is_ok() { &[ORDER] } else { &[KEY, ID] };
    let columns = columns.iter().map(|c| physical_col(c, schema).map(|e| PhysicalSortExpr::new(e, ASCENDING)));
    Ok(LexOrdering::new(columns.collect::<Result<Vec<_>>>()?).expect("non-empty ordering"))
}

/// (key, id) for integer ids as one `i128`, in the same order: the key
/// (unsigned) in the high 64 bits, the id shifted to unsigned in the low 64.
/// Arrow's 128-bit integer is Decimal128, which sorts and merges as `i128`;
/// the values need not fit its 38 digits, as they are only compared.
fn order_of(key: u64, id: i128, unsigned_ids: bool) -> i128 {
    let high = (key ^ (1 << 63)) as i64 as i128;
    let low = if unsigned_ids { id as u64 } else { (id as i64 as u64) ^ (1 << 63) };
    (high << 64) | low as i128
}

/// Adds [`ORDER`] to rows of a band key and an integer id; NULL where the
/// key is (such rows pair with none).
#[derive(Debug)]
pub struct BandOrderExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl BandOrderExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let input_schema = input.schema();
        let mut fields: Vec<Field> = input_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(ORDER, DataType::Decimal128(38, 0), true));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::new(Schema::new(fields))),
            Partitioning::UnknownPartitioning(input.properties().output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { input, properties })
    }
}

impl DisplayAs for BandOrderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "BandOrderExec: (key, id) as one sort column")
    }
}

impl ExecutionPlan for BandOrderExec {
    fn name(&self) -> &str {
        "BandOrderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(children.remove(0))?))
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let id_type = self.input.schema().field_with_name(ID)?.data_type().clone();
        let codec = IdCodec::new(&id_type)?;
        let unsigned = id_type.is_unsigned_integer();
        let out = Arc::clone(&schema);
        let stream = input.map(move |batch| {
            let batch = batch?;
            let keys = batch.column_by_name(KEY).ok_or_else(|| missing(KEY))?.as_primitive::<UInt64Type>();
            let IdKeys::Int(ids) = codec.keys(batch.column_by_name(ID).ok_or_else(|| missing(ID))?)? else {
                return Err(DataFusionError::Internal("BandOrderExec: ids that are not integers".into()));
            };
            let order: Decimal128Array = keys
                .iter()
                .zip(ids)
                .map(|(key, id)| key.map(|key| order_of(key, id, unsigned)))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(38, 0)?;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(order));
            Ok(RecordBatch::try_new(Arc::clone(&out), columns)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The pairs of each band key's rows, per partition of its sorted input.
#[derive(Debug)]
pub struct BandPairsExec {
    input: Arc<dyn ExecutionPlan>,
    key: Arc<dyn PhysicalExpr>,
    ordering: LexOrdering,
    properties: Arc<PlanProperties>,
    pub reach: Reach,
}

impl BandPairsExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, reach: Reach) -> Result<Self> {
        let input_schema = input.schema();
        let id_type = input_schema.field_with_name(ID)?.data_type().clone();
        let (key, ordering) = (physical_col(KEY, &input_schema)?, key_ordering(&input_schema)?);
        let schema = Arc::new(Schema::new(vec![Field::new("odis_high", id_type.clone(), false), Field::new("odis_low", id_type, false)]));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(input.properties().output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { input, key, ordering, properties, reach })
    }
}

impl DisplayAs for BandPairsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "BandPairsExec: the first {} rows of a key and the {} before", self.reach.firsts, self.reach.neighbours)
    }
}

impl ExecutionPlan for BandPairsExec {
    fn name(&self) -> &str {
        "BandPairsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::KeyPartitioned(vec![Arc::clone(&self.key)])]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![Some(OrderingRequirements::new(LexRequirement::from(self.ordering.clone())))]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(children.remove(0), self.reach)?))
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let codec = IdCodec::new(self.input.schema().field_with_name(ID)?.data_type())?;
        let mut state = KeyRows::new(self.reach);
        let out = Arc::clone(&schema);
        let stream = input.map(move |batch| {
            let batch = batch?;
            let keys = batch.column_by_name(KEY).ok_or_else(|| missing(KEY))?.as_primitive::<UInt64Type>();
            let ids = codec.keys(batch.column_by_name(ID).ok_or_else(|| missing(ID))?)?;
            let (mut high, mut low) = (Vec::new(), Vec::new());
            for i in 0..batch.num_rows() {
                if keys.is_valid(i) {
                    state.push(keys.value(i), ids.key(i), &mut high, &mut low);
                }
            }
            Ok(RecordBatch::try_new(Arc::clone(&out), vec![codec.values(&high)?, codec.values(&low)?])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

fn missing(column: &str) -> DataFusionError {
    DataFusionError::Internal(format!("BandPairsExec: the input has no column {column}"))
}

/// The ids of the current key a row is paired with.
struct KeyRows {
    reach: Reach,
    key: Option<u64>,
    /// The key's first rows.
    firsts: Vec<IdKey>,
    /// The last `neighbours` rows after the first ones, newest last.
    before: VecDeque<IdKey>,
}

impl KeyRows {
    fn new(reach: Reach) -> Self {
        KeyRows { reach, key: None, firsts: Vec::new(), before: VecDeque::new() }
    }

    /// Pairs a row with the key's first rows and its predecessors, into
    /// (high, low), and keeps it for the rows after it.
    fn push(&mut self, key: u64, id: IdKey, high: &mut Vec<IdKey>, low: &mut Vec<IdKey>) {
        if self.key != Some(key) {
            self.key = Some(key);
            self.firsts.clear();
            self.before.clear();
        }
        for other in self.firsts.iter().chain(&self.before) {
            // Ids come sorted: the row's is the larger (or, held twice, equal).
            high.push(id.clone());
            low.push(other.clone());
        }
        if self.firsts.len() < self.reach.firsts {
            self.firsts.push(id);
        } else {
            if self.before.len() == self.reach.neighbours {
                self.before.pop_front();
            }
            self.before.push_back(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::ArrayRef;
    use datafusion::arrow::datatypes::Int64Type;

    fn pairs(rows: &[(u64, i64)]) -> Vec<(i64, i64)> {
        pairs_within(rows, Reach::CHECKED)
    }

    fn pairs_within(rows: &[(u64, i64)], reach: Reach) -> Vec<(i64, i64)> {
        let codec = IdCodec::new(&DataType::Int64).unwrap();
        let ids = codec.keys(&(Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as _)).unwrap();
        let mut state = KeyRows::new(reach);
        let (mut high, mut low) = (Vec::new(), Vec::new());
        for (i, (key, _)) in rows.iter().enumerate() {
            state.push(*key, ids.key(i), &mut high, &mut low);
        }
        let (high, low) = (codec.values(&high).unwrap(), codec.values(&low).unwrap());
        let (high, low) = (high.as_primitive::<Int64Type>(), low.as_primitive::<Int64Type>());
        (0..high.len()).map(|i| (high.value(i), low.value(i))).collect()
    }

    #[test]
    fn each_row_is_paired_with_the_first_rows_and_its_neighbours_of_its_key() {
        // Eleven rows of one key: row r meets rows 1, 2 and the six before
        // it, so rows up to 9 meet every earlier row and row 11 meets rows 1,
        // 2 and 5 to 10, not 3 and 4.
        let rows: Vec<(u64, i64)> = (1..=11).map(|id| (7, id)).collect();
        let found = pairs(&rows);
        let with_11: Vec<i64> = found.iter().filter(|p| p.0 == 11).map(|p| p.1).collect();
        assert_eq!(with_11, [1, 2, 5, 6, 7, 8, 9, 10]);
        assert_eq!(found.iter().filter(|p| p.0 == 9).count(), 8);
        // A new key starts afresh; a key of one row pairs nothing.
        assert_eq!(pairs(&[(1, 1), (2, 2), (2, 3), (3, 4)]), [(3, 2)]);
        // One id on two rows is a pair of equal ids, to be refused.
        assert_eq!(pairs(&[(1, 5), (1, 5)]), [(5, 5)]);
    }

    #[test]
    fn the_order_column_sorts_as_key_then_id() {
        let keys = [0, 1, 7, (1 << 63) - 1, 1 << 63, u64::MAX];
        let signed = [i64::MIN as i128, -1, 0, 1, i64::MAX as i128];
        let unsigned = [0, 1, (1i128 << 63) - 1, 1 << 63, u64::MAX as i128];
        for (ids, is_unsigned) in [(&signed, false), (&unsigned, true)] {
            let mut rows: Vec<(u64, i128)> = keys.iter().flat_map(|&k| ids.iter().map(move |&id| (k, id))).collect();
            rows.reverse();
            let mut by_order = rows.clone();
            by_order.sort_by_key(|&(k, id)| order_of(k, id, is_unsigned));
            rows.sort();
            assert_eq!(by_order, rows, "unsigned ids: {is_unsigned}");
        }
    }

    /// The whole plan over integer ids (sorted by the order column) and over
    /// the same ids as text (sorted by key and id): the same pairs, from
    /// several partitions of small batches.
    #[tokio::test]
    async fn integer_ids_pair_as_any_ids_do() {
        use datafusion::arrow::array::{StringArray, UInt64Array};
        use datafusion::datasource::memory::MemorySourceConfig;
        let rows: Vec<(u64, i64)> = (0..400).map(|i| ((i * 7919 % 13) as u64 * (u64::MAX / 12), 1000 + (i * 31 % 400))).collect();
        async fn run(rows: &[(u64, i64)], ids: ArrayRef, id_type: DataType) -> Vec<(String, String)> {
            let schema = Arc::new(Schema::new(vec![Field::new(KEY, DataType::UInt64, true), Field::new(ID, id_type, false)]));
            let keys: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![keys, ids]).unwrap();
            let parts: Vec<Vec<RecordBatch>> = (0..3).map(|p| (p * 133..(p * 133 + 133).min(400)).step_by(7).map(|s| batch.slice(s, 7.min(400 - s))).collect()).collect();
            let input = MemorySourceConfig::try_new_exec(&parts, schema, None).unwrap();
            let plan = band_pairs_plan(input, 4, Reach::CHECKED).unwrap();
            let ctx = datafusion::prelude::SessionContext::new();
            let batches = datafusion::physical_plan::collect(plan, ctx.task_ctx()).await.unwrap();
            let mut pairs = Vec::new();
            for b in batches {
                let as_text = |c: &ArrayRef| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap();
                let (high, low) = (as_text(b.column(0)), as_text(b.column(1)));
                pairs.extend((0..b.num_rows()).map(|i| (high.as_string::<i32>().value(i).to_string(), low.as_string::<i32>().value(i).to_string())));
            }
            pairs.sort();
            pairs
        }
        let ints: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(rows.iter().map(|r| r.1)));
        // Four-digit ids order as text as they do as numbers.
        let texts: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1.to_string())));
        let from_ints = run(&rows, ints, DataType::Int64).await;
        assert!(from_ints.len() > 400, "{} pairs", from_ints.len());
        assert_eq!(from_ints, run(&rows, texts, DataType::Utf8).await);
    }

    #[test]
    fn a_chain_pairs_each_row_with_the_one_before() {
        let rows = [(7, 1), (7, 2), (7, 3), (8, 4), (9, 5), (9, 6)];
        assert_eq!(pairs_within(&rows, Reach::CHAIN), [(2, 1), (3, 2), (6, 5)]);
    }
}
