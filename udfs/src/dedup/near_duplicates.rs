//! `near_duplicates(table, id_column, text_column [, spec])`: every row
//! that duplicates another, with its cluster's representative, by MinHash
//! LSH (see `dedup/minhash.rs`).
//!
//! Three steps, so that memory follows the duplicates, not the corpus:
//! 1. Plans over the table: each text's band keys (`minhash_bands` of
//!    `text_minhash`), counted per key (a grouped count that spills under
//!    the memory limit and shuffles on a cluster), and the rows of the keys
//!    that more than one row holds (a join that builds those few keys). Only
//!    (key, id) rows of candidates come back. Over stored signatures this
//!    runs one band at a time (`minhash_band`), so that a count holds one
//!    band's keys, not all of them.
//! 2. The candidates' signatures, by a join of the table with their ids (the
//!    small side is built), computed for those rows alone.
//! 3. Here: within each key's group, in id order, a row joins the first of
//!    up to 16 earlier rows of the group whose estimated Jaccard similarity
//!    to it reaches the threshold (union-find); clusters are the connected
//!    components, each represented by its smallest id.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::JoinType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{SessionContext, col, ident, lit};
use datafusion_macros::user_doc;
use futures::StreamExt;

use crate::docs::documented_table_function;
use crate::plan::client::{ClientJob, ClientTable, batch_stream};
use crate::dedup::minhash::{MinHashSpec, corrected_jaccard};
use crate::dedup::minhash_band::minhash_band_udf;
use crate::dedup::minhash_bands::minhash_bands_udf;
use crate::dedup::text_fingerprint::{WIDTH as FINGERPRINT_WIDTH, text_fingerprint_udf};
use crate::dedup::text_minhash::text_minhash_udf;
use crate::dedup::{Signatures, is_signature_type};
use crate::plan::id_keys::{IdCodec, IdKey};
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "near_duplicates";
const USAGE: &str = "near_duplicates('table', 'id_column', 'text_column' [, 'spec'])";

/// Earlier rows of a band group a row is compared with: bounds the work on
/// a group of many copies (a boilerplate page held by thousands of rows)
/// while every row of such a group still finds a representative.
const REPRESENTATIVES_PER_GROUP: usize = 16;

fn plan_err(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

fn exec_err(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

/// How duplicates are found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Equal `text_fingerprint`s: the same text but for case, spacing and
    /// Unicode composition.
    Exact,
    MinHash(MinHashSpec),
}

impl Mode {
    fn parse(spec: &str) -> Result<Self> {
        if spec.trim() == "exact" {
            return Ok(Mode::Exact);
        }
        MinHashSpec::parse(spec).map(Mode::MinHash).map_err(|e| plan_err(format!("{NAME}: `spec` '{spec}': {e}")))
    }
}

/// The resolved arguments.
#[derive(Debug)]
struct Dedup {
    table_name: String,
    table: Arc<dyn TableProvider>,
    id: Column,
    text: Column,
    /// `text` holds signatures (or fingerprints), not texts.
    precomputed: bool,
    mode: Mode,
}

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "Finds near-duplicate texts by MinHash LSH and returns one row for every row of `table` that duplicates \
         another: `id`, `duplicate_of` (the smallest id of its cluster, which is kept) and `similarity` (the \
         estimated Jaccard similarity of the two texts' shingle sets). Rows of one cluster are linked, directly or \
         through others, by pairs that share a MinHash band and whose estimated similarity reaches the spec's \
         `threshold`; so `similarity` may be below the threshold for a row linked through another. Exact copies \
         (after case and spacing) are near duplicates with similarity 1. A NULL text is never a duplicate; empty \
         and word-less texts all share one signature, so they form one cluster. The same rows come back whatever \
         the partitioning, in (duplicate_of, id) order.\n\n\
         `text_column` holds the texts, or signatures from `text_minhash` with the same spec, as lists or packed by \
         `minhash_pack` (then no text is read, and band keys are counted one band at a time, which holds a band's keys \
         in memory instead of all of them: store signatures first for a large table). \
         `spec` is `text_minhash`'s (threshold=0.8, ngram=5, bands=14, rows=8, seed=1 by default: FineWeb's \
         setting), or 'exact' for exact duplicates only (equal `text_fingerprint`s; `text_column` may then hold \
         fingerprints). Ids must be non-NULL and orderable; an id on two rows of one cluster is an error.",
    syntax_example = "near_duplicates('table', 'id_column', 'text_column' [, 'spec'])",
    sql_example = "```sql\n> SELECT * FROM near_duplicates('corpus', 'id', 'text');\n\
         > SELECT c.* FROM corpus c WHERE c.id NOT IN (SELECT id FROM near_duplicates('corpus', 'id', 'text', 'threshold=0.7'));\n```",
    argument(name = "table", description = "Name of a registered table or view, quoted: 'corpus'."),
    argument(name = "id_column", description = "Name of a column of unique, non-NULL, orderable ids."),
    argument(name = "text_column", description = "Name of the text column, or of a column of text_minhash signatures made with `spec`."),
    argument(name = "spec", description = "Optional MinHash spec, e.g. 'threshold=0.8,ngram=5,bands=14,rows=8,seed=1'."),
    related_udf(name = "text_minhash"),
    related_udf(name = "minhash_bands"),
)]
#[derive(Debug, Default)]
pub struct NearDuplicatesFunc;

