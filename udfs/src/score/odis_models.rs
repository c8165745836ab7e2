//! `odis_models()`: the models of the session, with their output dimensions.

use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::score::model::Pooling;
use crate::score::model_registry::ModelRegistry;

pub const NAME: &str = "odis_models";

#[user_doc(
    doc_section(label = "ODiS Scoring Functions"),
    description = "Lists the session's models (registered with --model NAME=DIR, or loaded by odis_score): `name` (NULL for a \
         directory used directly), `directory`, `dims` (the width of odis_score's result), `dim_names` (from odis.json), \
         `pooling`, `normalize`, `max_length`, `output` and whether a linear `head` is applied.",
    syntax_example = "odis_models()",
    sql_example = "```sql\n> SELECT name, dims, dim_names FROM odis_models();\n```",
    related_udf(name = "odis_score"),
)]
#[derive(Debug)]
pub struct OdisModelsFunc {
    pub models: Arc<ModelRegistry>,
}

impl TableFunctionImpl for OdisModelsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return Err(DataFusionError::Plan(format!("{NAME}() takes no arguments")));
        }
        let models = self.models.list()?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("directory", DataType::Utf8, false),
            Field::new("dims", DataType::Int64, false),
            Field::new("dim_names", DataType::new_list(DataType::Utf8, true), true),
            Field::new("pooling", DataType::Utf8, false),
            Field::new("normalize", DataType::Boolean, false),
            Field::new("max_length", DataType::Int64, false),
            Field::new("output", DataType::Utf8, false),
            Field::new("head", DataType::Boolean, false),
        ]));
        let mut names = ListBuilder::new(StringBuilder::new());
        for (_, spec) in &models {
            match &spec.dim_names {
                Some(dims) => {
                    for d in dims {
                        names.values().append_value(d);
                    }
                    names.append(true);
                }
                None => names.append(false),
            }
        }
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter(models.iter().map(|(n, _)| n.clone()))),
                Arc::new(StringArray::from_iter_values(models.iter().map(|(_, s)| s.dir.display().to_string()))),
                Arc::new(Int64Array::from_iter_values(models.iter().map(|(_, s)| s.dims as i64))),
                Arc::new(names.finish()),
                Arc::new(StringArray::from_iter_values(models.iter().map(|(_, s)| {
                    match s.pooling {
                        Pooling::None => "none",
                        Pooling::Mean => "mean",
                        Pooling::Cls => "cls",
                    }
                }))),
                Arc::new(BooleanArray::from_iter(models.iter().map(|(_, s)| Some(s.normalize)))),
                Arc::new(Int64Array::from_iter_values(models.iter().map(|(_, s)| s.max_length as i64))),
                Arc::new(StringArray::from_iter_values(models.iter().map(|(_, s)| s.output.clone()))),
                Arc::new(BooleanArray::from_iter(models.iter().map(|(_, s)| Some(s.head.is_some())))),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

documented_table_function!(OdisModelsFunc, NAME);
