//! The import rule of ARCHITECTURE.md, checked: in each crate the modules
//! stand in layers, a file imports only from its own module and from the
//! modules below it, and no files import each other in a circle.
//!
//! The imports are read from the source (`crate::` and `super::` paths, in
//! `use` statements and in code), not from the compiler, so the rule holds
//! for test modules too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of crate `odis` (src/), lowest first: a module may import
/// the modules before it.
const ODIS_LAYERS: &[&str] = &[
    // What went wrong, by option.
    "error",
    // Pieces of the engine that know nothing of each other.
    "script_vars",
    "panic_guard",
    "output",
    "store_retries",
    "stores",
    "runtime",
    "named_arguments",
    "file_tables",
    "scalar_subqueries",
    "scan_progress",
    "ridge",
    "functions",
    // The cluster's processes and planner, then the engine that uses them.
    "cluster",
    "engine",
    // The jobs on the engine.
    "select",
    "train",
];

/// The layers of crate `odis-udfs` (udfs/src/), lowest first.
const UDFS_LAYERS: &[&str] = &[
    // Shared pieces: doc sections, BLAS, specs, literal arguments, vectors,
    // model names.
    "docs",
    "blas",
    "spec",
    "literals",
    "vectors",
    "model_dirs",
    // The plan layer: table arguments, ids, budgets, client and remote
    // execution.
    "plan",
    // Text, owned in one place.
    "text",
    // The steps.
    "filter",
    "signals",
    "score",
    "pca",
    "measure",
    "clustering",
    "dedup",
    "select",
    "odis_version",
];

/// A source file and the module path it defines (`select::options`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Module {
    path: Vec<String>,
    file: PathBuf,
}

fn modules(root: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // The binary is a crate of its own.
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap();
            let mut segments: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            let last = segments.pop().unwrap();
            match last.as_str() {
                "lib.rs" | "mod.rs" => {}
                file => segments.push(file.trim_end_matches(".rs").to_string()),
            }
            out.push(Module { path: segments, file: path });
        }
    }
    out.sort();
    out
}

