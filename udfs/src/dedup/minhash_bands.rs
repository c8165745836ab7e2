//! `minhash_bands(signature [, spec])`: the band keys of a MinHash
//! signature, one per band: two texts are candidate near duplicates when
//! they share a key.

use std::sync::Arc;

use datafusion::arrow::array::{FixedSizeListArray, UInt64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::dedup::minhash::{MinHashSpec, band_keys};
use crate::dedup::{Signatures, is_signature_type, spec_argument};

const NAME: &str = "minhash_bands";

fn return_type(spec: &MinHashSpec) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::UInt64, false)), spec.bands as i32)
}

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "The band keys of a MinHash signature (from `text_minhash` with the same spec): one 64-bit key per band, \
         a hash of the band's `rows` values and its number. Two texts share a key when all the values of one band \
         agree: they are then candidate near duplicates, which `GROUP BY key` finds without comparing every pair. \
         NULL gives NULL.",
    syntax_example = "minhash_bands(signature [, spec])",
    sql_example = "```sql\n> SELECT key, array_agg(id) AS candidates FROM (\n    SELECT id, unnest(minhash_bands(text_minhash(text))) AS key FROM corpus\n  ) GROUP BY key HAVING count(*) > 1;\n```",
    argument(name = "signature", description = "A column of text_minhash signatures."),
    argument(name = "spec", description = "Optional string literal, the spec the signatures were made with (its bands and rows matter)."),
    related_udf(name = "text_minhash"),
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinhashBandsFunc {
    signature: Signature,
}

impl Default for MinhashBandsFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(1), TypeSignature::Any(2)], Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for MinhashBandsFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type(&MinHashSpec::default()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let input = args.arg_fields[0].data_type();
        if !is_signature_type(input) && *input != DataType::Null {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: `signature` must be a list of unsigned integers from text_minhash, got {input}; e.g. \
                 {NAME}(text_minhash(text))"
            )));
        }
        let spec = match args.scalar_arguments.get(1) {
            None => MinHashSpec::default(),
            Some(value) => spec_argument(NAME, *value)?,
        };
        Ok(Arc::new(Field::new(NAME, return_type(&spec), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let spec = match args.args.get(1) {
            None => MinHashSpec::default(),
            Some(ColumnarValue::Scalar(value)) => spec_argument(NAME, Some(value))?,
            Some(ColumnarValue::Array(_)) => spec_argument(NAME, None)?,
        };
        let input = args.args[0].to_array(args.number_rows)?;
        if *input.data_type() == DataType::Null {
            return Ok(ColumnarValue::Array(datafusion::arrow::array::new_null_array(&return_type(&spec), args.number_rows)));
        }
        let signatures = Signatures::read(NAME, &input, &spec)?;
        let mut keys = Vec::with_capacity(signatures.len() * spec.bands);
        let mut row = Vec::with_capacity(spec.bands);
        let mut valid = Vec::with_capacity(signatures.len());
        for i in 0..signatures.len() {
            match signatures.get(i) {
                Some(signature) => {
                    band_keys(signature, spec.rows, &mut row);
                    keys.extend_from_slice(&row);
                }
                None => keys.extend(std::iter::repeat_n(0, spec.bands)),
            }
            valid.push(signatures.get(i).is_some());
        }
        let nulls = NullBuffer::from(valid);
        let list = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(DataType::UInt64, false)),
            spec.bands as i32,
            Arc::new(UInt64Array::from(keys)),
            (nulls.null_count() > 0).then_some(nulls),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn minhash_bands_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(MinhashBandsFunc::default()))
}
