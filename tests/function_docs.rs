//! The functions' documentation cannot drift from the code: docs/functions.md
//! is generated from each registered function's `Documentation`, and the
//! function tables of the README and of `udfs/src/lib.rs` list exactly the
//! registered functions, by family. Each function's doc section is its
//! family's, and its family's folder holds it.
//!
//! After changing a function's documentation, regenerate the page:
//! `ODIS_BLESS=1 cargo test --test function_docs`.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use odis::udfs::docs::{FAMILIES, family_of, markdown};

const PAGE: &str = "docs/functions.md";

/// docs/functions.md as the registered functions make it.
fn generated() -> String {
    let functions = odis::udfs::functions();
    let mut out = String::from(
        "# Functions\n\n\
         <!-- Generated from each function's documentation by tests/function_docs.rs: edit the code, then run\n     \
         ODIS_BLESS=1 cargo test --test function_docs -->\n\n\
         Every SQL function odis adds to DataFusion, by family, as `\\h NAME` shows it in the shell. DataFusion's own\n\
         functions are listed by `SHOW FUNCTIONS` and documented at https://datafusion.apache.org.\n\n",
    );
    for family in &FAMILIES {
        let members: Vec<_> = functions.iter().filter(|f| f.documentation.doc_section.label == family.section.label).collect();
        let names: Vec<String> = members.iter().map(|f| format!("[`{0}`](#{0})", f.name)).collect();
        let _ = writeln!(out, "- [{}](#{}): {}", family.section.label, anchor(family.section.label), names.join(", "));
    }
    for family in &FAMILIES {
        let _ = writeln!(out, "\n## {}\n\n{}\n", family.section.label, family.section.description.unwrap_or_default());
        for f in functions.iter().filter(|f| f.documentation.doc_section.label == family.section.label) {
            out.push_str(&markdown(&f.name, f.kind.name(), &f.documentation));
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// GitHub's anchor of a heading.
fn anchor(heading: &str) -> String {
    heading.to_lowercase().chars().filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_').map(|c| if c == ' ' { '-' } else { c }).collect()
}

/// The registered functions by family label.
fn registered() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in odis::udfs::functions() {
        out.entry(f.documentation.doc_section.label.to_string()).or_default().push(f.name);
    }
    for names in out.values_mut() {
        names.sort();
    }
    out
}

/// A table of `| family | functions |` rows in `text`: the names in
/// backquotes of each row whose first cell is a family's label.
fn table(text: &str, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some(row) = line.strip_prefix(prefix) else { continue };
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 2 || family_of(cells[0]).is_none() {
            continue;
        }
        let mut names: Vec<String> = cells[1].split('`').skip(1).step_by(2).map(|n| n.split('(').next().unwrap().to_string()).collect();
        names.sort();
        out.insert(cells[0].to_string(), names);
    }
    out
}

#[test]
fn every_function_is_documented_in_its_familys_section() {
    let root = common::repo_root();
    for f in odis::udfs::functions() {
        let label = f.documentation.doc_section.label;
        let family = family_of(label).unwrap_or_else(|| panic!("{}: doc section '{label}' is no family of odis::udfs::docs", f.name));
        // The family's folder (or file) holds the function.
        let place = root.join("udfs/src").join(family.module);
        let files: Vec<std::path::PathBuf> = if place.is_dir() {
            std::fs::read_dir(&place).unwrap().map(|e| e.unwrap().path()).collect()
        } else {
            vec![place.with_extension("rs")]
        };
        let quoted = format!("\"{}", f.name);
        assert!(
            files.iter().any(|file| std::fs::read_to_string(file).unwrap_or_default().contains(&quoted)),
            "{} is documented as one of the {label} but is not in udfs/src/{}",
            f.name,
            family.module
        );
        assert!(!f.documentation.description.trim().is_empty(), "{} has no description", f.name);
        assert!(f.documentation.syntax_example.starts_with(&f.name), "{}'s syntax example names another function", f.name);
    }
}

#[test]
fn docs_functions_md_is_generated_from_the_code() {
    let path = common::repo_root().join(PAGE);
    let page = generated();
    if std::env::var_os("ODIS_BLESS").is_some() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    if written != page {
        let line = written.lines().zip(page.lines()).position(|(a, b)| a != b).map_or(written.lines().count().min(page.lines().count()), |l| l);
        panic!(
            "{PAGE} differs from the functions' documentation from line {} on (written: {:?}, generated: {:?}); \
             regenerate it: ODIS_BLESS=1 cargo test --test function_docs",
            line + 1,
            written.lines().nth(line),
            page.lines().nth(line)
        );
    }
}

#[test]
fn the_readme_and_lib_rs_tables_list_the_registered_functions() {
    let root = common::repo_root();
    let registered = registered();
    let readme = table(&std::fs::read_to_string(root.join("README.md")).unwrap(), "");
    assert_eq!(readme, registered, "README.md's table of functions by family against the registered functions");
    let lib = table(&std::fs::read_to_string(root.join("udfs/src/lib.rs")).unwrap(), "//! ");
    assert_eq!(lib, registered, "udfs/src/lib.rs's table of functions by family against the registered functions");
}
