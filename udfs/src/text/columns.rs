//! Reading a text argument of a SQL function: any of Arrow's string types,
//! in place.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};

/// Checks that a function's single argument is text.
pub fn check_text(name: &str, arg_types: &[DataType]) -> Result<()> {
    match arg_types {
        [DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null] => Ok(()),
        [other] => Err(DataFusionError::Plan(format!(
            "{name}: `text` must be a string column, got {other}; cast it, e.g. {name}(CAST(x AS VARCHAR))"
        ))),
        _ => Err(DataFusionError::Plan(format!("{name} takes one argument, the text: {name}(text)"))),
    }
}

/// The texts of a string column of any string type, read in place (no
/// cast, so no copy and no 2 GiB limit of Utf8 offsets).
pub fn text_values(texts: &ArrayRef) -> Result<Vec<Option<&str>>> {
    Ok(match texts.data_type() {
        DataType::Utf8 => texts.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => texts.as_string::<i64>().iter().collect(),
        DataType::Utf8View => texts.as_string_view().iter().collect(),
        DataType::Null => vec![None; texts.len()],
        other => return Err(DataFusionError::Execution(format!("expected a string column, got {other}"))),
    })
}
