//! Reading columns of score vectors: `List`, `LargeList` or `FixedSizeList`
//! of numbers, as rows of `f64` slices without copying per row.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};

/// Whether `data_type` is a list of numbers odis accepts as score vectors.
pub fn is_vector_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            item.data_type().is_numeric()
        }
        _ => false,
    }
}

/// Checks that argument `argument` of `function` is a score vector type.
pub fn check_vector_type(function: &str, argument: &str, data_type: &DataType) -> Result<()> {
    if is_vector_type(data_type) {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "{function}: `{argument}` must be a list of numbers (e.g. make_array(a, b, c) or a \
             List<Float64> column), got {data_type}"
        )))
    }
}

/// The error of an embedding aggregate (`function`) whose rows hold vectors
/// of two lengths.
pub fn mixed_embedding_lengths(function: &str, first: usize, other: usize) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{function}: every embedding must have the same length, but found vectors of length {first} and {other}; \
         filter the rows whose embedding has the wrong length"
    ))
}

/// A column of vectors: row `i` is `values[offsets[i]..offsets[i + 1]]`.
pub struct Vectors {
    array: ArrayRef,
    values: Float64Array,
    offsets: Vec<usize>,
}

impl Vectors {
    /// Reads a list column; the numbers are converted to `f64` once, for
    /// the whole column.
    pub fn try_new(array: &ArrayRef) -> Result<Self> {
        let (child, offsets): (&ArrayRef, Vec<usize>) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (list.values(), list.value_offsets().iter().map(|&o| o as usize).collect())
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (list.values(), list.value_offsets().iter().map(|&o| o as usize).collect())
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let size = *size as usize;
                (list.values(), (0..=list.len()).map(|i| i * size).collect())
            }
            other => {
                return Err(DataFusionError::Execution(format!(
                    "expected a list of numbers, got {other}"
                )));
            }
        };
        let values = cast(child, &DataType::Float64)?.as_primitive().clone();
        Ok(Self {
            array: array.clone(),
            values,
            offsets,
        })
    }

    pub fn len(&self) -> usize {
        self.array.len()
    }

    pub fn is_empty(&self) -> bool {
        self.array.is_empty()
    }

    /// Row `i`, or `None` when the vector itself is NULL.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        if self.array.is_null(i) {
            return None;
        }
        Some(&self.values.values()[self.offsets[i]..self.offsets[i + 1]])
    }

    /// Row `i` when it is non-NULL and every entry is a finite, non-NULL
    /// number; `Err(len)` gives the length of a vector that is present but
    /// has a NULL, NaN or infinite entry.
    pub fn finite_row(&self, i: usize) -> Option<Result<&[f64], usize>> {
        let row = self.row(i)?;
        let (start, end) = (self.offsets[i], self.offsets[i + 1]);
        let has_null_entry = self.values.null_count() > 0 && (start..end).any(|j| self.values.is_null(j));
        if has_null_entry || !row.iter().all(|v| v.is_finite()) {
            Some(Err(row.len()))
        } else {
            Some(Ok(row))
        }
    }

    /// Whether entry `j` of row `i` is a NULL (as opposed to a number).
    pub fn entry_is_null(&self, i: usize, j: usize) -> bool {
        self.values.null_count() > 0 && self.values.is_null(self.offsets[i] + j)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{FixedSizeListArray, Float32Array, ListArray};
    use datafusion::arrow::datatypes::{Field, Float32Type, Int64Type};

    use super::*;

    #[test]
    fn reads_lists_of_any_number_type() {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![Some(3), None]),
        ]));
        let v = Vectors::try_new(&list).unwrap();
        assert_eq!(v.row(0), Some(&[1.0, 2.0][..]));
        assert_eq!(v.row(1), None);
        assert_eq!(v.finite_row(2), Some(Err(2)));
        assert!(v.entry_is_null(2, 1));

        let fixed: ArrayRef = Arc::new(FixedSizeListArray::new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            2,
            Arc::new(Float32Array::from(vec![1.5, f32::NAN, 2.0, 4.0])),
            None,
        ));
        let v = Vectors::try_new(&fixed).unwrap();
        assert_eq!(v.finite_row(0), Some(Err(2)));
        assert_eq!(v.finite_row(1), Some(Ok(&[2.0, 4.0][..])));
        let _ = Float32Type {};
    }

    #[test]
    fn only_lists_of_numbers_are_vectors() {
        assert!(is_vector_type(&DataType::new_list(DataType::Float32, true)));
        assert!(is_vector_type(&DataType::new_fixed_size_list(DataType::Float64, 3, true)));
        assert!(!is_vector_type(&DataType::new_list(DataType::Utf8, true)));
        assert!(!is_vector_type(&DataType::Float64));
        let e = check_vector_type("f", "scores", &DataType::Utf8).unwrap_err().to_string();
        assert!(e.contains("`scores` must be a list of numbers"), "{e}");
    }
}
