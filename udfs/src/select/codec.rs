//! How the selection's plan nodes travel to a cluster's executors:
//! [`CandidatesExec`] and [`MergeCandidatesExec`] (the candidate pass),
//! [`FetchExec`] (the fetch, with its picks), [`PerGroupExec`] (work
//! done cluster by cluster: SemDeDup, DPP), [`BandOrderExec`],
//! [`BandPairsExec`] and [`UnionBySizeExec`] (near_duplicates' sort
//! column and pairs of a band, and the root of each cluster under its
//! 'datatrove' spec).
//!
//! An encoding is `MAGIC`, the length of a JSON header (u32, little
//! endian), the header, then for a fetch its picks as an Arrow IPC stream
//! (ids of any type, compact, not as JSON).

use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use crate::clustering::per_group::{GroupSpec, PerGroupExec};
use crate::dedup::band_pairs::{BandOrderExec, BandPairsExec, Reach};
use crate::dedup::union_by_size::UnionBySizeExec;
use crate::select::candidates::{CandidateSpec, CandidatesExec, MergeCandidatesExec};
use crate::select::selection::Capacity;
use crate::select::fetch::{FetchExec, FetchPicks};

/// The nodes' headers as they travel.
#[derive(Debug, Serialize, Deserialize)]
enum Node {
    Candidates(CandidateSpec),
    Merge { capacities: Vec<Capacity> },
    /// The picks follow the header.
    Fetch { function: String, id_column: usize },
    PerGroup(GroupSpec),
    BandPairs(Reach),
    BandOrder,
    UnionBySize,
}

/// Marks odis's own node encodings among others in a composite codec.
const MAGIC: &[u8] = b"odis-selection:";

fn codec_err(message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("odis selection node: {message}"))
}

/// Encodes and decodes the selection's plan nodes for a cluster (compose it
/// with the cluster's own codec: [`SelectionCodec::owns`] and
/// [`SelectionCodec::encodes`] say which bytes and nodes are its).
#[derive(Debug, Default, Clone, Copy)]
pub struct SelectionCodec;

impl SelectionCodec {
    /// Whether `node` is one of the nodes this codec encodes.
    pub fn encodes(node: &dyn ExecutionPlan) -> bool {
        node.downcast_ref::<CandidatesExec>().is_some()
            || node.downcast_ref::<MergeCandidatesExec>().is_some()
            || node.downcast_ref::<FetchExec>().is_some()
            || node.downcast_ref::<PerGroupExec>().is_some()
            || node.downcast_ref::<BandPairsExec>().is_some()
            || node.downcast_ref::<BandOrderExec>().is_some()
            || node.downcast_ref::<UnionBySizeExec>().is_some()
    }

    /// Whether `buf` is an encoding of this codec.
    pub fn owns(buf: &[u8]) -> bool {
        buf.starts_with(MAGIC)
    }
}

