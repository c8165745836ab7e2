//! Arguments of the selection table functions (`top_k_per_dim` and the
//! baselines): a registered table, column names, a budget, weights, a seed.
//!
//! Table functions receive logical expressions; each argument is simplified
//! (so `-1` or `make_array(1, 2)` become literals) and must then be a literal
//! of the right kind. Errors name the function, the argument and the fix.

use std::sync::Arc;

use crate::plan::budget::Budget;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{ScalarValue, TableReference};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use futures::FutureExt;

use crate::plan::id_keys::is_orderable;
use crate::literals::scalar_integer;
use crate::vectors::is_vector_type;

fn plan_err(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// The arguments, checked and resolved.
pub struct Args<'a> {
    function: &'static str,
    exprs: &'a [Expr],
    session: &'a dyn Session,
}

/// A column of the input table.
#[derive(Debug, Clone)]
pub struct Column {
    pub index: usize,
    pub field: FieldRef,
}

impl<'a> Args<'a> {
    pub fn new(function: &'static str, exprs: &'a [Expr], session: &'a dyn Session, usage: &str, counts: &[usize]) -> Result<Self> {
        if !counts.contains(&exprs.len()) {
            let counts: Vec<String> = counts.iter().map(usize::to_string).collect();
            let counts = match counts.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => counts.join(""),
            };
            return Err(plan_err(format!("{function} takes {counts} arguments, got {}; usage: {usage}", exprs.len())));
        }
        Ok(Self { function, exprs, session })
    }

    pub fn len(&self) -> usize {
        self.exprs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    fn literal(&self, position: usize, name: &str, example: &str) -> Result<ScalarValue> {
        let simplifier = ExprSimplifier::new(SimplifyContext::default());
        match simplifier.simplify(self.exprs[position].clone())? {
            Expr::Literal(value, _) => Ok(value),
            other => Err(plan_err(format!(
                "{}: `{name}` must be a literal, e.g. {example}; got the expression {other}",
                self.function
            ))),
        }
    }

    pub fn string(&self, position: usize, name: &str, example: &str) -> Result<String> {
        match self.literal(position, name, example)? {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Ok(s),
            other => Err(plan_err(format!(
                "{}: `{name}` must be a quoted name, e.g. {example}; got {other}",
                self.function
            ))),
        }
    }

    /// The registered table or view named by argument `position`.
    pub fn table(&self, position: usize) -> Result<(String, Arc<dyn TableProvider>)> {
        let name = self.string(position, "table", "'docs'")?;
        let state = self
            .session
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal(format!("{}: unexpected session type", self.function)))?;
        let looks_like_path = name.contains('/') || name.contains("://") || name.contains('.') && !name.contains(' ');
        let not_found = || {
            let hint = if looks_like_path {
                format!("to select from a file, register it first: CREATE EXTERNAL TABLE docs STORED AS PARQUET LOCATION '{name}'")
            } else {
                format!(
                    "register the data first, e.g. CREATE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION 'path/or/s3/url' \
                     or CREATE VIEW {name} AS SELECT ..."
                )
            };
            plan_err(format!("{}: no table or view named '{name}'; {hint}", self.function))
        };
        let reference = TableReference::parse_str(&name);
        let schema = state.schema_for_ref(reference.clone()).map_err(|_| not_found())?;
        // Registered tables and views resolve without I/O; a bare path would
        // need I/O here, and is not a registered table.
        match schema.table(reference.table()).now_or_never() {
            Some(Ok(Some(table))) => Ok((name, table)),
            Some(Err(e)) if !looks_like_path => Err(e),
            _ => Err(not_found()),
        }
    }

    /// A column of `schema`, by the name in argument `position`.
    pub fn column(&self, position: usize, name: &str, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.string(position, name, "'id'")?;
        match schema.index_of(&column) {
            Ok(index) => Ok(Column {
                index,
                field: Arc::new(schema.field(index).clone()),
            }),
            Err(_) => {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                Err(plan_err(format!(
                    "{}: unknown column '{column}' in '{table}'; its columns are: {}",
                    self.function,
                    names.join(", ")
                )))
            }
        }
    }

    pub fn id_column(&self, position: usize, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.column(position, "id_column", table, schema)?;
        if !is_orderable(column.field.data_type()) {
            return Err(plan_err(format!(
                "{}: id column '{}' must hold orderable values (integers, strings, dates, ...), got {}",
                self.function,
                column.field.name(),
                column.field.data_type()
            )));
        }
        Ok(column)
    }

    pub fn scores_column(&self, position: usize, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.column(position, "scores_column", table, schema)?;
        if !is_vector_type(column.field.data_type()) {
            return Err(plan_err(format!(
                "{}: scores column '{}' must be a list of numbers (e.g. the output of pca_project), got {}",
                self.function,
                column.field.name(),
                column.field.data_type()
            )));
        }
        Ok(column)
    }

    /// Argument `position`, a spec string such as `example`, read by `parse`;
    /// an error names the function, the spec and what is wrong in it.
    pub fn spec<T>(&self, position: usize, example: &str, parse: impl FnOnce(&str) -> std::result::Result<T, String>) -> Result<T> {
        let text = self.string(position, "spec", &format!("'{example}'"))?;
        parse(&text).map_err(|e| plan_err(format!("{}: `spec` '{text}': {e}", self.function)))
    }

    /// A column of numbers (a score or quality), named `name` in errors.
    pub fn number_column(&self, position: usize, name: &str, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.column(position, name, table, schema)?;
        if !column.field.data_type().is_numeric() {
            let what = name.trim_end_matches("_column");
            return Err(plan_err(format!(
                "{}: {what} column '{}' must hold numbers, got {}",
                self.function,
                column.field.name(),
                column.field.data_type()
            )));
        }
        Ok(column)
    }

    /// A column of embeddings (lists of numbers).
    pub fn embedding_column(&self, position: usize, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.column(position, "embedding_column", table, schema)?;
        if !is_vector_type(column.field.data_type()) {
            return Err(plan_err(format!(
                "{}: embedding column '{}' must be a list of numbers (e.g. the output of odis_score), got {}",
                self.function,
                column.field.name(),
                column.field.data_type()
            )));
        }
        Ok(column)
    }

    /// The optional `cost => 'column'` argument among those from `from` on,
    /// and the positions of the others. DataFusion hands a table function
    /// its arguments by position, without their names, so the cost column
    /// is told from the others by being the one quoted name among them.
    pub fn cost_and_rest(&self, from: usize, table: &str, schema: &SchemaRef) -> Result<(Option<Column>, Vec<usize>)> {
        let mut cost = None;
        let mut rest = Vec::new();
        for position in from..self.len() {
            let is_name = matches!(
                self.literal(position, "cost", "'odis_tokens'"),
                Ok(ScalarValue::Utf8(Some(_)) | ScalarValue::LargeUtf8(Some(_)) | ScalarValue::Utf8View(Some(_)))
            );
            if !is_name {
                rest.push(position);
            } else if cost.is_some() {
                return Err(plan_err(format!("{}: two cost columns given; give one, e.g. cost => 'odis_tokens'", self.function)));
            } else {
                cost = Some(self.cost_column(position, table, schema)?);
            }
        }
        Ok((cost, rest))
    }

    /// The optional cost column at `position`, the last argument.
    pub fn cost(&self, position: usize, table: &str, schema: &SchemaRef) -> Result<Option<Column>> {
        (position < self.len()).then(|| self.cost_column(position, table, schema)).transpose()
    }

    /// A column of what each row costs: non-negative integers (tokens,
    /// bytes; e.g. token_count's output).
    pub fn cost_column(&self, position: usize, table: &str, schema: &SchemaRef) -> Result<Column> {
        let column = self.column(position, "cost", table, schema)?;
        if !column.field.data_type().is_integer() {
            return Err(plan_err(format!(
                "{}: cost column '{}' must hold integers (tokens or bytes per row, e.g. token_count(text, 'approx')), got {}",
                self.function,
                column.field.name(),
                column.field.data_type()
            )));
        }
        Ok(column)
    }

    /// A budget of rows: an integer B >= 1, a fraction in (0, 1), or the
    /// same as a string ('5000', '10%', '0.1'). An amount of text ('30B
    /// tokens') is an error: these functions select rows.
    pub fn budget(&self, position: usize) -> Result<Budget> {
        let budget = self.any_budget(position)?;
        match budget.unit() {
            Some(_) => Err(plan_err(format!(
                "{}: `budget` {budget} is an amount of text; {} takes a budget of rows: a count (1000) or a fraction (0.1)",
                self.function, self.function
            ))),
            None => Ok(budget),
        }
    }

    /// A budget of rows, or with a `cost` column an amount of its unit: a
    /// number, or a string with its unit ('30B tokens', '20GB'), which needs
    /// the cost column.
    pub fn costed_budget(&self, position: usize, cost: Option<&Column>) -> Result<Budget> {
        let budget = self.any_budget(position)?;
        if let (Some(unit), None) = (budget.unit(), cost) {
            let unit = match unit {
                crate::plan::budget::CostUnit::Tokens => "tokens",
                crate::plan::budget::CostUnit::Bytes => "bytes",
            };
            return Err(plan_err(format!(
                "{}: `budget` {budget} counts {unit}; name the column of each row's {unit}, e.g. cost => 'odis_{unit}'",
                self.function
            )));
        }
        Ok(budget)
    }

    /// An integer B >= 1, a fraction in (0, 1), or a budget as a string.
    fn any_budget(&self, position: usize) -> Result<Budget> {
        let f = self.function;
        let value = self.literal(position, "budget", "1000 or 0.1")?;
        if let ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) | ScalarValue::Utf8View(Some(text)) = &value {
            return text.parse::<Budget>().map_err(|e| {
                plan_err(format!(
                    "{f}: `budget` must be a number of rows (e.g. 1000) or a fraction in (0, 1) (e.g. 0.1), or an \
                     amount of text with its unit ('30B tokens', with a cost column); got '{text}': {e}"
                ))
            });
        }
        if let Some(n) = scalar_integer(&value) {
            return if n >= 1 {
                Ok(Budget::Rows(n as u64))
            } else {
                Err(plan_err(format!(
                    "{f}: `budget` must be at least 1 row, got {n}; or give a fraction of the rows in (0, 1) such as 0.1"
                )))
            };
        }
        let fraction = match value {
            ScalarValue::Float64(Some(x)) => x,
            ScalarValue::Float32(Some(x)) => x as f64,
            ScalarValue::Decimal128(Some(_), _, _) => match value.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(x)) => x,
                _ => f64::NAN,
            },
            other => {
                return Err(plan_err(format!(
                    "{f}: `budget` must be a number of rows (e.g. 1000) or a fraction in (0, 1) (e.g. 0.1), got {other}"
                )));
            }
        };
        if fraction.is_nan() {
            return Err(plan_err(format!("{f}: `budget` is NaN; give a number of rows or a fraction in (0, 1)")));
        }
        if fraction <= 0.0 || fraction >= 1.0 {
            return Err(plan_err(format!(
                "{f}: a fractional `budget` must be in (0, 1), got {fraction}; for a number of rows, give an integer such as 1000"
            )));
        }
        Ok(Budget::Fraction(fraction))
    }

    /// A list of non-negative weights, not all zero.
    pub fn weights(&self, position: usize) -> Result<Vec<f64>> {
        let f = self.function;
        let value = self.literal(position, "weights", "[1, 1, 2, 1]")?;
        let array = match &value {
            ScalarValue::List(a) if !a.is_null(0) => a.value(0),
            ScalarValue::LargeList(a) if !a.is_null(0) => a.value(0),
            ScalarValue::FixedSizeList(a) if !a.is_null(0) => a.value(0),
            other => {
                return Err(plan_err(format!(
                    "{f}: `weights` must be a list of numbers, one per dimension, e.g. [1, 1, 2, 1]; got {other}"
                )));
            }
        };
        if !array.data_type().is_numeric() || array.null_count() > 0 {
            return Err(plan_err(format!(
                "{f}: `weights` must be a list of numbers without NULLs, e.g. [1, 1, 2, 1]; got {value}"
            )));
        }
        let weights: Vec<f64> = cast(&array, &DataType::Float64)?.as_primitive::<Float64Type>().values().to_vec();
        if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(plan_err(format!("{f}: `weights` must be finite and non-negative, got {w}")));
        }
        if weights.iter().all(|w| *w == 0.0) {
            return Err(plan_err(format!("{f}: `weights` are all zero; give at least one positive weight")));
        }
        Ok(weights)
    }

    pub fn seed(&self, position: usize) -> Result<u64> {
        let value = self.literal(position, "seed", "42")?;
        scalar_integer(&value).map(|s| s as u64).ok_or_else(|| {
            plan_err(format!("{}: `seed` must be an integer, e.g. 42; got {value}", self.function))
        })
    }

    pub fn positive_number(&self, position: usize, name: &str, example: &str) -> Result<f64> {
        let value = self.literal(position, name, example)?;
        let number = match value.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(x))) => x,
            _ => f64::NAN,
        };
        if number.is_finite() && number > 0.0 {
            Ok(number)
        } else {
            Err(plan_err(format!(
                "{}: `{name}` must be a positive number, e.g. {example}; got {value}",
                self.function
            )))
        }
    }
}