impl TableFunctionImpl for NearDuplicatesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[3, 4])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let text = args.column(2, "text_column", &table_name, &schema)?;
        let mode = if args.len() == 4 { Mode::parse(&args.string(3, "spec", "'threshold=0.8,ngram=5'")?)? } else { Mode::MinHash(MinHashSpec::default()) };
        let text_type = text.field.data_type();
        let precomputed = match mode {
            Mode::Exact => *text_type == DataType::FixedSizeBinary(FINGERPRINT_WIDTH),
            Mode::MinHash(_) => is_signature_type(text_type),
        };
        if !precomputed && !matches!(text_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            let kind = match mode {
                Mode::Exact => "text_fingerprint fingerprints",
                Mode::MinHash(_) => "text_minhash signatures",
            };
            return Err(plan_err(format!(
                "{NAME}: text column '{}' holds {text_type}, neither text nor {kind}; name the documents' text column",
                text.field.name()
            )));
        }
        if let (Mode::MinHash(spec), true) = (mode, precomputed) {
            check_signature_width(text.field.name(), text_type, &spec)?;
        }
        Ok(Arc::new(ClientTable(Arc::new(Dedup { table_name, table, id, text, precomputed, mode }))))
    }
}

documented_table_function!(NearDuplicatesFunc, NAME);

/// A stored signature column whose type fixes its width must fit the spec:
/// said here, at planning, rather than by the first batch read.
fn check_signature_width(column: &str, data_type: &DataType, spec: &MinHashSpec) -> Result<()> {
    let (found, expected, unit) = match data_type {
        DataType::FixedSizeBinary(n) => (*n as usize, spec.packed_bytes(), "bytes"),
        DataType::FixedSizeList(_, n) => (*n as usize, spec.hashes(), "values"),
        _ => return Ok(()),
    };
    if found == expected {
        return Ok(());
    }
    Err(plan_err(format!(
        "{NAME}: column '{column}' holds signatures of {found} {unit}, the spec ({spec}) asks for {expected}; give the spec \
         the signatures were made with (its bands, rows and bits)"
    )))
}

fn output_schema(id_type: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", id_type.clone(), false),
        Field::new("duplicate_of", id_type.clone(), false),
        Field::new("similarity", DataType::Float64, false),
    ]))
}

#[async_trait]
impl ClientJob for Dedup {
    fn function(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> String {
        let spec = match self.mode {
            Mode::Exact => "exact".to_string(),
            Mode::MinHash(spec) => spec.to_string(),
        };
        format!("table={}, id={}, text={}, spec={spec}", self.table_name, self.id.field.name(), self.text.field.name())
    }

    fn schema(&self) -> SchemaRef {
        output_schema(self.id.field.data_type())
    }

    /// The three steps; their plans run wherever the session runs plans:
    /// here, or on its cluster.
    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        batch_stream(self.clusters(state, &self.schema()).await?, &projection)
    }
}

/// A round's grouping key: one key per row, or a list of keys to unnest.
enum Key {
    One(Expr),
    Each(Expr),
}

/// Union-find over dense indices, the smaller id winning a union so that a
/// root is its cluster's smallest id.
struct Clusters {
    parent: Vec<usize>,
}

impl Clusters {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Indices are in id order: the smaller index is the smaller id.
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            let (low, high) = if a < b { (a, b) } else { (b, a) };
            self.parent[high] = low;
        }
    }
}

