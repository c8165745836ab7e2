//! `FROM top_k_per_dim(..., cost => 'odis_tokens')`: the named arguments
//! odis's table functions take, passed on by position.
//!
//! DataFusion plans a table function's arguments only when they are
//! unnamed. The odis table functions tell their optional trailing
//! arguments apart by type (the cost column is the one quoted name among
//! them), so a named argument they know loses nothing when it is passed on
//! without its name. Other names are left alone, for DataFusion to refuse.

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{FunctionArg, TableFactor, VisitMut, VisitorMut};

/// The named arguments the odis table functions take.
const NAMES: [&str; 1] = ["cost"];

struct Unname;

impl VisitorMut for Unname {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let args = match factor {
            TableFactor::Table { args: Some(args), .. } => &mut args.args,
            TableFactor::Function { args, .. } => args,
            _ => return ControlFlow::Continue(()),
        };
        for arg in args.iter_mut() {
            if let FunctionArg::Named { name, arg: value, .. } = arg {
                if NAMES.contains(&name.value.to_lowercase().as_str()) {
                    *arg = FunctionArg::Unnamed(value.clone());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites the named table function arguments of `statement` that odis
/// knows as positional ones.
pub fn unname_table_arguments(statement: &mut Statement) {
    match statement {
        Statement::Statement(inner) => {
            let _ = inner.visit(&mut Unname);
        }
        Statement::CopyTo(copy) => {
            if let CopyToSource::Query(query) = &mut copy.source {
                let _ = query.visit(&mut Unname);
            }
        }
        Statement::Explain(explain) => unname_table_arguments(&mut explain.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn rewritten(sql: &str) -> String {
        let mut statements = DFParser::parse_sql(sql).unwrap();
        let statement = statements.front_mut().unwrap();
        unname_table_arguments(statement);
        statement.to_string()
    }

    #[test]
    fn cost_is_passed_by_position_anywhere_in_a_statement() {
        assert_eq!(
            rewritten("SELECT * FROM top_k_per_dim('t', 'id', 'pc', 100, cost => 'tokens')"),
            "SELECT * FROM top_k_per_dim('t', 'id', 'pc', 100, 'tokens')"
        );
        let copy = rewritten("COPY (SELECT id FROM sample_uniform('t', 'id', 9, 1, COST => 'n')) TO 'x.parquet'");
        assert!(copy.contains("sample_uniform('t', 'id', 9, 1, 'n')"), "{copy}");
        let explain = rewritten("EXPLAIN SELECT * FROM (SELECT * FROM top_k_average('t', 'id', 's', 5, cost => 'n'))");
        assert!(explain.contains("top_k_average('t', 'id', 's', 5, 'n')"), "{explain}");
    }

    #[test]
    fn other_names_are_left_for_datafusion_to_refuse() {
        assert!(rewritten("SELECT * FROM f(1, weights => [1, 2])").contains("weights => [1, 2]"));
    }
}
