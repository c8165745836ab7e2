//! `minhash_band(signature, band [, spec])`: the key of one band of a
//! MinHash signature, so that candidate pairs can be grouped one band at a
//! time (`near_duplicates` does, to hold one band's keys in memory at once).

use std::sync::Arc;

use datafusion::arrow::array::UInt64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::dedup::minhash::{MinHashSpec, band_key};
use crate::dedup::{Signatures, is_signature_type, spec_argument};
use crate::literals::scalar_integer;

const NAME: &str = "minhash_band";

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "The key of one band of a MinHash signature (from `text_minhash` with the same spec): \
         `minhash_band(s, b, spec)` equals `minhash_bands(s, spec)[b]`, computed alone. Grouping by one band at \
         a time holds a single band's keys in memory instead of all of them. NULL gives NULL.",
    syntax_example = "minhash_band(signature, band [, spec])",
    sql_example = "```sql\n> SELECT key, count(*) FROM (SELECT minhash_band(sig, 1) AS key FROM signatures) GROUP BY key HAVING count(*) > 1;\n```",
    argument(name = "signature", description = "A column of text_minhash signatures."),
    argument(name = "band", description = "Integer literal, the band's number, from 1 to the spec's `bands`."),
    argument(name = "spec", description = "Optional string literal, the spec the signatures were made with (its bands and rows matter)."),
    related_udf(name = "minhash_bands"),
    related_udf(name = "text_minhash"),
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinhashBandFunc {
    signature: Signature,
}

impl Default for MinhashBandFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(2), TypeSignature::Any(3)], Volatility::Immutable) }
    }
}

/// The spec and the band (from 0) the literal arguments name.
fn settings(spec: Option<&ScalarValue>, band: Option<&ScalarValue>, spec_given: bool) -> Result<(MinHashSpec, usize)> {
    let spec = if spec_given { spec_argument(NAME, spec)? } else { MinHashSpec::default() };
    let number = band.and_then(scalar_integer);
    match number {
        Some(n) if n >= 1 && n <= spec.bands as i64 => Ok((spec, n as usize - 1)),
        _ => Err(DataFusionError::Plan(format!(
            "{NAME}: `band` must be an integer literal from 1 to the spec's bands ({}), got {}; e.g. {NAME}(signature, 1)",
            spec.bands,
            band.map_or("a column".to_string(), |v| v.to_string())
        ))),
    }
}

impl ScalarUDFImpl for MinhashBandFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let input = args.arg_fields[0].data_type();
        if !is_signature_type(input) && *input != DataType::Null {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `signature` must be a list of unsigned integers from text_minhash, got {input}; e.g. \
                 {NAME}(text_minhash(text), 1)"
            )));
        }
        let spec = args.scalar_arguments.get(2).copied().flatten();
        settings(spec, args.scalar_arguments[1], args.arg_fields.len() == 3)?;
        Ok(Arc::new(Field::new(NAME, DataType::UInt64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = |i: usize| match args.args.get(i) {
            Some(ColumnarValue::Scalar(value)) => Some(value),
            _ => None,
        };
        let (spec, band) = settings(scalar(2), scalar(1), args.args.len() == 3)?;
        let input = args.args[0].to_array(args.number_rows)?;
        if *input.data_type() == DataType::Null {
            return Ok(ColumnarValue::Array(Arc::new(UInt64Array::new_null(args.number_rows))));
        }
        // Only the band's values are decoded.
        let values = Signatures::read_part(NAME, &input, &spec, band * spec.rows..(band + 1) * spec.rows)?;
        let keys: UInt64Array = (0..values.len()).map(|i| values.get(i).map(|v| band_key(v, band))).collect();
        Ok(ColumnarValue::Array(Arc::new(keys)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn minhash_band_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(MinhashBandFunc::default()))
}