impl Dedup {
    /// What rows are compared by: the signature (or the fingerprint).
    fn signature_expr(&self) -> Expr {
        let column = ident(self.text.field.name());
        match self.mode {
            _ if self.precomputed => column,
            Mode::Exact => text_fingerprint_udf().call(vec![column]),
            Mode::MinHash(spec) => text_minhash_udf().call(vec![column, lit(spec.to_string())]),
        }
    }

    /// The keys rows are grouped by, in rounds, each a grouped count of its
    /// own: a fingerprint; over stored signatures, one band per round, so
    /// that a round's count holds one band's keys (a fourteenth of them by
    /// default), each round reading the signatures again, which is cheap;
    /// over texts, all bands in one round (a list to unnest), as each round
    /// would compute every signature again.
    fn key_rounds(&self) -> Vec<Key> {
        match self.mode {
            Mode::Exact => vec![Key::One(self.signature_expr())],
            Mode::MinHash(spec) if self.precomputed => (1..=spec.bands)
                .map(|band| Key::One(minhash_band_udf().call(vec![self.signature_expr(), lit(band as i64), lit(spec.to_string())])))
                .collect(),
            Mode::MinHash(spec) => vec![Key::Each(minhash_bands_udf().call(vec![self.signature_expr(), lit(spec.to_string())]))],
        }
    }

