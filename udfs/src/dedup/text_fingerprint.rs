//! `text_fingerprint(text)`: a 128-bit hash of a text's normal form, equal
//! for texts that are the same but for case, spacing and Unicode
//! composition: the key of exact deduplication.

use std::sync::Arc;

use datafusion::arrow::array::FixedSizeBinaryBuilder;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::text::columns::{coerce_text, text_values};
use crate::text::shingles::normalize;

const NAME: &str = "text_fingerprint";

/// Bytes of a fingerprint.
pub const WIDTH: i32 = 16;

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "A 128-bit fingerprint (16 bytes, XXH3-128) of a text's normal form: Unicode NFC, lowercase, every run of \
         whitespace one space, none at either end. Texts that differ only in those respects get the same \
         fingerprint, so `GROUP BY text_fingerprint(text)` finds exact duplicates (at 10^9 distinct texts the \
         chance of any two different ones sharing a fingerprint is about 10^-21). Empty and whitespace-only texts \
         all share one fingerprint. NULL text gives NULL: it is no one's duplicate.",
    syntax_example = "text_fingerprint(text)",
    sql_example = "```sql\n> SELECT text_fingerprint(text) AS fp, count(*) AS copies FROM corpus GROUP BY fp HAVING count(*) > 1;\n\
         > SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY text_fingerprint(text) ORDER BY id) AS n FROM corpus) WHERE n = 1;\n```",
    argument(name = "text", description = "A string column."),
    related_udf(name = "text_minhash"),
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextFingerprintFunc {
    signature: Signature,
}

impl Default for TextFingerprintFunc {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for TextFingerprintFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text(NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::FixedSizeBinary(WIDTH))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = args.args[0].to_array(args.number_rows)?;
        let values = text_values(&texts)?;
        let mut out = FixedSizeBinaryBuilder::with_capacity(values.len(), WIDTH);
        let mut normal = String::new();
        for text in values {
            match text {
                Some(text) => {
                    normalize(text, &mut normal);
                    out.append_value(fingerprint_of_normal(&normal).to_be_bytes())?;
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The fingerprint of a text already in normal form.
pub fn fingerprint_of_normal(normal: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(normal.as_bytes())
}

pub fn text_fingerprint_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TextFingerprintFunc::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use datafusion::config::ConfigOptions;

    fn fingerprints(texts: Vec<Option<&str>>) -> Vec<Option<Vec<u8>>> {
        let array: ArrayRef = Arc::new(StringArray::from(texts));
        let n = array.len();
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(array)],
            arg_fields: vec![Arc::new(Field::new("text", DataType::Utf8, true))],
            number_rows: n,
            return_field: Arc::new(Field::new(NAME, DataType::FixedSizeBinary(WIDTH), true)),
            config_options: Arc::new(ConfigOptions::new()),
        };
        let ColumnarValue::Array(out) = TextFingerprintFunc::default().invoke_with_args(args).unwrap() else { panic!() };
        let out = out.as_fixed_size_binary();
        (0..n).map(|i| out.is_valid(i).then(|| out.value(i).to_vec())).collect()
    }

    #[test]
    fn same_text_but_for_case_spacing_and_composition() {
        let f = fingerprints(vec![
            Some("Café au lait"),
            Some("  cafe\u{301}   AU\tlait\n"),
            Some("Café au laît"),
            None,
            Some(""),
            Some(" \n "),
        ]);
        assert_eq!(f[0], f[1]);
        assert_ne!(f[0], f[2]);
        assert_eq!(f[3], None);
        assert_eq!(f[4], f[5]);
        assert_eq!(f[0].as_ref().unwrap().len(), 16);
    }
}
