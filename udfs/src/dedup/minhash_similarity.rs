//! `minhash_similarity(a, b [, spec])`: the estimated Jaccard similarity of
//! two texts from their MinHash signatures, the check `near_duplicates`
//! applies to every candidate pair.

use std::sync::Arc;

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;

use crate::dedup::minhash::{MinHashSpec, corrected_jaccard};
use crate::dedup::{Signatures, is_signature_type, spec_argument};

const NAME: &str = "minhash_similarity";

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "The estimated Jaccard similarity of the shingle sets of two texts, from their MinHash signatures \
         (`text_minhash` with the same spec, as lists or packed by `minhash_pack`): the share of values that agree, \
         corrected for the 2^-bits chance that two values agree by accident (b-bit minwise hashing), in [0, 1]. \
         The check `near_duplicates` applies to each candidate pair against the spec's threshold. NULL if either \
         is NULL.",
    syntax_example = "minhash_similarity(a, b [, spec])",
    sql_example = "```sql\n> SELECT minhash_similarity(text_minhash('the cat sat on the mat today'), text_minhash('the cat sat on the mat'));\n```",
    argument(name = "a, b", description = "Signatures made with `spec`."),
    argument(name = "spec", description = "Optional string literal, the spec the signatures were made with (its bands, rows and bits matter)."),
    related_udf(name = "near_duplicates"),
    related_udf(name = "text_minhash"),
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MinhashSimilarityFunc {
    signature: Signature,
}

impl Default for MinhashSimilarityFunc {
    fn default() -> Self {
        Self { signature: Signature::one_of(vec![TypeSignature::Any(2), TypeSignature::Any(3)], Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for MinhashSimilarityFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        for t in &arg_types[..2] {
            if !is_signature_type(t) && *t != DataType::Null {
                return Err(DataFusionError::Plan(format!(
                    "{NAME}: the signatures must be text_minhash signatures (lists of unsigned integers, or packed by \
                     minhash_pack), got {t}"
                )));
            }
        }
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let spec = match args.args.get(2) {
            Some(ColumnarValue::Scalar(value)) => spec_argument(NAME, Some(value))?,
            Some(ColumnarValue::Array(_)) => spec_argument(NAME, None)?,
            None => MinHashSpec::default(),
        };
        let (a, b) = (args.args[0].to_array(args.number_rows)?, args.args[1].to_array(args.number_rows)?);
        if *a.data_type() == DataType::Null || *b.data_type() == DataType::Null {
            return Ok(ColumnarValue::Array(Arc::new(Float64Array::new_null(args.number_rows))));
        }
        let (a, b) = (Signatures::read(NAME, &a, &spec)?, Signatures::read(NAME, &b, &spec)?);
        let similarity: Float64Array = (0..args.number_rows)
            .map(|i| match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => Some(corrected_jaccard(x.iter().zip(y).filter(|(p, q)| p == q).count(), x.len(), spec.bits)),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(similarity)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

pub fn minhash_similarity_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(MinhashSimilarityFunc::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn similar_texts_score_near_their_jaccard_and_packing_changes_nothing() {
        let ctx = SessionContext::new();
        crate::register(&ctx).unwrap();
        let sql = "SELECT minhash_similarity(text_minhash(a, 'bits=8'), text_minhash(b, 'bits=8'), 'bits=8') AS lists, \
                   minhash_similarity(minhash_pack(text_minhash(a, 'bits=8')), minhash_pack(text_minhash(b, 'bits=8')), 'bits=8') AS packed, \
                   minhash_similarity(text_minhash(a), text_minhash(a)) AS same \
                   FROM (VALUES ('one two three four five six seven eight nine ten eleven twelve', \
                                 'one two three four five six seven eight nine ten eleven thirteen')) AS t(a, b)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let column = |i: usize| batches[0].column(i).as_any().downcast_ref::<Float64Array>().unwrap().value(0);
        // 8 shared 5-gram shingles of 9 distinct: Jaccard 7/9 ≈ 0.78.
        assert!((column(0) - 7.0 / 9.0).abs() < 0.2, "{}", column(0));
        assert_eq!(column(0), column(1));
        assert_eq!(column(2), 1.0);
    }
}
