//! Redundancy, before selection: exact duplicates (`text_fingerprint`) and
//! near duplicates (MinHash: `text_minhash`, `minhash_pack`, `minhash_bands`,
//! `minhash_band`, and the clusters of `near_duplicates`), and semantic
//! duplicates in embedding space (`semantic_duplicates`, SemDeDup). Copies of a document get
//! (nearly) its ratings, so without this the top of a component repeats one
//! document.

use std::ops::Range;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, UInt8Type, UInt16Type, UInt32Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};

use crate::dedup::minhash::MinHashSpec;

pub mod band_pairs;
pub mod datatrove_minhash;
pub mod minhash;
pub mod minhash_band;
pub mod minhash_bands;
pub mod minhash_pack;
pub mod minhash_similarity;
pub mod near_duplicates;
pub mod semantic_duplicates;
pub mod text_fingerprint;
pub mod text_minhash;
pub mod union_by_size;

/// The MinHash spec a `spec` argument names, or an error that says how to
/// fix it.
pub(crate) fn spec_argument(function: &str, value: Option<&ScalarValue>) -> Result<MinHashSpec> {
    let example = format!("{function}(..., 'threshold=0.8,ngram=5,bands=14,rows=8,seed=1')");
    crate::spec::argument(function, value, &example, MinHashSpec::parse)
}

/// Whether a column's type can hold `text_minhash` signatures (lists, or
/// bytes from `minhash_pack`).
pub(crate) fn is_signature_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::FixedSizeBinary(_) => true,
        DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) => {
            matches!(f.data_type(), DataType::UInt8 | DataType::UInt16 | DataType::UInt32)
        }
        _ => false,
    }
}

/// A column of signatures, read as 32-bit values.
pub(crate) struct Signatures {
    values: Vec<u32>,
    width: usize,
    valid: Vec<bool>,
}

impl Signatures {
    /// Reads `array` (a list column of unsigned values, as `text_minhash`
    /// gives, or their bytes from `minhash_pack`) whose non-NULL rows must
    /// have `spec`'s `bands × rows` values.
    pub(crate) fn read(function: &str, array: &ArrayRef, spec: &MinHashSpec) -> Result<Self> {
        Self::read_part(function, array, spec, 0..spec.hashes())
    }

    /// As [`Signatures::read`], keeping only the values in `part` of each
    /// signature (one band's, say): the rest are not decoded.
    pub(crate) fn read_part(function: &str, array: &ArrayRef, spec: &MinHashSpec, part: Range<usize>) -> Result<Self> {
        let width = spec.hashes();
        let wrong = |what: String| {
            DataFusionError::Execution(format!(
                "{function}: {what}; give the signatures text_minhash made with the same spec ({spec})"
            ))
        };
        let mut values = Vec::with_capacity(array.len() * part.len());
        if let DataType::FixedSizeBinary(size) = array.data_type() {
            // Packed: `spec.bits / 8` little-endian bytes per value.
            let bytes = spec.bits as usize / 8;
            if *size as usize != spec.packed_bytes() {
                return Err(wrong(format!(
                    "a packed signature has {size} bytes, the spec asks for {width} values of {bytes} bytes ({} bytes)",
                    spec.packed_bytes()
                )));
            }
            let packed = array.as_fixed_size_binary();
            // A slice's bytes start at its first row (no separate offset).
            let data = packed.value_data();
            for row in 0..packed.len() {
                let at = row * spec.packed_bytes();
                let cells = &data[at + part.start * bytes..at + part.end * bytes];
                match bytes {
                    1 => values.extend(cells.iter().map(|&v| v as u32)),
                    2 => values.extend(cells.chunks_exact(2).map(|v| u16::from_le_bytes([v[0], v[1]]) as u32)),
                    _ => values.extend(cells.chunks_exact(4).map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))),
                }
            }
            let valid = (0..packed.len()).map(|i| packed.is_valid(i)).collect();
            return Ok(Signatures { values, width: part.len(), valid });
        }
        let (offsets, inner): (Vec<usize>, ArrayRef) = match array.data_type() {
            DataType::FixedSizeList(_, n) => {
                let list = array.as_fixed_size_list();
                ((0..=list.len()).map(|i| i * *n as usize).collect(), list.values().clone())
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (list.offsets().iter().map(|&o| o as usize).collect(), list.values().clone())
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (list.offsets().iter().map(|&o| o as usize).collect(), list.values().clone())
            }
            other => return Err(wrong(format!("a signature column must be a list of unsigned integers, got {other}"))),
        };
        let all: Vec<u32> = match inner.data_type() {
            DataType::UInt8 => inner.as_primitive::<UInt8Type>().values().iter().map(|&v| v as u32).collect(),
            DataType::UInt16 => inner.as_primitive::<UInt16Type>().values().iter().map(|&v| v as u32).collect(),
            DataType::UInt32 => inner.as_primitive::<UInt32Type>().values().to_vec(),
            other => return Err(wrong(format!("signature values must be unsigned integers, got {other}"))),
        };
        let mut valid = Vec::with_capacity(array.len());
        for i in 0..array.len() {
            if array.is_null(i) {
                values.extend(std::iter::repeat_n(0, part.len()));
                valid.push(false);
                continue;
            }
            let (start, end) = (offsets[i], offsets[i + 1]);
            if end - start != width {
                return Err(wrong(format!("a signature has {} values, the spec asks for {width}", end - start)));
            }
            values.extend_from_slice(&all[start + part.start..start + part.end]);
            valid.push(true);
        }
        Ok(Signatures { values, width: part.len(), valid })
    }

    /// Row `i`'s signature, None for NULL.
    pub(crate) fn get(&self, i: usize) -> Option<&[u32]> {
        self.valid[i].then(|| &self.values[i * self.width..(i + 1) * self.width])
    }

    pub(crate) fn len(&self) -> usize {
        self.valid.len()
    }
}
