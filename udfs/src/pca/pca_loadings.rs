//! `pca_loadings(model [, names])`: a PCA model's loadings as rows.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, ListArray, StringArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility};
use datafusion_macros::user_doc;

use crate::pca::decomposition::ModelColumn;
use crate::pca::pca_project::check_model_type;

#[user_doc(
    doc_section(label = "ODiS PCA Functions"),
    description = r#"Lists a PCA model's loadings, one struct per (component, dimension): `component` (0-based, as in pca_project's output and top_k_per_dim's odis_dim), `dimension` (0-based), `name` (from `names`, or NULL), `loading` (the weight of the dimension in the component) and the component's `explained_variance_ratio`. Unnest it to read the loadings as a table and name each component by its largest loadings; sql/pca_loadings.sql does that."#,
    syntax_example = "pca_loadings(model [, names])",
    sql_example = r#"```sql
> WITH m AS (SELECT pca_fit(make_array(a, b, c), 2) AS model FROM t),
       l AS (SELECT unnest(pca_loadings(model, make_array('a', 'b', 'c'))) AS l FROM m)
  SELECT l['component'] AS component, l['name'] AS name, round(l['loading'], 3) AS loading
  FROM l ORDER BY component, abs(l['loading']) DESC;
```"#,
    argument(name = "model", description = "The struct returned by pca_fit."),
    argument(name = "names", description = "Optional list of d strings naming the score dimensions, in order."),
    related_udf(name = "pca_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PcaLoadingsFunc {
    signature: Signature,
}

impl Default for PcaLoadingsFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PcaLoadingsFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(vec![TypeSignature::Any(1), TypeSignature::Any(2)], Volatility::Immutable),
        }
    }
}

const NAME: &str = "pca_loadings";

fn loading_fields() -> Fields {
    Fields::from(vec![
        Field::new("component", DataType::Int32, false),
        Field::new("dimension", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("loading", DataType::Float64, false),
        Field::new("explained_variance_ratio", DataType::Float64, false),
    ])
}

impl ScalarUDFImpl for PcaLoadingsFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let mut types = arg_types.to_vec();
        if let Some(names) = types.get_mut(1) {
            match names {
                DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _)
                    if matches!(item.data_type(), DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null) =>
                {
                    *names = DataType::new_list(DataType::Utf8, true)
                }
                other => {
                    return Err(DataFusionError::Plan(format!(
                        "{NAME}: `names` must be a list of strings such as make_array('a', 'b'), got {other}"
                    )));
                }
            }
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_model_type(NAME, &arg_types[0])?;
        Ok(DataType::new_list(DataType::Struct(loading_fields()), true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = ModelColumn::try_new(NAME, &arrays[0])?;
        let names = arrays.get(1).map(|a| a.as_list::<i32>());
        let (mut component, mut dimension, mut name, mut loading, mut ratio) = (vec![], vec![], vec![], vec![], vec![]);
        let mut lengths = Vec::with_capacity(args.number_rows);
        let mut valid = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let Some(model) = models.get(NAME, row)? else {
                lengths.push(0);
                valid.push(false);
                continue;
            };
            let d = model.mean.len();
            let row_names: Option<ArrayRef> = names.filter(|n| n.is_valid(row)).map(|n| n.value(row));
            if let Some(n) = &row_names {
                if n.len() != d {
                    return Err(DataFusionError::Execution(format!(
                        "{NAME}: `names` has {} entries but the model has {d} dimensions; give one name per dimension",
                        n.len()
                    )));
                }
            }
            let row_names = row_names.as_ref().map(|n| n.as_string::<i32>());
            for (c, loadings) in model.components.chunks_exact(d).enumerate() {
                for (j, w) in loadings.iter().enumerate() {
                    component.push(c as i32);
                    dimension.push(j as i32);
                    name.push(row_names.filter(|n| n.is_valid(j)).map(|n| n.value(j).to_string()));
                    loading.push(*w);
                    ratio.push(model.explained_variance_ratio[c]);
                }
            }
            lengths.push(model.k * d);
            valid.push(true);
        }
        let structs = StructArray::try_new(
            loading_fields(),
            vec![
                Arc::new(Int32Array::from(component)),
                Arc::new(Int32Array::from(dimension)),
                Arc::new(StringArray::from(name)),
                Arc::new(Float64Array::from(loading)),
                Arc::new(Float64Array::from(ratio)),
            ],
            None,
        )?;
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Struct(loading_fields()), true)),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(structs),
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The function as DataFusion registers it.
pub fn pca_loadings_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(PcaLoadingsFunc::new()))
}