    async fn clusters(&self, mut state: SessionState, schema: &SchemaRef) -> Result<RecordBatch> {
        // Both joins below put the small side (shared keys, candidates' ids)
        // on the left for the hash join to build. Left to its estimates,
        // DataFusion would build on the whole table instead: a filtered
        // view's row count is a guess, and on 2M rows of signatures it
        // guessed wrong, holding 300 MB more.
        state.config_mut().options_mut().optimizer.join_reordering = false;
        let ctx = SessionContext::new_with_state(state);
        let codec = IdCodec::new(self.id.field.data_type())?;
        let (id, text) = (ident(self.id.field.name()), ident(self.text.field.name()));
        let table = ctx.read_table(Arc::clone(&self.table))?;
        let null_ids = table.clone().filter(id.clone().is_null())?.count().await?;
        if null_ids > 0 {
            return Err(exec_err(format!(
                "{NAME}: id column '{}' is NULL in {null_ids} rows of '{}'; every row needs a unique, non-NULL id",
                self.id.field.name(),
                self.table_name
            )));
        }

        // 1. The keys more than one row holds (a grouped count: it spills
        // under the memory limit), then those keys' rows (a join that builds
        // the few keys), round by round. Each round computes its keys twice:
        // from stored signatures that is cheap; over texts it is two MinHash
        // passes, and a table of text_minhash signatures saves one.
        let mut candidates = Candidates::new(match self.mode {
            Mode::MinHash(spec) => SignatureStore::new(spec.hashes(), spec.bits),
            Mode::Exact => SignatureStore::default(),
        });
        let mut key_codec = None;
        for key in self.key_rounds() {
            let keyed = |table: datafusion::dataframe::DataFrame| -> Result<datafusion::dataframe::DataFrame> {
                let keyed = table.filter(text.clone().is_not_null())?;
                match &key {
                    Key::One(expr) => keyed.select(vec![id.clone().alias("odis_id"), expr.clone().alias("odis_key")]),
                    Key::Each(expr) => keyed
                        .select(vec![id.clone().alias("odis_id"), expr.clone().alias("odis_key")])?
                        .unnest_columns(&["odis_key"]),
                }
            };
            let shared = keyed(table.clone())?
                .aggregate(vec![col("odis_key")], vec![count_all().alias("odis_rows")])?
                .filter(col("odis_rows").gt(lit(1i64)))?
                .select(vec![col("odis_key").alias("odis_shared_key")])?;
            // The shared keys on the left: the side a hash join builds.
            let rows = shared
                .join_on(keyed(table.clone())?, JoinType::Inner, [col("odis_shared_key").eq(col("odis_key"))])?
                .select(vec![col("odis_key"), col("odis_id")])?;
            let mut stream = rows.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let key_codec = match &mut key_codec {
                    Some(codec) => codec,
                    None => key_codec.insert(IdCodec::new(batch.column(0).data_type())?),
                };
                let (keys, ids) = (key_codec.keys(batch.column(0))?, codec.keys(batch.column(1))?);
                for i in 0..batch.num_rows() {
                    candidates.add(keys.key(i), ids.key(i));
                }
            }
        }
        let groups = candidates.groups().map_err(|id| self.duplicate_id(&codec, &id))?;
        if candidates.members.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(schema)));
        }

        // 2. The candidates' signatures, by a join of their ids (built) with
        // the table, computed for those rows alone.
        if let Mode::MinHash(spec) = self.mode {
            let wanted = RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new("odis_wanted", self.id.field.data_type().clone(), false)])),
                vec![codec.values(&candidates.members)?],
            )?;
            let signatures = ctx
                .read_batch(wanted)?
                .join_on(table, JoinType::Inner, [col("odis_wanted").eq(id.clone())])?
                .select(vec![col("odis_wanted"), self.signature_expr().alias("odis_signature")])?;
            let mut stream = signatures.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let ids = codec.keys(batch.column(0))?;
                let read = Signatures::read(NAME, batch.column(1), &spec)?;
                for i in 0..batch.num_rows() {
                    let Some(signature) = read.get(i) else {
                        continue;
                    };
                    if spec.bits < 32 && signature.iter().any(|&v| v >> spec.bits != 0) {
                        return Err(exec_err(format!(
                            "{NAME}: column '{}' holds signature values wider than the spec's bits={}; give the \
                             signatures text_minhash made with the same spec ({spec})",
                            self.text.field.name(),
                            spec.bits
                        )));
                    }
                    candidates.set_signature(&ids.key(i), signature).map_err(|id| self.duplicate_id(&codec, &id))?;
                }
            }
        }
        let Candidates { members, signatures, signed, .. } = candidates;

        // 3. Clusters: the members of an exact group are one cluster; in a
        // MinHash group a row joins the first of up to 16 earlier rows whose
        // estimated similarity to it reaches the threshold.
        let mut clusters = Clusters { parent: (0..members.len()).collect() };
        for group in groups.iter() {
            match self.mode {
                Mode::Exact => group.windows(2).for_each(|w| clusters.union(w[0], w[1])),
                Mode::MinHash(spec) => {
                    let mut representatives: Vec<usize> = Vec::with_capacity(REPRESENTATIVES_PER_GROUP);
                    for &slot in group.iter().filter(|&&slot| signed[slot]) {
                        let close = representatives.iter().copied().find(|&r| signatures.similarity(r, slot, spec.bits) >= spec.threshold);
                        match close {
                            Some(r) => clusters.union(r, slot),
                            None if representatives.len() < REPRESENTATIVES_PER_GROUP => representatives.push(slot),
                            None => {}
                        }
                    }
                }
            }
        }
        let (mut dup, mut of, mut similarity) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows: Vec<(usize, usize)> = (0..members.len()).map(|i| (clusters.find(i), i)).filter(|(r, i)| r != i).collect();
        rows.sort_unstable();
        for (root, slot) in rows {
            dup.push(members[slot].clone());
            of.push(members[root].clone());
            similarity.push(match self.mode {
                Mode::Exact => 1.0,
                Mode::MinHash(spec) => signatures.similarity(slot, root, spec.bits),
            });
        }
        Ok(RecordBatch::try_new(
            Arc::clone(schema),
            vec![codec.values(&dup)?, codec.values(&of)?, Arc::new(Float64Array::from(similarity))],
        )?)
    }

    fn duplicate_id(&self, codec: &IdCodec, id: &IdKey) -> DataFusionError {
        exec_err(format!(
            "{NAME}: id {} appears in more than one row of '{}'; ids in column '{}' must be unique",
            codec.display(id),
            self.table_name,
            self.id.field.name()
        ))
    }
}

/// Each shared key's member slots, in key order, end to end: a vector per
/// key would be an allocation per key, and a corpus has millions of them.
struct Groups {
    slots: Vec<usize>,
    /// Where each key's slots end in `slots`.
    ends: Vec<usize>,
}

impl Groups {
    fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.ends.iter().scan(0, move |start, &end| {
            let group = &self.slots[*start..end];
            *start = end;
            Some(group)
        })
    }
}

/// The rows that share a band key (or a fingerprint) with another: each id
/// once, its (key, id) pairs, and (for MinHash) its signature.
struct Candidates {
    /// Ids in the order first seen; after [`Candidates::groups`], in id order.
    members: Vec<IdKey>,
    slots: HashMap<IdKey, usize>,
    pairs: Vec<(IdKey, usize)>,
    signatures: SignatureStore,
    /// Whether each member's signature has come.
    signed: Vec<bool>,
}

impl Candidates {
    fn new(signatures: SignatureStore) -> Self {
        Candidates { members: Vec::new(), slots: HashMap::new(), pairs: Vec::new(), signatures, signed: Vec::new() }
    }

