//! How plans travel between the client, the scheduler and the executors:
//! Ballista's own nodes (shuffles) through Ballista's codec, odis's
//! selection nodes through odis's.

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use odis_udfs::select::codec::SelectionCodec;

/// The physical extension codec of every odis process of a cluster.
#[derive(Debug, Default)]
pub struct OdisCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl OdisCodec {
    pub fn shared() -> Arc<dyn PhysicalExtensionCodec> {
        Arc::new(Self::default())
    }
}

impl PhysicalExtensionCodec for OdisCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if SelectionCodec::owns(buf) {
            SelectionCodec.try_decode(buf, inputs, ctx, proto_converter)
        } else {
            self.ballista.try_decode(buf, inputs, ctx, proto_converter)
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if SelectionCodec::encodes(node.as_ref()) {
            SelectionCodec.try_encode(node, buf, proto_converter)
        } else {
            self.ballista.try_encode(node, buf, proto_converter)
        }
    }
}