/// `source` without comments and the contents of string and character
/// literals (so that a path in a doc comment or a message is not an import).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !chars.get(i.wrapping_sub(1)).is_some_and(|p| p.is_alphanumeric() || *p == '_') {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The paths a use tree starting at `text` names (`a::{b, c::d}` gives
/// `a::b` and `a::c::d`), with how many characters it took.
fn use_tree(text: &[char], prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut i = 0;
    let mut path = prefix.to_vec();
    let skip_space = |i: &mut usize| {
        while *i < text.len() && text[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i < text.len() && text[i] == '{' {
            i += 1;
            loop {
                skip_space(&mut i);
                if i >= text.len() {
                    return i;
                }
                if text[i] == '}' {
                    return i + 1;
                }
                if text[i] == ',' {
                    i += 1;
                    continue;
                }
                i += use_tree(&text[i..], &path, out);
            }
        }
        let start = i;
        while i < text.len() && (text[i].is_alphanumeric() || text[i] == '_') {
            i += 1;
        }
        let segment: String = text[start..i].iter().collect();
        if !segment.is_empty() && segment != "self" {
            path.push(segment);
        }
        if text.get(i) == Some(&':') && text.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(path);
        // `a::b as c`: the rename is no path.
        let mut j = i;
        skip_space(&mut j);
        if text[j.min(text.len())..].starts_with(&['a', 's', ' ']) {
            j += 3;
            skip_space(&mut j);
            while j < text.len() && (text[j].is_alphanumeric() || text[j] == '_') {
                j += 1;
            }
            return j;
        }
        return i;
    }
}

/// The character ranges of the bodies of inline modules (`mod NAME { ... }`).
fn inline_modules(code: &[char]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i + 4 < code.len() {
        let boundary = i == 0 || !(code[i - 1].is_alphanumeric() || code[i - 1] == '_');
        if boundary && code[i..i + 4] == ['m', 'o', 'd', ' '] {
            let mut j = i + 4;
            while j < code.len() && (code[j].is_alphanumeric() || code[j] == '_' || code[j] == ' ') {
                j += 1;
            }
            if code.get(j) == Some(&'{') {
                let mut depth = 0;
                let start = j;
                while j < code.len() {
                    match code[j] {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                ranges.push(start..j);
                i = j;
                continue;
            }
        }
        i += 1;
    }
    ranges
}

/// The module paths `file` (the module `module`) names with `crate::` and
/// `super::`.
fn imported_paths(module: &Module, known: &BTreeMap<Vec<String>, PathBuf>) -> Vec<Vec<String>> {
    let code: Vec<char> = code_only(&std::fs::read_to_string(&module.file).unwrap()).chars().collect();
    let is_mod_file = module.file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs");
    // `super` of a file module is its folder's module; of a mod.rs, the
    // folder's parent.
    let parent: Vec<String> = if is_mod_file {
        module.path[..module.path.len().saturating_sub(1)].to_vec()
    } else {
        module.path[..module.path.len() - 1].to_vec()
    };
    // Inside an inline module (`mod tests { use super::*; }`), `super` is
    // the file's own module.
    let inline = inline_modules(&code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let parent = if inline.iter().any(|r| r.contains(&i)) { &module.path } else { &parent };
        let boundary = i == 0 || !(code[i - 1].is_alphanumeric() || code[i - 1] == '_' || code[i - 1] == ':');
        let rest: String = code[i..code.len().min(i + 7)].iter().collect();
        if boundary && rest.starts_with("use ") {
            // `use child::item` and `use self::child::item` name a module
            // of this one.
            let mut found = Vec::new();
            let taken = use_tree(&code[i + 4..], &[], &mut found);
            for mut path in found {
                if path.first().is_some_and(|s| s == "self") {
                    path.remove(0);
                }
                let child: Vec<String> = module.path.iter().cloned().chain(path.first().cloned()).collect();
                if !path.is_empty() && known.contains_key(&child) {
                    out.push(module.path.iter().cloned().chain(path).collect());
                }
            }
            // The crate:: and super:: paths of the statement are read below.
            let _ = taken;
            i += 4;
        } else if boundary && rest.starts_with("crate::") {
            i += 7 + use_tree(&code[i + 7..], &[], &mut out);
        } else if boundary && rest.starts_with("super::") {
            i += 7 + use_tree(&code[i + 7..], parent, &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// The file of the deepest module `path` names, if it names one (not the
/// crate root's own items).
fn resolve<'a>(path: &[String], by_path: &'a BTreeMap<Vec<String>, PathBuf>) -> Option<(&'a Vec<String>, &'a PathBuf)> {
    (1..=path.len()).rev().find_map(|n| by_path.get_key_value(&path[..n]))
}

/// Every import of a file from another file, as module paths.
fn edges(root: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules(root);
    let by_path: BTreeMap<Vec<String>, PathBuf> = modules.iter().map(|m| (m.path.clone(), m.file.clone())).collect();
    let mut edges = BTreeMap::new();
    for module in &modules {
        let targets: &mut BTreeSet<Vec<String>> = edges.entry(module.path.clone()).or_default();
        for path in imported_paths(module, &by_path) {
            if let Some((target, _)) = resolve(&path, &by_path) {
                if target != &module.path && !target.is_empty() {
                    targets.insert(target.clone());
                }
            }
        }
    }
    edges
}

fn show(path: &[String]) -> String {
    if path.is_empty() { "(crate root)".into() } else { path.join("::") }
}

/// Circles of files that import each other (Tarjan's strongly connected
/// components of more than one file).
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let Some((w, _)) = s.edges.get_key_value(w) else { continue };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(show(w));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// Imports that go up or sideways between the top-level modules of a crate.
fn upward(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>, layers: &[&str]) -> Vec<String> {
    let rank = |path: &Vec<String>| path.first().map(|top| layers.iter().position(|l| l == top));
    let mut found = Vec::new();
    for (from, targets) in edges {
        let Some(from_rank) = rank(from) else { continue };
        let Some(from_rank) = from_rank else {
            found.push(format!("{} is in no layer: add its module to the list of layers", show(from)));
            continue;
        };
        for to in targets {
            if from.first() == to.first() {
                continue;
            }
            match rank(to).flatten() {
                Some(to_rank) if to_rank < from_rank => {}
                _ => found.push(format!("{} imports {}, which is not below it", show(from), show(to))),
            }
        }
    }
    found
}

fn check(root: &str, layers: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let edges = edges(&root);
    assert!(edges.len() > 10, "found only {} modules under {}", edges.len(), root.display());
    let circles = circles(&edges);
    assert!(circles.is_empty(), "files of {} that import each other in a circle: {circles:#?}", root.display());
    let upward = upward(&edges, layers);
    assert!(upward.is_empty(), "imports against the layers of {} (ARCHITECTURE.md):\n{}", root.display(), upward.join("\n"));
}

#[test]
fn the_engine_crate_imports_only_downward_and_in_no_circle() {
    check("src", ODIS_LAYERS);
}

#[test]
fn the_functions_crate_imports_only_downward_and_in_no_circle() {
    check("udfs/src", UDFS_LAYERS);
}

#[test]
fn the_checker_sees_use_trees_super_paths_and_inline_paths() {
    let mut paths = Vec::new();
    let text: Vec<char> = "a::{b as g, c::{d, self}, e::f}".chars().collect();
    use_tree(&text, &[], &mut paths);
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, ["a::b", "a::c::d", "a::c", "a::e::f"]);
    let code = code_only("let s = \"crate::x\"; // crate::y\nlet c = '\"'; crate::z::w(); r#\"crate::q\"#;");
    assert!(!code.contains("crate::x") && !code.contains("crate::y") && !code.contains("crate::q"), "{code}");
    assert!(code.contains("crate::z::w"), "{code}");
    // A circle and an upward import are found.
    let p = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    edges.entry(p("a::x")).or_default().insert(p("b::y"));
    edges.entry(p("b::y")).or_default().insert(p("a::x"));
    assert_eq!(circles(&edges), vec![vec!["a::x".to_string(), "b::y".to_string()]]);
    assert_eq!(upward(&edges, &["a", "b"]), vec!["a::x imports b::y, which is not below it".to_string()]);
}
