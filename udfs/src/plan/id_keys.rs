//! Row ids of any orderable type as comparable, hashable keys.
//!
//! Integer ids (the common case) become `i128`s; every other orderable type
//! (strings, dates, decimals, ...) becomes its Arrow row-format bytes, which
//! compare in the column type's ascending order.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::{DataFusionError, Result};

/// One id, comparable in the id column's ascending order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdKey {
    Int(i128),
    Bytes(Box<[u8]>),
}

/// Turns an id column's values into keys, and keys back into text.
pub struct IdCodec {
    data_type: DataType,
    converter: Option<RowConverter>,
}

impl std::fmt::Debug for IdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCodec").field("data_type", &self.data_type).finish()
    }
}

/// Whether ids of this type can be ordered.
pub fn is_orderable(data_type: &DataType) -> bool {
    !data_type.is_nested() && !matches!(data_type, DataType::Null)
}

impl IdCodec {
    pub fn new(data_type: &DataType) -> Result<Self> {
        let converter = if data_type.is_integer() {
            None
        } else {
            Some(RowConverter::new(vec![SortField::new(data_type.clone())])?)
        };
        Ok(Self {
            data_type: data_type.clone(),
            converter,
        })
    }

    /// The keys of one batch's id column.
    pub fn keys(&self, ids: &ArrayRef) -> Result<IdKeys> {
        match &self.converter {
            None => Ok(IdKeys::Int(int_values(ids)?)),
            Some(converter) => Ok(IdKeys::Rows(converter.convert_columns(std::slice::from_ref(ids))?)),
        }
    }

    /// Keys back into an id column of the codec's type: what a cluster's
    /// candidate pass sends on, and what the fetch joins the table with.
    pub fn values(&self, keys: &[IdKey]) -> Result<ArrayRef> {
        use datafusion::arrow::array::{Int64Array, UInt64Array};
        let wrong = || DataFusionError::Internal(format!("an id key does not fit the id type {}", self.data_type));
        match &self.converter {
            None => {
                let ints = keys.iter().map(|k| match k {
                    IdKey::Int(v) => Ok(*v),
                    IdKey::Bytes(_) => Err(wrong()),
                });
                let wide: ArrayRef = if self.data_type.is_unsigned_integer() {
                    Arc::new(ints.map(|v| v.and_then(|v| u64::try_from(v).map_err(|_| wrong()))).collect::<Result<UInt64Array>>()?)
                } else {
                    Arc::new(ints.map(|v| v.and_then(|v| i64::try_from(v).map_err(|_| wrong()))).collect::<Result<Int64Array>>()?)
                };
                Ok(datafusion::arrow::compute::cast(&wide, &self.data_type)?)
            }
            Some(converter) => {
                let parser = converter.parser();
                let mut rows = Vec::with_capacity(keys.len());
                for key in keys {
                    match key {
                        IdKey::Bytes(bytes) => rows.push(parser.parse(bytes)),
                        IdKey::Int(_) => return Err(wrong()),
                    }
                }
                let mut arrays = converter.convert_rows(rows)?;
                Ok(arrays.remove(0))
            }
        }
    }

    /// The id as the user wrote it, for error messages.
    pub fn display(&self, key: &IdKey) -> String {
        match (key, &self.converter) {
            (IdKey::Int(v), _) => v.to_string(),
            (IdKey::Bytes(bytes), Some(converter)) => {
                let parser = converter.parser();
                let row = parser.parse(bytes);
                converter
                    .convert_rows([row])
                    .ok()
                    .and_then(|arrays| {
                        let options = FormatOptions::default();
                        let formatter = ArrayFormatter::try_new(arrays[0].as_ref(), &options).ok()?;
                        Some(format!("'{}'", formatter.value(0)))
                    })
                    .unwrap_or_else(|| "(unprintable id)".into())
            }
            (IdKey::Bytes(_), None) => "(unprintable id)".into(),
        }
    }
}