    /// One (key, id) row.
    fn add(&mut self, key: IdKey, id: IdKey) {
        let slot = match self.slots.get(&id) {
            Some(&slot) => slot,
            None => {
                self.slots.insert(id.clone(), self.members.len());
                self.members.push(id);
                self.members.len() - 1
            }
        };
        self.pairs.push((key, slot));
    }

    /// Renumbers the members in id order (so that the smaller slot is the
    /// smaller id) and returns each key's slots, in order; an id twice in
    /// one key's group is held by two rows (`Err` names it).
    fn groups(&mut self) -> std::result::Result<Groups, IdKey> {
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_unstable_by(|&a, &b| self.members[a].cmp(&self.members[b]));
        let mut rank = vec![0; order.len()];
        for (r, &slot) in order.iter().enumerate() {
            rank[slot] = r;
        }
        self.members = order.iter().map(|&slot| self.members[slot].clone()).collect();
        self.slots = self.members.iter().cloned().zip(0..).collect();
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.iter_mut().for_each(|(_, slot)| *slot = rank[*slot]);
        pairs.sort_unstable();
        let mut groups = Groups { slots: Vec::with_capacity(pairs.len()), ends: Vec::new() };
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            if let Some(twice) = run.windows(2).find(|w| w[0].1 == w[1].1) {
                return Err(self.members[twice[0].1].clone());
            }
            groups.slots.extend(run.iter().map(|(_, slot)| *slot));
            groups.ends.push(groups.slots.len());
        }
        // The keys are done with: the signatures need the room.
        drop(pairs);
        self.signatures.reserve(self.members.len());
        self.signed = vec![false; self.members.len()];
        Ok(groups)
    }

    /// A member's signature (after [`Candidates::groups`]); a second one for
    /// one id means two rows hold it (`Err` names it).
    fn set_signature(&mut self, id: &IdKey, signature: &[u32]) -> std::result::Result<(), IdKey> {
        let slot = self.slots[id];
        if std::mem::replace(&mut self.signed[slot], true) {
            return Err(id.clone());
        }
        self.signatures.set(slot, signature);
        Ok(())
    }
}

/// Signatures of the candidates, packed: an 8-bit signature takes a byte a
/// value, not four.
#[derive(Default)]
struct SignatureStore {
    width: usize,
    /// Bytes a value: bits / 8.
    bytes: usize,
    data: Vec<u8>,
}

impl SignatureStore {
    fn new(width: usize, bits: u32) -> Self {
        SignatureStore { width, bytes: bits as usize / 8, data: Vec::new() }
    }

    /// Room for `members` signatures.
    fn reserve(&mut self, members: usize) {
        self.data = vec![0; members * self.width * self.bytes];
    }

    /// Stores a member's signature, whose values fit the store's bits
    /// (checked by the caller).
    fn set(&mut self, slot: usize, signature: &[u32]) {
        let size = self.width * self.bytes;
        let out = &mut self.data[slot * size..(slot + 1) * size];
        for (chunk, v) in out.chunks_exact_mut(self.bytes).zip(signature) {
            chunk.copy_from_slice(&v.to_le_bytes()[..self.bytes]);
        }
    }

    fn get(&self, slot: usize) -> &[u8] {
        let size = self.width * self.bytes;
        &self.data[slot * size..(slot + 1) * size]
    }

    /// The estimated Jaccard similarity of two stored signatures.
    fn similarity(&self, a: usize, b: usize, bits: u32) -> f64 {
        let (x, y) = (self.get(a), self.get(b));
        let equal = match self.bytes {
            1 => equal_values::<1>(x, y),
            2 => equal_values::<2>(x, y),
            _ => equal_values::<4>(x, y),
        };
        corrected_jaccard(equal, self.width, bits)
    }
}

/// How many `N`-byte values of `x` and `y` agree (as arrays, so that each
/// comparison is one integer compare, not a call).
fn equal_values<const N: usize>(x: &[u8], y: &[u8]) -> usize {
    let (x, y) = (x.as_chunks::<N>().0, y.as_chunks::<N>().0);
    x.iter().zip(y).filter(|(p, q)| p == q).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_the_smallest_index_as_root() {
        let mut c = Clusters { parent: (0..6).collect() };
        c.union(4, 2);
        c.union(5, 4);
        c.union(3, 1);
        c.union(3, 5);
        assert_eq!((0..6).map(|i| c.find(i)).collect::<Vec<_>>(), vec![0, 1, 1, 1, 1, 1]);
    }
}
