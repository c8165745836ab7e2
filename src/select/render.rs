//! How `odis select` shows its result: a short text summary for the
//! terminal, a self-contained HTML page (inline SVG, no script that runs)
//! with the documents on the first two components and examples of each,
//! and the same figures as JSON for programs (docs/formats.md).

use std::fmt::Write;

use crate::select::options::{CostUnit, ScoreSource, SelectOptions, SelectionMethod};
use crate::select::report::SelectReport;

/// A dimension's name with its loading, largest first: what the component means.
fn top_loadings(report: &SelectReport, component: usize, n: usize) -> Vec<(String, f64)> {
    let mut pairs: Vec<(String, f64)> = report.dimension_names.iter().cloned().zip(report.loadings[component].iter().copied()).collect();
    pairs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
    pairs.truncate(n);
    pairs
}

fn source(options: &SelectOptions) -> String {
    match &options.scores {
        ScoreSource::Ratings => "quality_ratings".to_string(),
        ScoreSource::Column(c) => format!("column {c}"),
        ScoreSource::Model(m) => format!("model {}", m.display()),
    }
}

/// A row budget the selection did not fill: how many rows were asked and
/// given, and why fewer. (A token or byte budget stops before the row that
/// would pass it, which the size section reports.)
pub fn shortfall(report: &SelectReport, options: &SelectOptions) -> Option<String> {
    if options.budget.unit().is_some() {
        return None;
    }
    let available = report.rows_kept.saturating_sub(report.dedup.removed);
    let asked = options.budget.resolve(available);
    if report.rows_out >= asked {
        return None;
    }
    let why = if available <= report.rows_out {
        format!("only {available} documents passed the filter and dedup")
    } else {
        match options.method {
            SelectionMethod::Ccs => "ccs prunes the hardest 30% (beta=0.3) before it samples, and fewer rows than the budget remained".to_string(),
            SelectionMethod::KMeans | SelectionMethod::Dpp | SelectionMethod::Mig => {
                "documents without an embedding (or with an all-zero one) cannot be selected by an embedding method".to_string()
            }
            SelectionMethod::Odis | SelectionMethod::Random => "fewer documents had scores than the budget asks".to_string(),
        }
    };
    Some(format!("the budget asks for {asked} rows and {} were selected: {why}", report.rows_out))
}