impl PhysicalExtensionCodec for SelectionCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let body = buf.strip_prefix(MAGIC).ok_or_else(|| codec_err("not one"))?;
        let (length, body) = body.split_first_chunk::<4>().ok_or_else(|| codec_err("truncated"))?;
        let (header, rest) = body.split_at_checked(u32::from_le_bytes(*length) as usize).ok_or_else(|| codec_err("truncated"))?;
        let node: Node = serde_json::from_slice(header).map_err(codec_err)?;
        let [input] = inputs else {
            return Err(codec_err(format!("{} inputs", inputs.len())));
        };
        let input = Arc::clone(input);
        Ok(match node {
            Node::Candidates(spec) => Arc::new(CandidatesExec::try_new(input, spec)?),
            Node::Merge { capacities } => Arc::new(MergeCandidatesExec::new(input, capacities)),
            Node::PerGroup(spec) => Arc::new(PerGroupExec::try_new(input, spec)?),
            Node::BandPairs(reach) => Arc::new(BandPairsExec::try_new(input, reach)?),
            Node::BandOrder => Arc::new(BandOrderExec::try_new(input)?),
            Node::UnionBySize => Arc::new(UnionBySizeExec::try_new(input)?),
            Node::Fetch { function, id_column } => {
                let reader = StreamReader::try_new(Cursor::new(rest), None)?;
                let batches = reader.collect::<Result<Vec<_>, _>>()?;
                let [batch] = batches.as_slice() else {
                    return Err(codec_err(format!("the picks came as {} batches", batches.len())));
                };
                Arc::new(FetchExec::new(input, Arc::new(FetchPicks::from_parts(function, id_column, batch)?)))
            }
        })
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let mut picks = None;
        let header = if let Some(exec) = node.downcast_ref::<CandidatesExec>() {
            Node::Candidates(exec.spec.clone())
        } else if let Some(exec) = node.downcast_ref::<MergeCandidatesExec>() {
            Node::Merge { capacities: exec.capacities.clone() }
        } else if let Some(exec) = node.downcast_ref::<PerGroupExec>() {
            Node::PerGroup(exec.spec.clone())
        } else if let Some(exec) = node.downcast_ref::<BandPairsExec>() {
            Node::BandPairs(exec.reach)
        } else if node.downcast_ref::<BandOrderExec>().is_some() {
            Node::BandOrder
        } else if node.downcast_ref::<UnionBySizeExec>().is_some() {
            Node::UnionBySize
        } else if let Some(exec) = node.downcast_ref::<FetchExec>() {
            let (function, id_column, batch) = exec.picks.to_parts()?;
            picks = Some(batch);
            Node::Fetch { function, id_column }
        } else {
            return Err(codec_err(format!("{} is not one", node.name())));
        };
        let header = serde_json::to_vec(&header).map_err(codec_err)?;
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&u32::try_from(header.len()).map_err(codec_err)?.to_le_bytes());
        buf.extend_from_slice(&header);
        if let Some(batch) = picks {
            let mut writer = StreamWriter::try_new(buf, &batch.schema())?;
            writer.write(&batch)?;
            writer.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::prelude::SessionContext;

    use crate::plan::id_keys::IdCodec;
    use crate::select::selection::{Pick, RowAt};

    /// A fetch by id of string ids travels with its picks, and the decoded
    /// node finds the same rows.
    #[tokio::test]
    async fn a_fetch_round_trips_with_its_picks() {
        let ids: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d"]));
        let batch = RecordBatch::try_from_iter(vec![("id", ids.clone()), ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef)]).unwrap();
        let keys = IdCodec::new(ids.data_type()).unwrap().keys(&ids).unwrap();
        let picks = [(3, 0, 1, 0.5), (1, 1, 1, 0.25)]
            .map(|(i, dim, rank, score)| Pick { id: keys.key(i), dim, rank, score, at: RowAt { partition: 0, row: i as u64 }, cost: 0 })
            .to_vec();
        let scan = MemorySourceConfig::try_new_exec(&[vec![batch.clone()]], batch.schema(), None).unwrap();
        let plan: Arc<dyn ExecutionPlan> =
            Arc::new(FetchExec::new(scan, Arc::new(FetchPicks::new("top_k_per_dim", 0, ids.data_type(), picks, None))));
        let ctx = SessionContext::new();
        let bytes = datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(Arc::clone(&plan), &SelectionCodec).unwrap();
        let back = datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &SelectionCodec).unwrap();
        let run = |plan: Arc<dyn ExecutionPlan>| {
            let ctx = ctx.task_ctx();
            async move { datafusion::physical_plan::collect(plan, ctx).await.unwrap() }
        };
        let (a, b) = (run(plan).await, run(back).await);
        assert_eq!(a, b);
        let mut rows = Vec::new();
        for batch in &a {
            use datafusion::arrow::array::AsArray;
            use datafusion::arrow::datatypes::{Float64Type, Int32Type};
            for i in 0..batch.num_rows() {
                let id = batch.column(0).as_string::<i32>().value(i).to_string();
                rows.push((id, batch.column(2).as_primitive::<Int32Type>().value(i), batch.column(4).as_primitive::<Float64Type>().value(i)));
            }
        }
        rows.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(rows, vec![("b".to_string(), 1, 0.25), ("d".to_string(), 0, 0.5)]);
    }

    #[tokio::test]
    async fn candidate_nodes_round_trip() {
        use crate::select::candidates::candidate_plan;
        use crate::select::candidates::tests::{merged, scored, spec};
        let batch = scored(vec![1, 2, 3], vec![0.5, 0.25, 1.0]);
        let scan = MemorySourceConfig::try_new_exec(&[vec![batch.clone()]], batch.schema(), None).unwrap();
        let plan = candidate_plan(scan, spec(vec![2, 2])).unwrap();
        let ctx = SessionContext::new();
        let bytes = datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(Arc::clone(&plan), &SelectionCodec).unwrap();
        let back = datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &SelectionCodec).unwrap();
        assert_eq!(
            datafusion::physical_plan::displayable(back.as_ref()).indent(true).to_string(),
            datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string()
        );
        assert_eq!(merged(back, vec![2, 2]).await, merged(plan, vec![2, 2]).await);
    }
}
