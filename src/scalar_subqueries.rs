//! Uncorrelated scalar subqueries, evaluated once before a query is planned.
//!
//! `pca_project(scores, (SELECT model FROM pca))` is how SQL passes a fitted
//! model to a function. DataFusion plans such a subquery as a join with its
//! one row, which copies the model (a struct of lists) into every row of
//! the corpus and makes the function check it again per row. A subquery
//! that does not refer to the outer query has one value for the whole
//! statement, so odis computes it first and puts it in the plan as a
//! literal: the function then gets it as a scalar, once per batch.
//!
//! Views keep their subqueries (a view's value must follow its tables), so
//! a statement that reads a view plans its subqueries as DataFusion does.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan, Subquery};
use datafusion::prelude::SessionContext;

use crate::error::{OdisError, Result};

/// `plan` with every uncorrelated scalar subquery of its own expressions
/// (not of its subqueries' plans) replaced by its value.
pub async fn inline_scalar_subqueries(ctx: &SessionContext, plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(plan, LogicalPlan::Ddl(DdlStatement::CreateView(_))) {
        return Ok(plan);
    }
    let mut found: Vec<Subquery> = Vec::new();
    plan.apply(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarSubquery(subquery) = e {
                    if subquery.outer_ref_columns.is_empty() && !found.iter().any(|s| Arc::ptr_eq(&s.subquery, &subquery.subquery)) {
                        found.push(subquery.clone());
                    }
                    // Its own plan is run whole, below.
                    return Ok(TreeNodeRecursion::Jump);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    if found.is_empty() {
        return Ok(plan);
    }
    let mut values = Vec::with_capacity(found.len());
    for subquery in &found {
        values.push(evaluate(ctx, subquery).await?);
    }
    let rewritten = plan.transform_up(|node| {
        // Keep each expression's name (parents refer to columns by it).
        let names = NamePreserver::new(&node);
        let node = node.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_down(|e| match &e {
                Expr::ScalarSubquery(subquery) => {
                    match found.iter().position(|s| Arc::ptr_eq(&s.subquery, &subquery.subquery)) {
                        Some(i) => Ok(Transformed::new(Expr::Literal(values[i].clone(), None), true, TreeNodeRecursion::Jump)),
                        None => Ok(Transformed::no(e)),
                    }
                }
                _ => Ok(Transformed::no(e)),
            })?;
            Ok(rewritten.update_data(|e| name.restore(e)))
        })?;
        // A literal is typed like its subquery; the node's schema stands,
        // up to nullability, which a recomputed schema gets right.
        if node.transformed { node.map_data(|n| n.recompute_schema()) } else { Ok(node) }
    })?;
    Ok(rewritten.data)
}

/// The one value of a scalar subquery: NULL for no row, an error for more.
async fn evaluate(ctx: &SessionContext, subquery: &Subquery) -> Result<ScalarValue> {
    let plan = subquery.subquery.as_ref().clone();
    let field = plan.schema().field(0).clone();
    let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > 1 {
        return Err(OdisError::InvalidArgument(format!(
            "a subquery used as a value returned {rows} rows; it must return at most one (add a WHERE or LIMIT 1)"
        )));
    }
    match batches.iter().find(|b| b.num_rows() == 1) {
        Some(batch) => Ok(ScalarValue::try_from_array(batch.column(0).as_ref(), 0)?),
        None => Ok(ScalarValue::try_from(field.data_type())?),
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;

    async fn one(engine: &Engine, sql: &str) -> Option<i64> {
        let batches = engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let column = datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Int64).unwrap();
        let column = column.as_primitive::<Int64Type>();
        column.is_valid(0).then(|| column.value(0))
    }

    #[tokio::test]
    async fn a_scalar_subquery_is_one_value_for_the_statement() {
        let engine = Engine::new().unwrap();
        engine.sql("CREATE TABLE t AS SELECT value AS v FROM generate_series(1, 10)").await.unwrap();
        assert_eq!(one(&engine, "SELECT sum(v + (SELECT max(v) FROM t)) FROM t").await, Some(155));
        assert_eq!(one(&engine, "SELECT count(*) FROM t WHERE v > (SELECT avg(v) FROM t)").await, Some(5));
        // No row: NULL. A correlated subquery is left to DataFusion.
        assert_eq!(one(&engine, "SELECT (SELECT v FROM t WHERE v > 100)").await, None);
        assert_eq!(one(&engine, "SELECT (SELECT max(u.v) * 2 FROM t u WHERE u.v = t.v) FROM t WHERE v = 4").await, Some(8));
        let e = engine.sql("SELECT (SELECT v FROM t)").await.unwrap_err().to_string();
        assert!(e.contains("returned 10 rows; it must return at most one"), "{e}");
    }

    /// The point: a PCA model reaches pca_project as a scalar, not a copy per
    /// row, and gives the same coordinates as the join.
    #[tokio::test]
    async fn a_model_from_a_subquery_projects_like_a_join() {
        let engine = Engine::new().unwrap();
        engine
            .sql(
                "CREATE TABLE t AS SELECT value AS id, make_array(sin(value), cos(value * 0.3), value % 7) AS x \
                 FROM generate_series(1, 5000); \
                 CREATE TABLE m AS SELECT pca_fit(x, 2) AS model FROM t",
            )
            .await
            .unwrap();
        let explained = engine.sql("EXPLAIN SELECT pca_project(x, (SELECT model FROM m)) FROM t").await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&explained).unwrap().to_string();
        assert!(!text.contains("Join"), "the model is a literal, not a join:\n{text}");
        let joined = "SELECT sum(pca_project(t.x, m.model)[1] * t.id) FROM t CROSS JOIN m";
        let inlined = "SELECT sum(pca_project(x, (SELECT model FROM m))[1] * id) FROM t";
        let (a, b) = (engine.sql(joined).await.unwrap(), engine.sql(inlined).await.unwrap());
        let value = |batches: &[datafusion::arrow::array::RecordBatch]| {
            batches[0].column(0).as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(0)
        };
        assert!((value(&a) - value(&b)).abs() <= 1e-9 * value(&a).abs().max(1.0), "{} vs {}", value(&a), value(&b));
    }
}
