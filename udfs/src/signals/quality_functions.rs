//! `quality_ratings(text)`, `quality_ratings_vector(text)`,
//! `quality_signals(text)`, `quality_signals_vector(text)`: one function
//! over a [`Measures`] family (the ratings, or the statistics behind them),
//! returned as a struct of named fields or as a list for `pca_fit`.
//!
//! What each family measures, and how it is documented, lives with the
//! family (`text_ratings.rs`, `text_signals.rs`); this file is only the SQL
//! function around it.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, ListArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::text::columns::{coerce_text, text_values};

/// A family of per-text measures, each a Float64.
pub trait Measures: fmt::Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// Buffers kept from one text to the next.
    type Scratch: Default;
    /// The name of the function returning a struct; the list function's is
    /// it with `_vector` after it.
    const NAME: &'static str;
    /// The measures' names, in output order.
    fn names() -> Vec<&'static str>;
    /// Writes `text`'s measures into `out` (as long as [`Self::names`]).
    fn measure(text: &str, scratch: &mut Self::Scratch, out: &mut [f64]);
    /// The documentation of the struct and the list function.
    fn documentation(shape: Shape) -> &'static Documentation;
}

/// How a function returns a family's measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A struct of Float64 fields named after the measures.
    Struct,
    /// A List<Float64> in the measures' order, for `pca_fit`.
    List,
}

/// The SQL function of a family `M` in a `shape`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QualityFunc<M> {
    name: String,
    shape: Shape,
    signature: Signature,
    family: PhantomData<M>,
}

impl<M: Measures> QualityFunc<M> {
    pub fn new(shape: Shape) -> Self {
        let name = match shape {
            Shape::Struct => M::NAME.to_string(),
            Shape::List => format!("{}_vector", M::NAME),
        };
        Self { name, shape, signature: Signature::user_defined(Volatility::Immutable), family: PhantomData }
    }
}

/// Non-nullable Float64 fields named `names`.
fn struct_fields(names: &[&str]) -> Fields {
    names.iter().map(|name| Field::new(*name, DataType::Float64, false)).collect()
}

impl<M: Measures> ScalarUDFImpl for QualityFunc<M> {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text(&self.name, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        coerce_text(&self.name, arg_types)?;
        Ok(match self.shape {
            Shape::Struct => DataType::Struct(struct_fields(&M::names())),
            Shape::List => DataType::new_list(DataType::Float64, true),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let texts = args.args[0].to_array(rows)?;
        let names = M::names();
        // Column-major: one vector per measure; NULL rows hold 0.
        let mut columns = vec![Vec::with_capacity(rows); names.len()];
        let mut row = vec![0.0; names.len()];
        let mut scratch = M::Scratch::default();
        for text in text_values(&texts)? {
            match text {
                Some(text) => M::measure(text, &mut scratch, &mut row),
                None => row.fill(0.0),
            }
            for (column, value) in columns.iter_mut().zip(&row) {
                column.push(*value);
            }
        }
        let nulls = texts.logical_nulls();
        match self.shape {
            Shape::Struct => {
                let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(Float64Array::from(c)) as ArrayRef).collect();
                Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(struct_fields(&names), arrays, nulls)?)))
            }
            Shape::List => columns_to_list(&columns, nulls, rows),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(M::documentation(self.shape))
    }
}

/// Column-major values as a List<Float64> per row; NULL rows are NULL.
fn columns_to_list(columns: &[Vec<f64>], nulls: Option<NullBuffer>, rows: usize) -> Result<ColumnarValue> {
    let valid = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));
    let mut values = Vec::with_capacity(rows * columns.len());
    let mut lengths = Vec::with_capacity(rows);
    for row in 0..rows {
        if valid(row) {
            values.extend(columns.iter().map(|c| c[row]));
            lengths.push(columns.len());
        } else {
            lengths.push(0);
        }
    }
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float64Array::from(values)),
        nulls,
    )?;
    Ok(ColumnarValue::Array(Arc::new(list)))
}

impl<M: Measures> QualityFunc<M> {
    /// The function of family `M` in `shape`, as DataFusion registers it.
    pub fn udf(shape: Shape) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self::new(shape)))
    }
}
