//! Reading a text argument of a SQL function: any of Arrow's string types,
//! in place.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};

/// The text type a function's `text` argument of `arg` type is read as:
/// every string type as it is, a dictionary of strings as its values, NULL
/// as Utf8; anything else is an error that says to cast.
pub fn text_type(name: &str, arg: &DataType, example: &str) -> Result<DataType> {
    match arg {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(arg.clone()),
        DataType::Null => Ok(DataType::Utf8),
        DataType::Dictionary(_, values) if matches!(**values, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
            Ok((**values).clone())
        }
        other => Err(DataFusionError::Plan(format!(
            "{name}: `text` must be a string column, got {other}; cast it, e.g. {example}"
        ))),
    }
}

/// The coercion of a function whose only argument is a text (its typed
/// signature: DataFusion casts the argument to what this returns).
pub fn coerce_text(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [arg] => Ok(vec![text_type(name, arg, &format!("{name}(CAST(x AS VARCHAR))"))?]),
        _ => Err(DataFusionError::Plan(format!(
            "The function '{name}' expected 1 arguments but received {}; usage: {name}(text)",
            arg_types.len()
        ))),
    }
}

/// The coercion of a function whose first argument is a text and whose
/// others are left as they are; `usage` is its syntax, e.g.
/// `f(text [, spec])`, and `example` a call with the text cast.
pub fn coerce_text_first(name: &str, arg_types: &[DataType], arities: &[usize], usage: &str, example: &str) -> Result<Vec<DataType>> {
    if !arities.contains(&arg_types.len()) {
        let counts: Vec<String> = arities.iter().map(usize::to_string).collect();
        return Err(DataFusionError::Plan(format!(
            "The function '{name}' expected {} arguments but received {}; usage: {usage}",
            counts.join(" or "),
            arg_types.len()
        )));
    }
    let mut types = arg_types.to_vec();
    types[0] = text_type(name, &arg_types[0], example)?;
    Ok(types)
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