fn int_values(ids: &ArrayRef) -> Result<Vec<i128>> {
    macro_rules! widen {
        ($t:ty) => {
            ids.as_primitive::<$t>().values().iter().map(|v| *v as i128).collect()
        };
    }
    Ok(match ids.data_type() {
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        other => return Err(DataFusionError::Internal(format!("not an integer id column: {other}"))),
    })
}

/// The keys of one batch.
pub enum IdKeys {
    Int(Vec<i128>),
    Rows(Rows),
}

impl IdKeys {
    pub fn key(&self, i: usize) -> IdKey {
        match self {
            IdKeys::Int(values) => IdKey::Int(values[i]),
            IdKeys::Rows(rows) => IdKey::Bytes(rows.row(i).as_ref().into()),
        }
    }

    /// A stable 64-bit hash of id `i` under `seed`: the same id gives the
    /// same value in every run, partitioning and integer width.
    pub fn hash(&self, i: usize, seed: u64) -> u64 {
        match self {
            IdKeys::Int(values) => xxhash_rust::xxh3::xxh3_64_with_seed(&values[i].to_le_bytes(), seed),
            IdKeys::Rows(rows) => xxhash_rust::xxh3::xxh3_64_with_seed(rows.row(i).as_ref(), seed),
        }
    }
}

/// A number in the open interval (0, 1) from a 64-bit hash: 52 bits, and
/// half a step off both ends (so that ln(u) and ln(1 - u) are finite).
pub fn unit_interval(hash: u64) -> f64 {
    ((hash >> 12) as f64 + 0.5) / (1u64 << 52) as f64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn keys_order_like_the_ids() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "ab", "B"]));
        let codec = IdCodec::new(strings.data_type()).unwrap();
        let keys = codec.keys(&strings).unwrap();
        let mut sorted: Vec<IdKey> = (0..4).map(|i| keys.key(i)).collect();
        sorted.sort();
        let shown: Vec<String> = sorted.iter().map(|k| codec.display(k)).collect();
        assert_eq!(shown, ["'B'", "'a'", "'ab'", "'b'"]);

        let ints: ArrayRef = Arc::new(Int64Array::from(vec![5, -3, 10]));
        let codec = IdCodec::new(ints.data_type()).unwrap();
        let keys = codec.keys(&ints).unwrap();
        assert!(keys.key(1) < keys.key(0) && keys.key(0) < keys.key(2));
        assert_eq!(codec.display(&keys.key(1)), "-3");
    }

    #[test]
    fn hashes_do_not_depend_on_the_integer_width() {
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![42]));
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![42]));
        let h = |a: &ArrayRef| IdCodec::new(a.data_type()).unwrap().keys(a).unwrap().hash(0, 7);
        assert_eq!(h(&narrow), h(&wide));
        assert_ne!(h(&narrow), IdCodec::new(narrow.data_type()).unwrap().keys(&narrow).unwrap().hash(0, 8));
        for hash in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
            let u = unit_interval(hash);
            assert!(u > 0.0 && u < 1.0, "{hash} -> {u}");
        }
    }

    #[test]
    fn keys_turn_back_into_the_ids() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["b", "", "ab"])),
            Arc::new(Int32Array::from(vec![7, -2, i32::MAX])),
            Arc::new(datafusion::arrow::array::UInt64Array::from(vec![u64::MAX, 0, 3])),
        ];
        for ids in columns {
            let codec = IdCodec::new(ids.data_type()).unwrap();
            let keys = codec.keys(&ids).unwrap();
            let keys: Vec<IdKey> = (0..ids.len()).map(|i| keys.key(i)).collect();
            assert_eq!(codec.values(&keys).unwrap().as_ref(), ids.as_ref());
        }
    }

    #[test]
    fn nested_types_are_not_orderable_ids() {
        assert!(!is_orderable(&DataType::new_list(DataType::Int64, true)));
        assert!(is_orderable(&DataType::Utf8) && is_orderable(&DataType::Date32));
    }
}