/// The terminal summary.
pub fn text(report: &SelectReport, options: &SelectOptions) -> String {
    let mut out = String::new();
    let share = 100.0 * report.rows_out as f64 / report.rows_in.max(1) as f64;
    let _ = writeln!(
        out,
        "odis select: {} rows in, {} selected ({share:.1}%) -> {}",
        report.rows_in,
        report.rows_out,
        options.out.display()
    );
    if let Some(short) = shortfall(report, options) {
        let _ = writeln!(out, "  {short}");
    }
    let removed: u64 = report.removed.iter().map(|r| r.documents).sum();
    let _ = writeln!(
        out,
        "quality filter '{}': {} kept, {removed} removed ({:.1}%)",
        options.filter,
        report.rows_kept,
        100.0 * removed as f64 / report.rows_in.max(1) as f64
    );
    for r in &report.removed {
        let _ = writeln!(out, "  {:>9}  {:<44} e.g. {:?}", r.documents, r.rule, start(&r.example, 60));
    }
    let d = &report.dedup;
    let _ = writeln!(
        out,
        "dedup {}: {} of them removed as copies ({:.1}%), in {} clusters, the largest of {}",
        options.dedup.describe(),
        d.removed,
        100.0 * d.removed as f64 / report.rows_kept.max(1) as f64,
        d.clusters,
        d.largest
    );
    for p in &d.pairs {
        let _ = writeln!(out, "  id {} ~ id {} (similarity {:.2}):", p.id, p.duplicate_of, p.similarity);
        let _ = writeln!(out, "    {:?}\n    {:?}", start(&p.text, 70), start(&p.original, 70));
    }
    let _ = writeln!(
        out,
        "raw dimensions: {} from {}; {} components explain {:.1}% of their variance",
        report.dimension_names.len(),
        source(options),
        report.loadings.len(),
        100.0 * report.explained_variance_ratio.iter().sum::<f64>()
    );
    let _ = writeln!(out, "\n  pc  explained  top loadings");
    for c in 0..report.loadings.len() {
        let loadings: Vec<String> = top_loadings(report, c, 3).iter().map(|(n, l)| format!("{l:+.2} {n}")).collect();
        let _ = writeln!(out, "  {c:>2}  {:>8.1}%  {}", 100.0 * report.explained_variance_ratio[c], loadings.join(", "));
    }
    if options.method == SelectionMethod::Odis {
        // With a cost budget, a component's quota is in tokens (or bytes):
        // the rows column is then its raw top list, what it would take alone.
        let rows = if report.dimensions.iter().any(|d| d.cost.is_some()) { "raw top" } else { "quota" };
        let _ = writeln!(out, "\n  pc  {rows:>8}  selected   threshold  overlap");
        for d in &report.dimensions {
            let threshold = d.threshold.map_or("-".to_string(), |t| format!("{t:.4}"));
            let ratio = d.overlap_ratio.map_or("-".to_string(), |r| format!("{:.2}%", 100.0 * r));
            let _ = writeln!(out, "  {:>2}  {:>8}  {:>8}  {threshold:>10}  {:>7} ({ratio})", d.dim, d.quota, d.selected, d.overlap);
        }
    } else {
        let (_, group) = options.method.group_names();
        let per_group: Vec<u64> = report.dimensions.iter().map(|d| d.selected).collect();
        let (least, most) = (per_group.iter().min().copied().unwrap_or(0), per_group.iter().max().copied().unwrap_or(0));
        let _ = writeln!(
            out,
            "\nmethod {}: {} rows from {} {group} ({least} to {most} each); quality = the mean of the components",
            options.method.name(),
            report.rows_out,
            per_group.len()
        );
    }
    size_text(&mut out, report, options);
    let stages: Vec<String> = report.stages.iter().map(|(name, t)| format!("{name} {:.2} s", t.as_secs_f64())).collect();
    let seconds = report.total.as_secs_f64();
    let _ = writeln!(
        out,
        "\ntime: {:.2} s ({:.0} rows/s): {}",
        seconds,
        report.rows_in as f64 / seconds.max(1e-9),
        stages.join(", ")
    );
    if let Some(d) = &report.diversity {
        let _ = writeln!(
            out,
            "diversity (Vendi score, cosine, q=1): selection {:.2}, random sample of the same size of the documents that pass the filter {:.2}",
            d.selection, d.random
        );
    }
    if let Some(path) = &options.report {
        let _ = writeln!(out, "report: {}", path.display());
    }
    out
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The selection's size in rows, tokens and bytes, per component, against
/// the budget; the overlap in tokens where the budget was in tokens.
fn size_text(out: &mut String, report: &SelectReport, options: &SelectOptions) {
    let size = &report.size;
    let tokens = size.tokens();
    let counted = match (&size.tokenizer, tokens) {
        (Some(how), Some(t)) => format!("{} tokens ({how}), ", thousands(t)),
        _ => String::new(),
    };
    let _ = writeln!(out, "
size: {} rows, {counted}{} bytes of text", thousands(report.rows_out), thousands(size.bytes()));
    let (spent, available, unit) = match options.budget.unit() {
        Some(CostUnit::Tokens) => (tokens.unwrap_or(0), size.available_tokens.unwrap_or(0), "tokens"),
        Some(CostUnit::Bytes) => (size.bytes(), size.available_bytes, "bytes"),
        None => (0, 0, ""),
    };
    if let Some(budget) = options.budget.unit().map(|_| options.budget.resolve(0)) {
        if budget >= available {
            let _ = writeln!(
                out,
                "  the budget, {} {unit}, is not less than the {} {unit} of the {} documents that passed the filter and dedup: all of them are selected",
                thousands(budget),
                thousands(available),
                thousands(report.rows_kept - report.dedup.removed)
            );
        } else {
            let _ = writeln!(
                out,
                "  budget {} {unit}: {} spent ({:.2}%); each component stops before the row that would pass its quota",
                thousands(budget),
                thousands(spent),
                100.0 * spent as f64 / budget.max(1) as f64
            );
        }
    }
    let has_tokens = tokens.is_some();
    let by_cost = report.dimensions.iter().any(|d| d.cost.is_some());
    let _ = writeln!(
        out,
        "  {:>3}  {:>9}  {}{:>10}  overlap{}",
        if options.method == SelectionMethod::Odis { "pc" } else { "grp" },
        "rows",
        if has_tokens { format!("{:>13}  {:>10}  ", "tokens", "tokens/doc") } else { String::new() },
        "bytes/doc",
        if by_cost { format!(" (of its raw top list's {unit})") } else { String::new() }
    );
    for c in &size.components {
        let token_columns = match c.tokens {
            Some(t) if has_tokens => format!("{:>13}  {:>10.1}  ", thousands(t), t as f64 / c.rows.max(1) as f64),
            _ if has_tokens => format!("{:>13}  {:>10}  ", "-", "-"),
            _ => String::new(),
        };
        let overlap = report
            .dimensions
            .iter()
            .find(|d| d.dim as i32 == c.dim)
            .and_then(|d| d.cost.and_then(|cost| cost.overlap_ratio.map(|r| format!("{:.2}%", 100.0 * r))).or(d.overlap_ratio.map(|r| format!("{:.2}%", 100.0 * r))))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:>3}  {:>9}  {token_columns}{:>10.1}  {overlap}",
            c.dim,
            thousands(c.rows),
            c.bytes as f64 / c.rows.max(1) as f64
        );
    }
}

