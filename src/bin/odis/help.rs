//! `\h`: help from the functions' own documentation.

use std::fmt::Write as _;

use datafusion::logical_expr::Documentation;
use odis::Engine;

/// The text of `\h` (no argument): the odis functions by family (the
/// sections of docs/functions.md), then how to get more.
pub fn function_list(engine: &Engine) -> String {
    let state = engine.context().state();
    let functions = odis::udfs::functions();
    let width = functions.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut out = String::from("odis functions:\n");
    for family in &odis::udfs::docs::FAMILIES {
        let members: Vec<_> = functions.iter().filter(|f| f.documentation.doc_section.label == family.section.label).collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", family.section.label);
        for f in members {
            let _ = writeln!(out, "  {:width$}  {}", f.name, first_sentence(&f.documentation.description));
        }
    }
    let total = state.scalar_functions().len() + state.aggregate_functions().len() + state.window_functions().len();
    let _ = writeln!(
        out,
        "\n\\h NAME shows any function's documentation; SHOW FUNCTIONS lists all {total} SQL functions."
    );
    out
}

/// The text of `\h NAME`.
pub fn function_help(engine: &Engine, name: &str) -> Result<String, String> {
    let name = name.trim().trim_end_matches(';').to_lowercase();
    let doc = find_documentation(engine, &name).ok_or_else(|| {
        format!("no function named '{name}'; \\h lists the odis functions, SHOW FUNCTIONS all of them")
    })?;
    Ok(render(&name, &doc))
}

fn find_documentation(engine: &Engine, name: &str) -> Option<Documentation> {
    if let Some(f) = odis::udfs::functions().into_iter().find(|f| f.name == name) {
        return Some(f.documentation);
    }
    let state = engine.context().state();
    let scalar = state.scalar_functions().get(name).and_then(|f| f.documentation().cloned());
    let aggregate = || state.aggregate_functions().get(name).and_then(|f| f.documentation().cloned());
    let window = || state.window_functions().get(name).and_then(|f| f.documentation().cloned());
    scalar.or_else(aggregate).or_else(window)
}

fn first_sentence(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_string(),
        None => text,
    }
}

fn render(name: &str, doc: &Documentation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{name} ({})\n", doc.doc_section.label);
    let _ = writeln!(out, "{}\n", doc.description.trim());
    let _ = writeln!(out, "Syntax:\n  {}\n", doc.syntax_example);
    if let Some(arguments) = &doc.arguments {
        let _ = writeln!(out, "Arguments:");
        for (argument, description) in arguments {
            let _ = writeln!(out, "  {argument}: {}", description.trim());
        }
        out.push('\n');
    }
    if let Some(example) = &doc.sql_example {
        let example = example.trim().trim_start_matches("```sql").trim_end_matches("```").trim();
        let _ = writeln!(out, "Example:");
        for line in example.lines() {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    if let Some(related) = doc.related_udfs.as_ref().filter(|r| !r.is_empty()) {
        let _ = writeln!(out, "See also: {}", related.join(", "));
    }
    out
}
