//! `text_minhash(text [, spec])`: a text's MinHash signature, for near
//! duplicates in SQL of one's own (see `dedup/minhash.rs`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, UInt8Array, UInt16Array, UInt32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::dedup::{spec_argument};
use crate::dedup::minhash::{MinHashSpec, MinHasher};
use crate::text::columns::{coerce_text_first, text_values};

const NAME: &str = "text_minhash";

/// The type of a value of a signature of `bits` bits.
pub(crate) fn value_type(bits: u32) -> DataType {
    match bits {
        8 => DataType::UInt8,
        16 => DataType::UInt16,
        _ => DataType::UInt32,
    }
}

fn signature_type(spec: &MinHashSpec) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new_list_field(value_type(spec.bits), false)), spec.hashes() as i32)
}

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "The MinHash signature of a text: `bands × rows` 32-bit values (a fixed-size list), each the minimum of one \
         seeded hash function over the text's shingles. A shingle is `ngram` consecutive words (UAX #29 words, \
         lowercased; punctuation and spacing do not count); a text of fewer words is one shingle of them all. The \
         share of equal values of two signatures (of one spec) estimates the Jaccard similarity of the two texts' \
         shingle sets; two texts whose `rows` values agree in some band are candidate near duplicates. NULL text \
         gives NULL.\n\n\
         `spec` (a string literal): comma-separated `KEY=VALUE` items, any subset of `threshold` (in (0, 1], \
         default 0.8: the estimated Jaccard at which two texts are duplicates; not used by the signature itself), \
         `ngram` (1 to 64, default 5), `bands` (default 14), `rows` (default 8; bands × rows ≤ 1024), `seed` \
         (default 1) and `bits` (32, 16 or 8: the bits kept of each value, default 32; at 8 a signature takes a \
         quarter of the space and the estimate is corrected for values that agree by chance, as in b-bit minwise \
         hashing). The defaults are FineWeb's deduplication setting (datatrove's MinhashConfig: 5-grams, 14 \
         buckets of 8 hashes): pairs at Jaccard 0.68 share a band half the time, pairs from 0.86 on more than 99% \
         of the time.\n\n\
         The word `datatrove` in the spec (e.g. 'datatrove' or 'datatrove,seed=7') gives datatrove 0.10's \
         signature instead (its MinhashDedupSignature): the text simplified as datatrove does (lowercase, numbers \
         as 0, no punctuation or accents), spaCy's English tokens, 5-token shingles hashed by xxHash64, its \
         hash functions (a·x + b mod 2^61 − 1, drawn by numpy from `seed`); each value the low 32 bits of its \
         minimum. A text of fewer than `ngram` tokens then has no signature (NULL), as in datatrove.",
    syntax_example = "text_minhash(text [, spec])",
    sql_example = "```sql\n> SELECT id, text_minhash(text) AS signature FROM corpus;\n\
         > SELECT id, text_minhash(text, 'ngram=3,bands=20,rows=5,seed=7') AS signature FROM corpus;\n```",
    argument(name = "text", description = "A string column."),
    argument(name = "spec", description = "Optional string literal, e.g. 'threshold=0.8,ngram=5,bands=14,rows=8,seed=1'."),
    related_udf(name = "text_fingerprint"),
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextMinhashFunc {
    signature: Signature,
}

impl Default for TextMinhashFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for TextMinhashFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text_first(NAME, arg_types, &[1, 2], "text_minhash(text [, spec])", "text_minhash(CAST(x AS VARCHAR))")
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(signature_type(&MinHashSpec::default()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // Checked while planning, so a typo fails before any data is read;
        // the spec also sets the signature's width.
        let spec = match args.scalar_arguments.get(1) {
            None => MinHashSpec::default(),
            Some(value) => spec_argument(NAME, *value)?,
        };
        Ok(Arc::new(Field::new(NAME, signature_type(&spec), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let spec = match args.args.get(1) {
            None => MinHashSpec::default(),
            Some(ColumnarValue::Scalar(value)) => spec_argument(NAME, Some(value))?,
            Some(ColumnarValue::Array(_)) => spec_argument(NAME, None)?,
        };
        let texts = args.args[0].to_array(args.number_rows)?;
        let values = text_values(&texts)?;
        let width = spec.hashes();
        let mut hasher = MinHasher::new(spec);
        let mut all = Vec::with_capacity(values.len() * width);
        let mut signature = Vec::with_capacity(width);
        let mut valid = Vec::with_capacity(values.len());
        for text in &values {
            let signed = match text {
                Some(text) => hasher.signature(text, &mut signature),
                None => false,
            };
            if signed {
                all.extend_from_slice(&signature);
            } else {
                // A NULL row's slots exist but are masked.
                all.extend(std::iter::repeat_n(0, width));
            }
            valid.push(signed);
        }
        let nulls = NullBuffer::from(valid);
        let values: ArrayRef = match spec.bits {
            8 => Arc::new(UInt8Array::from_iter_values(all.into_iter().map(|v| v as u8))),
            16 => Arc::new(UInt16Array::from_iter_values(all.into_iter().map(|v| v as u16))),
            _ => Arc::new(UInt32Array::from(all)),
        };
        let list = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(value_type(spec.bits), false)),
            width as i32,
            values,
            (nulls.null_count() > 0).then_some(nulls),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn text_minhash_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TextMinhashFunc::default()))
}