/// The first `n` characters of `text`, control characters as spaces.
fn start(text: &str, n: usize) -> String {
    text.chars().take(n).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Groups of another method than odis whose first documents the HTML
/// report shows: k-means draws from 64 clusters by default.
const EXAMPLE_GROUPS: usize = 8;

const COLOURS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// The documents on the first two components, selected ones coloured by
/// the component that took them.
fn scatter_svg(report: &SelectReport) -> String {
    let (w, h, pad) = (640.0, 480.0, 40.0);
    let xs = report.scatter.iter().map(|p| p.0);
    let ys = report.scatter.iter().map(|p| p.1);
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let sx = |x: f64| pad + (x - x0) / (x1 - x0).max(1e-12) * (w - 2.0 * pad);
    let sy = |y: f64| h - pad - (y - y0) / (y1 - y0).max(1e-12) * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\" stroke=\"#ccc\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">component 0</text>\
         <text x=\"12\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 {})\">component 1</text>",
        w / 2.0,
        h - 10.0,
        h / 2.0,
        h / 2.0
    );
    // Unselected first, so the selection is drawn on top.
    for (x, y, dim) in report.scatter.iter().filter(|p| p.2.is_none()).chain(report.scatter.iter().filter(|p| p.2.is_some())) {
        let (fill, r) = match dim {
            Some(d) => (COLOURS[*d as usize % COLOURS.len()], 2.5),
            None => ("#bbbbbb", 1.5),
        };
        let _ = write!(svg, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{fill}\" fill-opacity=\"0.7\"/>", sx(*x), sy(*y));
    }
    svg.push_str("</svg>");
    svg
}

/// The HTML report.
pub fn html(report: &SelectReport, options: &SelectOptions) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>odis select report</title><style>\
         body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right}\
         td.t{text-align:left}blockquote{margin:.3em 0 .8em 1em;color:#444;font-size:.9em}</style></head><body>",
    );
    let _ = write!(out, "<h1>odis select</h1><pre>{}</pre>", escape(&text(report, options)));
    // The same figures for a program that reads the page (not run: data).
    let data = json(report, options).to_string().replace("</", "<\\/");
    let _ = write!(out, "<script type=\"application/json\" id=\"odis-report\">{data}</script>");
    let odis = options.method == SelectionMethod::Odis;
    let (group, groups) = options.method.group_names();
    let _ = write!(
        out,
        "<h2>Documents on the first two components</h2><p>A uniform sample of {} documents; grey: not selected; \
         coloured by the {group} that selected them",
        report.scatter.len()
    );
    if odis {
        out.push(':');
        for c in 0..report.loadings.len() {
            let _ = write!(out, " <span style=\"color:{}\">&#9679; pc {c}</span>", COLOURS[c % COLOURS.len()]);
        }
    } else {
        let _ = write!(out, " (method {}; the colours repeat every {} {groups})", options.method.name(), COLOURS.len());
    }
    let _ = write!(out, "</p>{}", scatter_svg(report));
    out.push_str("<h2>Loadings</h2><table><tr><th class=\"t\">dimension</th>");
    for c in 0..report.loadings.len() {
        let _ = write!(out, "<th>pc {c}</th>");
    }
    out.push_str("</tr>");
    for (d, name) in report.dimension_names.iter().enumerate() {
        let _ = write!(out, "<tr><td class=\"t\">{}</td>", escape(name));
        for c in 0..report.loadings.len() {
            let _ = write!(out, "<td>{:+.3}</td>", report.loadings[c][d]);
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><h2>What the quality filter removed</h2>");
    if report.removed.is_empty() {
        out.push_str("<p>Nothing.</p>");
    } else {
        out.push_str("<table><tr><th class=\"t\">rule</th><th>documents</th><th class=\"t\">example</th></tr>");
        for r in &report.removed {
            let _ = write!(
                out,
                "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"t\"><blockquote>{}</blockquote></td></tr>",
                escape(&r.rule),
                r.documents,
                escape(&r.example)
            );
        }
        out.push_str("</table>");
    }
    let d = &report.dedup;
    let _ = write!(
        out,
        "<h2>What dedup removed</h2><p>{}: {} of the {} documents that passed the filter removed as copies, in {} \
         clusters (each keeps its smallest id); the largest cluster holds {} documents.</p>",
        escape(&options.dedup.describe()),
        d.removed,
        report.rows_kept,
        d.clusters,
        d.largest
    );
    if !d.pairs.is_empty() {
        out.push_str("<p>The pairs least alike:</p><table><tr><th class=\"t\">removed</th><th class=\"t\">kept</th><th>similarity</th></tr>");
        for p in &d.pairs {
            let _ = write!(
                out,
                "<tr><td class=\"t\">id {}<blockquote>{}</blockquote></td><td class=\"t\">id {}<blockquote>{}</blockquote></td><td>{:.2}</td></tr>",
                escape(&p.id),
                escape(&p.text),
                escape(&p.duplicate_of),
                escape(&p.original),
                p.similarity
            );
        }
        out.push_str("</table>");
    }
    // The top of each component; for another method, the first documents it
    // drew from each of its first groups (in the method's order within a
    // group, with what its odis_score holds: see score_name).
    let (title, shown): (String, Vec<(i32, String)>) = if odis {
        let shown = (0..report.loadings.len())
            .map(|c| {
                let meaning: Vec<String> = top_loadings(report, c, 3).iter().map(|(n, l)| format!("{l:+.2} {n}")).collect();
                (c as i32, format!("pc {c}: {}", meaning.join(", ")))
            })
            .collect();
        ("Top documents of each component".into(), shown)
    } else {
        let mut dims: Vec<i32> = report.examples.iter().map(|e| e.dim).collect();
        dims.dedup();
        dims.truncate(EXAMPLE_GROUPS);
        let title = format!("First documents of {} of the {} {groups}", dims.len(), report.dimensions.len());
        let shown = dims
            .into_iter()
            .map(|d| {
                let rows = report.dimensions.iter().find(|g| g.dim as i32 == d).map_or(0, |g| g.selected);
                (d, format!("{group} {d}: {rows} documents selected"))
            })
            .collect();
        (title, shown)
    };
    let _ = write!(out, "<h2>{}</h2>", escape(&title));
    for (c, heading) in shown {
        let _ = write!(out, "<h3>{}</h3>", escape(&heading));
        for e in report.examples.iter().filter(|e| e.dim == c) {
            let _ = write!(
                out,
                "<p>#{} &middot; id {} &middot; {} {:.3}</p><blockquote>{}</blockquote>",
                e.rank,
                escape(&e.id),
                options.method.score_name(),
                e.score,
                escape(&e.text)
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// The version of the report's JSON layout (docs/report-json.md): raised
/// when a field changes meaning or goes; new fields do not raise it.
pub const REPORT_JSON_VERSION: u32 = 1;

/// The report as JSON, for pipelines: every figure of the text and HTML
/// reports, from the same [`SelectReport`] (docs/report-json.md).
pub fn json(report: &SelectReport, options: &SelectOptions) -> serde_json::Value {
    use serde_json::json;
    let available = report.rows_kept.saturating_sub(report.dedup.removed);
    let components: Vec<_> = (0..report.loadings.len())
        .map(|c| {
            json!({
                "component": c,
                "explained_variance_ratio": report.explained_variance_ratio.get(c),
                "loadings": report.dimension_names.iter().zip(&report.loadings[c])
                    .map(|(name, loading)| json!({"dimension": name, "loading": loading})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let groups: Vec<_> = report
        .dimensions
        .iter()
        .map(|d| {
            let size = report.size.components.iter().find(|c| c.dim as usize == d.dim);
            json!({
                "dim": d.dim,
                "quota": d.quota,
                "selected": d.selected,
                "threshold": d.threshold,
                "overlap": d.overlap,
                "overlap_ratio": d.overlap_ratio,
                "cost": d.cost.map(|c| json!({"quota": c.quota, "selected": c.selected, "overlap": c.overlap, "overlap_ratio": c.overlap_ratio})),
                "tokens": size.and_then(|s| s.tokens),
                "bytes": size.map(|s| s.bytes),
            })
        })
        .collect();
    json!({
        "report_version": REPORT_JSON_VERSION,
        "versions": {"odis": env!("CARGO_PKG_VERSION"), "datafusion": datafusion::DATAFUSION_VERSION},
        "command": std::env::args().collect::<Vec<_>>(),
        "options": {
            "input": options.input,
            "input_format": options.input_format.map(|f| f.name()),
            "text_column": options.text_column,
            "id_column": options.id_column,
            "budget": options.budget.to_string(),
            "components": options.components,
            "scores": source(options),
            "filter": options.filter.text(),
            "dedup": options.dedup.describe(),
            "scaling": options.scaling.name(),
            "method": options.method.name(),
            "clusters": options.clusters,
            "out": options.out.display().to_string(),
            "out_files": options.out_files,
            "annotations": options.annotations,
            "tokenizer": report.size.tokenizer,
        },
        "rows": {
            "in": report.rows_in,
            "passed_filter": report.rows_kept,
            "removed_by_filter": report.rows_in.saturating_sub(report.rows_kept),
            "removed_as_duplicates": report.dedup.removed,
            "kept": available,
            "selected": report.rows_out,
        },
        "shortfall": shortfall(report, options),
        "filter": report.removed.iter().map(|r| json!({"rule": r.rule, "documents": r.documents, "example": r.example})).collect::<Vec<_>>(),
        "dedup": {
            "removed": report.dedup.removed,
            "clusters": report.dedup.clusters,
            "largest_cluster": report.dedup.largest,
            "least_alike_pairs": report.dedup.pairs.iter().map(|p| json!({
                "id": p.id, "duplicate_of": p.duplicate_of, "similarity": p.similarity, "text": p.text, "original": p.original,
            })).collect::<Vec<_>>(),
        },
        "pca": {"dimensions": report.dimension_names, "components": components},
        "selection": groups,
        "size": {
            "rows": report.rows_out,
            "tokens": report.size.tokens(),
            "bytes": report.size.bytes(),
            "available_tokens": report.size.available_tokens,
            "available_bytes": report.size.available_bytes,
        },
        "examples": report.examples.iter().map(|e| json!({"dim": e.dim, "rank": e.rank, "id": e.id, "score": e.score, "text": e.text})).collect::<Vec<_>>(),
        "diversity": report.diversity.as_ref().map(|d| json!({"vendi_selection": d.selection, "vendi_random": d.random})),
        "stages": report.stages.iter().map(|(stage, t)| json!({"stage": stage, "seconds": t.as_secs_f64()})).collect::<Vec<_>>(),
        "total_seconds": report.total.as_secs_f64(),
    })
}
