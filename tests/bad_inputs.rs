//! One table of bad inputs across the SQL functions, the engine, the shell
//! and `odis select`, run through the binary as a user would: each must end
//! in exactly one `Error: ...` line that names the problem, with exit status
//! 1 (2 for a usage error), or in a correct answer. Never a panic, a hang, or
//! an output file left behind.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, odis, repo_root, run};

/// What a case must end in.
enum Expect {
    /// Exit status 1, one `Error:` line containing every needle.
    Error(&'static [&'static str]),
    /// Exit status 2 (clap's usage error), the needles in what it printed.
    Usage(&'static [&'static str]),
    /// Exit status 0 and exactly this on stdout (CSV with its header).
    Answer(&'static str),
    /// Exit status 0 and one `odis select: warning:` line on stderr
    /// containing every needle: an answer that is not what was asked.
    Warning(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    expect: Expect,
}

fn sql(name: &'static str, statement: impl AsRef<str>, expect: Expect) -> Case {
    Case {
        name,
        args: ["-q", "--format", "csv", "-c", statement.as_ref()].map(String::from).to_vec(),
        expect,
    }
}

fn cli(name: &'static str, args: &[&str], expect: Expect) -> Case {
    Case {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        expect,
    }
}

/// `odis select` on `input` into `out.parquet`, plus `extra`.
fn select(name: &'static str, input: &str, extra: &[&str], expect: Expect) -> Case {
    let mut args = vec!["select", "--input", input, "--out", "out.parquet"];
    args.extend_from_slice(extra);
    cli(name, &args, expect)
}

/// Runs `command`, killing it if it has not finished within `limit`.
fn run_bounded(command: &mut Command, limit: Duration) -> Result<Run, String> {
    let child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("odis runs");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => Ok(output.expect("wait for odis").into()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            Err(format!("still running after {limit:?}"))
        }
    }
}

/// Makes the inputs the cases read, in `dir`.
fn fixtures(dir: &Path) {
    let statements = [
        // 300 documents with a 3-dimensional score vector.
        "COPY (SELECT x AS id, 'Document ' || x || ' is a plain English paragraph about the history of maps, \
         rivers and the towns that grew beside them. ' || repeat('It has several sentences of ordinary prose. ', 12) AS text, \
         make_array(sin(x), cos(x * 1.3), x * 0.01) AS s, x % 7 AS small FROM generate_series(1, 300) t(x)) TO 'good.parquet'",
        // Scores that are all NaN or infinite.
        "COPY (SELECT x AS id, make_array(CASE x % 3 WHEN 0 THEN CAST('NaN' AS DOUBLE) WHEN 1 THEN CAST('inf' AS DOUBLE) \
         ELSE CAST('-inf' AS DOUBLE) END, CAST('NaN' AS DOUBLE)) AS s FROM generate_series(1, 50) t(x)) TO 'nan.parquet'",
        // Vectors of two lengths.
        "COPY (SELECT x AS id, CASE WHEN x = 10 THEN make_array(1.0, 2.0) ELSE make_array(1.0 * x, 2.0, 3.0) END AS s \
         FROM generate_series(1, 40) t(x)) TO 'ragged.parquet'",
        "COPY (SELECT CASE WHEN id = 5 THEN NULL ELSE id END AS id, text, s FROM 'good.parquet') TO 'nullid.parquet'",
        "COPY (SELECT id % 20 AS id, text, s FROM 'good.parquet') TO 'dupid.parquet'",
    ];
    let mut command = odis(dir);
    for statement in statements {
        command.args(["-c", statement]);
    }
    run(&mut command).ok();
    let good = std::fs::read(dir.join("good.parquet")).unwrap();
    std::fs::write(dir.join("truncated.parquet"), &good[..good.len() / 2]).unwrap();
    let mut corrupt = b"PAR1".to_vec();
    corrupt.extend((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    corrupt.extend_from_slice(b"PAR1");
    std::fs::write(dir.join("corrupt.parquet"), corrupt).unwrap();
    std::fs::write(dir.join("notparquet.parquet"), "id,text\n1,hello\n").unwrap();
    std::fs::write(dir.join("a-file"), "not a directory").unwrap();
    // Model directories: empty, and with files that are not what they claim.
    std::fs::create_dir_all(dir.join("model-empty")).unwrap();
    std::fs::create_dir_all(dir.join("model-corrupt")).unwrap();
    std::fs::write(dir.join("model-corrupt/model.onnx"), b"this is not an ONNX graph").unwrap();
    std::fs::write(dir.join("model-corrupt/tokenizer.json"), b"{\"not\": \"a tokenizer\"}").unwrap();
    std::fs::write(dir.join("undefined-var.sql"), "SELECT * FROM '${corpus}';\n").unwrap();
    // A work directory kept by a run, then marked as an older layout.
    let mut kept = odis(dir);
    kept.args(["select", "--input", "good.parquet", "--out", "old.parquet", "--work-dir", "old-work", "--keep-work"]);
    kept.args(["--scores", "s", "--components", "2", "--filter", "none", "--dedup", "none", "--budget", "10"]);
    run(&mut kept).ok();
    let manifest = dir.join("old-work/manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("the kept run wrote its manifest");
    let older = text.replacen(&format!("\"format\": {WORK_DIR_FORMAT}"), &format!("\"format\": {}", WORK_DIR_FORMAT - 1), 1);
    assert_ne!(older, text, "the manifest names its format: {text}");
    std::fs::write(&manifest, older).unwrap();
}

/// The layout version `odis select` writes into a work directory's manifest.
const WORK_DIR_FORMAT: u32 = 5;

fn cases() -> Vec<Case> {
    use Expect::*;
    let script = repo_root().join("sql/select.sql").display().to_string();
    let mut cases = vec![
        // The engine: inputs that are not what they claim to be.
        sql("missing file", "SELECT count(*) FROM 'nowhere.parquet'", Error(&["nowhere.parquet", "no such file"])),
        sql("truncated Parquet", "SELECT count(*) FROM 'truncated.parquet'", Error(&["truncated.parquet"])),
        sql("corrupt Parquet", "SELECT count(*) FROM 'corrupt.parquet'", Error(&["corrupt.parquet"])),
        sql("a CSV named .parquet", "SELECT count(*) FROM 'notparquet.parquet'", Error(&["notparquet.parquet"])),
        sql("near_duplicates: a column of numbers", "CREATE VIEW v AS SELECT * FROM 'good.parquet'; SELECT * FROM near_duplicates('v', 'id', 'small')", Error(&["text column 'small' holds Int64, neither text nor text_minhash signatures"])),
        sql("near_duplicates: NULL ids", "CREATE VIEW v AS SELECT * FROM 'nullid.parquet'; SELECT * FROM near_duplicates('v', 'id', 'text')", Error(&["id column 'id' is NULL in 1 rows of 'v'"])),
        sql("near_duplicates: an id on two rows", "CREATE VIEW v AS SELECT * FROM 'dupid.parquet'; SELECT * FROM near_duplicates('v', 'id', 'text')", Error(&["appears in more than one row of 'v'"])),
        sql("near_duplicates: a bad spec", "CREATE VIEW v AS SELECT * FROM 'good.parquet'; SELECT * FROM near_duplicates('v', 'id', 'text', 'rows=0')", Error(&["`spec` 'rows=0': rows must be an integer from 1 to 1024"])),
        sql("near_duplicates: NULL texts are no one's copies", "CREATE VIEW v AS SELECT id, CASE WHEN id <= 2 THEN NULL ELSE 'x' || id END AS text FROM 'good.parquet' WHERE id <= 4; SELECT count(*) AS n FROM near_duplicates('v', 'id', 'text')", Answer("n\n0\n")),
        sql("near_duplicates: empty texts are one cluster", "CREATE VIEW v AS SELECT id, CASE WHEN id <= 3 THEN '' ELSE ' ' END AS text FROM 'good.parquet' WHERE id <= 5; SELECT count(*) AS n, min(duplicate_of) AS of FROM near_duplicates('v', 'id', 'text')", Answer("n,of\n4,1\n")),
        sql("near_duplicates: signatures of another spec", "CREATE VIEW v AS SELECT id, minhash_pack(text_minhash(text, 'bits=8')) AS sig FROM 'good.parquet'; SELECT * FROM near_duplicates('v', 'id', 'sig')", Error(&["column 'sig' holds signatures of 112 bytes, the spec", "asks for 448; give the spec the signatures were made with"])),
        sql("ccs_select: hard is high or low", "CREATE VIEW v AS SELECT * FROM 'good.parquet'; SELECT * FROM ccs_select('v', 'id', 'small', 2, 'hard=easy')", Error(&["ccs_select: `spec` 'hard=easy': hard must be 'high'", "or 'low'", "got 'easy'"])),
        sql("minhash_band: a band out of range", "SELECT minhash_band(text_minhash(text), 15) FROM 'good.parquet'", Error(&["minhash_band: `band` must be an integer literal from 1 to the spec's bands (14), got 15"])),
        sql("minhash_pack: not a signature", "SELECT minhash_pack(s) FROM 'good.parquet'", Error(&["minhash_pack: `signature` must be a text_minhash signature"])),
        sql("an empty table is an answer", "SELECT count(*) AS n FROM 'good.parquet' WHERE id < 0", Answer("n\n0\n")),
        sql("syntax error", "SELEC 1", Error(&["SELEC"])),
        sql("unknown column", "SELECT nope FROM 'good.parquet'", Error(&["nope"])),
        sql("unknown table", "SELECT * FROM no_such_table", Error(&["no_such_table", "not found"])),
        sql("divide by zero", "SELECT id / (small - small) FROM 'good.parquet'", Error(&["Divide by zero"])),
        sql("bad cast", "SELECT CAST(text AS BIGINT) FROM 'good.parquet'", Error(&["Cannot cast", "Int64"])),
        sql(
            "external table at a missing location",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'no/such/dir/'",
            Error(&["no/such/dir"]),
        ),
        sql("an S3 URL without a bucket", "SELECT * FROM 's3:///key.parquet'", Error(&["s3://"])),
        sql("unknown S3 option", "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/k/' OPTIONS ('aws.endpoit' 'x')", Error(&["unknown S3 option 'aws.endpoit'"])),
        sql("COPY under a file", "COPY (SELECT 1 AS x) TO 'a-file/out.parquet'", Error(&["a-file"])),
        // Settings.
        sql("odis.sessions = 0 chooses for the machine", "SET odis.sessions = 0", Answer("")),
        sql("odis.sessions absurd", "SET odis.sessions = 100000", Error(&["odis.sessions = 100000 is more than 256"])),
        sql("odis.threads not a number", "SET odis.threads = 'many'", Error(&["odis.threads = 'many'", "usize"])),
        sql("odis.micro_batch = 0", "SET odis.micro_batch = 0", Error(&["odis.micro_batch must be at least 1"])),
        sql("odis.device typo", "SET odis.device = 'tpu'", Error(&["odis.device must be 'cpu' or 'cuda:N'"])),
        sql("odis.dedup_memory unparsable", "SET odis.dedup_memory = 'lots'", Error(&["odis.dedup_memory = 'lots'", "SET odis.dedup_memory = '256M'"])),
        sql("odis.dedup_memory too small", "SET odis.dedup_memory = '1M'", Error(&["too small", "at least 64 MiB"])),
        sql("odis.dedup_memory unlimited", "SET odis.dedup_memory = 'unlimited'", Answer("")),
        // pca_fit / pca_project / pca_loadings.
        sql("pca_fit k = 0", "SELECT pca_fit(s, 0) FROM 'good.parquet'", Error(&["pca_fit: `k` must be at least 1"])),
        sql("pca_fit k > d", "SELECT pca_fit(s, 4) FROM 'good.parquet'", Error(&["pca_fit: `k` = 4 is larger than the number of score dimensions (3)"])),
        sql("pca_fit k a column", "SELECT pca_fit(s, small) FROM 'good.parquet'", Error(&["pca_fit: `k` must be an integer literal"])),
        sql("pca_fit on text", "SELECT pca_fit(text, 2) FROM 'good.parquet'", Error(&["pca_fit: `scores` must be a list of numbers"])),
        sql("pca_fit standardize not a boolean", "SELECT pca_fit(s, 2, 'yes') FROM 'good.parquet'", Error(&["pca_fit: `standardize` must be true or false"])),
        sql("pca_fit on ragged vectors", "SELECT pca_fit(s, 2) FROM 'ragged.parquet'", Error(&["pca_fit: every `scores` vector must have the same length"])),
        sql("pca_fit on NaN and infinities", "SELECT pca_fit(s, 1) FROM 'nan.parquet'", Error(&["pca_fit: needs at least 2 rows with a complete, finite `scores` vector, got 0"])),
        sql("pca_fit on no rows", "SELECT pca_fit(s, 1) FROM 'good.parquet' WHERE id < 0", Error(&["pca_fit: needs at least 2 rows"])),
        sql(
            "pca_project with a non-model",
            "SELECT pca_project(s, named_struct('a', 1)) FROM 'good.parquet'",
            Error(&["pca_project: `model` must be the struct returned by pca_fit"]),
        ),
        sql(
            "pca_project with vectors of another length",
            "WITH m AS (SELECT pca_fit(s, 2) AS model FROM 'good.parquet') SELECT pca_project(make_array(1.0, 2.0), m.model) FROM m",
            Error(&["pca_project: `scores` has 2 values but the model was fitted on 3"]),
        ),
        sql(
            "pca_loadings with too few names",
            "WITH m AS (SELECT pca_fit(s, 2) AS model FROM 'good.parquet') SELECT unnest(pca_loadings(model, ['a', 'b'])) FROM m",
            Error(&["pca_loadings: `names` has 2 entries but the model has 3 dimensions"]),
        ),
        sql(
            "pca_project of NaN scores is NULL",
            "WITH m AS (SELECT pca_fit(s, 2) AS model FROM 'good.parquet') SELECT count(pca_project(make_array(CAST('NaN' AS DOUBLE), 1.0, 2.0), m.model)) AS n FROM m",
            Answer("n\n0\n"),
        ),
        // quantile_fit / quantile_transform.
        sql("quantile_fit knots too few", "SELECT quantile_fit(s, 2) FROM 'good.parquet'", Error(&["quantile_fit: `knots` must be between 3 and 10001, got 2"])),
        sql("quantile_fit on NaN only", "SELECT quantile_fit(s) FROM 'nan.parquet'", Error(&["quantile_fit: no row has a complete, finite `scores` vector"])),
        sql("quantile_fit on ragged vectors", "SELECT quantile_fit(s) FROM 'ragged.parquet'", Error(&["quantile_fit: every `scores` vector must have the same length"])),
        sql(
            "quantile_transform with a PCA model",
            "WITH m AS (SELECT pca_fit(s, 2) AS model FROM 'good.parquet') SELECT quantile_transform(s, m.model) FROM 'good.parquet', m",
            Error(&["quantile_transform: `model` must be the struct returned by quantile_fit"]),
        ),
        // The text functions.
        sql("quality_filter unknown filter", "SELECT quality_filter(text, 'gopherr') FROM 'good.parquet'", Error(&["quality_filter: `spec` 'gopherr': unknown filter or rule 'gopherr'"])),
        sql("quality_filter bad threshold", "SELECT quality_filter(text, 'gopher_min_words=many') FROM 'good.parquet'", Error(&["rule 'gopher_min_words' takes a whole number"])),
        sql("quality_filter ratio out of range", "SELECT quality_filter(text, 'gopher_min_alpha_words_ratio=1.5') FROM 'good.parquet'", Error(&["takes a number between 0 and 1"])),
        sql("quality_filter spec a column", "SELECT quality_filter(text, text) FROM 'good.parquet'", Error(&["quality_filter: `spec` must be a string literal"])),
        sql("quality_filter on numbers", "SELECT quality_filter(id) FROM 'good.parquet'", Error(&["quality_filter: `text` must be a string column, got Int64"])),
        sql("quality_ratings on numbers", "SELECT quality_ratings_vector(id) FROM 'good.parquet'", Error(&["quality_ratings_vector: `text` must be a string column"])),
        sql("quality_signals with two arguments", "SELECT quality_signals_vector(text, text) FROM 'good.parquet'", Error(&["quality_signals_vector"])),
        sql("quality_ratings of NULL is NULL", "SELECT count(quality_ratings_vector(CAST(NULL AS VARCHAR))) AS n", Answer("n\n0\n")),
        sql("quality_filter of empty text is an answer", "SELECT quality_filter('')['keep'] AS keep", Answer("keep\nfalse\n")),
        // vendi_score.
        sql("vendi_score q = 0", "SELECT vendi_score(s, 0) FROM 'good.parquet'", Error(&["vendi_score: `q` must be a number > 0 or 'inf', got 0"])),
        sql("vendi_score q a column", "SELECT vendi_score(s, small) FROM 'good.parquet'", Error(&["vendi_score: `q` must be a number > 0 or 'inf'"])),
        sql("vendi_score on text", "SELECT vendi_score(text) FROM 'good.parquet'", Error(&["vendi_score: `embedding` must be a list of numbers"])),
        sql("vendi_score on NaN", "SELECT vendi_score(s) FROM 'nan.parquet'", Error(&["vendi_score: an embedding holds a NULL, NaN or infinite value"])),
        sql("vendi_score on one row", "SELECT vendi_score(s) FROM 'good.parquet' WHERE id = 1", Error(&["vendi_score: needs at least 2 embeddings"])),
        // The selection functions.
        sql("top_k_per_dim on a file name", "SELECT * FROM top_k_per_dim('good.parquet', 'id', 's', 5)", Error(&["top_k_per_dim: no table or view named 'good.parquet'"])),
        sql("top_k_per_dim too few arguments", "SELECT * FROM top_k_per_dim('t', 'id', 's')", Error(&["top_k_per_dim takes 4, 5 or 6 arguments, got 3"])),
        sql("top_k_per_dim unknown column", with_docs("SELECT * FROM top_k_per_dim('docs', 'ident', 's', 5)"), Error(&["top_k_per_dim: unknown column 'ident' in 'docs'"])),
        sql("top_k_per_dim scores not a list", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 'text', 5)"), Error(&["top_k_per_dim: scores column 'text' must be a list of numbers"])),
        sql("top_k_per_dim budget 0", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', 0)"), Error(&["top_k_per_dim: `budget` must be at least 1 row, got 0"])),
        sql("top_k_per_dim budget 1.5", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', 1.5)"), Error(&["a fractional `budget` must be in (0, 1), got 1.5"])),
        sql("top_k_per_dim budget text", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', 'many')"), Error(&["top_k_per_dim: `budget` must be a number of rows"])),
        sql("top_k_per_dim weights too few", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', 5, [1, 2])"), Error(&["`weights` has 2 entries but the scores have 3 dimensions"])),
        sql("top_k_per_dim negative weight", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', 5, [1, -1, 1])"), Error(&["`weights` must be finite and non-negative, got -1"])),
        sql("top_k_per_dim NULL ids", with_table("nullid.parquet", "SELECT * FROM top_k_per_dim('docs', 'id', 's', 5)"), Error(&["top_k_per_dim: id column 'id' has NULL values"])),
        sql("top_k_per_dim duplicate ids", with_table("dupid.parquet", "SELECT * FROM top_k_per_dim('docs', 'id', 's', 30)"), Error(&["appears in more than one row of 'docs'"])),
        sql("top_k_per_dim ragged", with_table("ragged.parquet", "SELECT * FROM top_k_per_dim('docs', 'id', 's', 5)"), Error(&["score vectors have different lengths: the row with id 10 has 2 scores"])),
        sql("top_k_per_dim of NaN only selects nothing", with_table("nan.parquet", "SELECT count(*) AS n FROM top_k_per_dim('docs', 'id', 's', 5)"), Answer("n\n0\n")),
        sql("sample_by_average temperature 0", with_docs("SELECT * FROM sample_by_average('docs', 'id', 's', 5, 1, 0)"), Error(&["sample_by_average: `temperature` must be a positive number"])),
        sql("sample_uniform seed text", with_docs("SELECT * FROM sample_uniform('docs', 'id', 5, 'x')"), Error(&["sample_uniform: `seed` must be an integer"])),
        // odis_score and its models.
        sql("odis_score missing model", "SELECT odis_score(text, 'no/such/model') FROM 'good.parquet'", Error(&["no/such/model", "nor an existing directory"])),
        sql("odis_score empty model directory", "SELECT odis_score(text, 'model-empty') FROM 'good.parquet'", Error(&["model-empty", "model.onnx"])),
        sql("odis_score corrupt model", "SELECT odis_score(text, 'model-corrupt') FROM 'good.parquet'", Error(&["model-corrupt"])),
        sql("odis_score on numbers", "SELECT odis_score(id, 'model-corrupt') FROM 'good.parquet'", Error(&["odis_score", "text"])),
        // The shell's own arguments.
        cli("unknown flag", &["--frobnicate"], Usage(&["--frobnicate"])),
        cli("unknown format", &["--format", "xml", "-c", "SELECT 1"], Usage(&["xml"])),
        cli("-v without a value", &["-v", "novalue", "-c", "SELECT 1"], Usage(&["NAME=VALUE"])),
        cli("--memory-limit unparsable", &["--memory-limit", "lots", "-c", "SELECT 1"], Usage(&["--memory-limit", "4G"])),
        cli("--memory-limit too small", &["--memory-limit", "1M", "-c", "SELECT 1"], Usage(&["--memory-limit", "64 MiB"])),
        cli("a missing script", &["-f", "no-such-script.sql"], Error(&["no-such-script.sql"])),
        cli("a script variable not given", &["-f", "undefined-var.sql"], Error(&["corpus", "-v corpus=VALUE"])),
        cli("--model without a directory", &["--model", "m=no/such/dir", "-c", "SELECT 1"], Error(&["no/such/dir"])),
        cli("select.sql without its variables", &["-f", &script], Error(&["-v input=VALUE"])),
        // The cluster's processes and addresses.
        cli("--cluster not df://", &["--cluster", "http://127.0.0.1:1", "-c", "SELECT 1"], Error(&["--cluster 'http://127.0.0.1:1'", "df://HOST:PORT"])),
        cli("--cluster without a port", &["--cluster", "df://localhost", "-c", "SELECT 1"], Error(&["no port", "df://HOST:PORT"])),
        cli("--cluster with no scheduler", &["--cluster", "df://127.0.0.1:9", "-c", "SELECT 1"], Error(&["cannot reach a scheduler at df://127.0.0.1:9", "odis scheduler --bind 127.0.0.1:9"])),
        cli("executor without --scheduler", &["executor"], Usage(&["--scheduler"])),
        cli("executor --scheduler without a port", &["executor", "--scheduler", "localhost"], Usage(&["HOST:PORT"])),
        cli("executor --concurrent-tasks 0", &["executor", "--scheduler", "127.0.0.1:9", "--concurrent-tasks", "0"], Usage(&["--concurrent-tasks"])),
        cli("executor with no scheduler", &["executor", "--scheduler", "127.0.0.1:9", "--bind", "127.0.0.1:50987"], Error(&["no scheduler at 127.0.0.1:9", "odis scheduler --bind 127.0.0.1:9"])),
        cli("executor --bind on port 65535", &["executor", "--scheduler", "127.0.0.1:9", "--bind", "127.0.0.1:65535"], Usage(&["PORT+1", "65534"])),
        cli("executor --bind on port 0", &["executor", "--scheduler", "127.0.0.1:9", "--bind", "127.0.0.1:0"], Usage(&["fixed port", "65534"])),
        cli("scheduler --bind unparsable", &["scheduler", "--bind", "nowhere"], Usage(&["HOST:PORT"])),
        // odis select: everything that can be known is checked before scoring.
        select("select: missing input", "nowhere.parquet", &[], Error(&["nowhere.parquet"])),
        select("select: corrupt input", "corrupt.parquet", &[], Error(&["corrupt.parquet"])),
        select("select: truncated input", "truncated.parquet", &[], Error(&["truncated.parquet"])),
        select("select: no text column", "good.parquet", &["--text-column", "body"], Error(&["--text-column 'body' is not a column"])),
        select("select: text column of numbers", "good.parquet", &["--text-column", "id"], Error(&["--text-column 'id' holds Int64, not text"])),
        select("select: no id column", "good.parquet", &["--id-column", "doc"], Error(&["--id-column 'doc' is not a column"])),
        select("select: NULL ids", "nullid.parquet", &[], Error(&["--id-column 'id' is NULL in 1 of the 300 rows"])),
        select("select: budget over the corpus", "good.parquet", &["--budget", "5000"], Error(&["--budget 5000 is larger than the corpus (300 rows)"])),
        select("select: budget not a number", "good.parquet", &["--budget", "lots"], Usage(&["--budget"])),
        select("select: budget over 100%", "good.parquet", &["--budget", "150%"], Usage(&["between 0% and 100%"])),
        select("select: no components", "good.parquet", &["--components", "0"], Error(&["--components must be at least 1"])),
        select("select: components over the dimensions", "good.parquet", &["--scores", "s", "--filter", "none", "--components", "4"], Error(&["--components 4 is more than the raw dimensions"])),
        select("select: scores not a list", "good.parquet", &["--scores", "text"], Error(&["--scores 'text' holds Utf8, not a list"])),
        select("select: unknown filter", "good.parquet", &["--filter", "gopherr"], Error(&["--filter 'gopherr': unknown filter or rule"])),
        select("select: unknown scaling", "good.parquet", &["--scaling", "log"], Usage(&["log"])),
        select("select: unknown dedup", "good.parquet", &["--dedup", "fuzzy"], Usage(&["expected minhash, exact, semantic or none, got 'fuzzy'"])),
        select("select: semantic dedup without embeddings", "good.parquet", &["--dedup", "semantic"], Error(&["--dedup semantic compares document embeddings; pass --embed DIR"])),
        select("select: bad SemDeDup spec", "good.parquet", &["--dedup", "semantic", "--dedup-spec", "eps=2"], Error(&["--dedup semantic: eps must be a number in (0, 1)"])),
        select("select: unknown method", "good.parquet", &["--method", "best"], Usage(&["expected one of odis, kmeans, ccs, dpp, mig, random, got 'best'"])),
        select("select: method without embeddings", "good.parquet", &["--method", "dpp"], Error(&["--method dpp works on document embeddings; pass --embed DIR"])),
        select("select: missing embedding model", "good.parquet", &["--embed", "no/such/model"], Error(&["--embed no/such/model", "does not exist"])),
        select("select: a budget ccs cannot fill", "good.parquet", &["--budget", "300", "--filter", "none", "--dedup", "none", "--method", "ccs"], Warning(&["the budget asks for 300 rows and 210 were selected: ccs prunes the hardest 30%"])),
        select("select: no clusters", "good.parquet", &["--method", "ccs", "--clusters", "0"], Error(&["--clusters must be at least 1"])),
        select("select: bad MinHash spec", "good.parquet", &["--dedup-spec", "threshold=2"], Error(&["--dedup minhash: threshold must be a number in (0, 1]"])),
        select("select: datatrove spec with a threshold", "good.parquet", &["--dedup-spec", "datatrove,threshold=0.7"], Error(&["--dedup minhash: 'datatrove' links every pair of equal bands", "leave threshold out"])),
        select("select: MinHash spec without minhash", "good.parquet", &["--dedup", "exact", "--dedup-spec", "bands=4"], Usage(&["--dedup-spec sets MinHash or SemDeDup settings"])),
        select("select: --out-files 0", "good.parquet", &["--out-files", "0"], Error(&["--out-files must be at least 1"])),
        select("select: zero tokens", "good.parquet", &["--budget", "0 tokens"], Usage(&["the budget must be at least 1, got '0 tokens'"])),
        select("select: negative tokens", "good.parquet", &["--budget=-5 tokens"], Usage(&["the budget must be a positive amount"])),
        select("select: unknown budget unit", "good.parquet", &["--budget", "30 widgets"], Usage(&["unknown unit 'widgets'", "tokens (30B tokens)"])),
        select("select: budget without a unit", "good.parquet", &["--budget", "30B"], Usage(&["say '30B tokens' for tokens, '30GB' for bytes"])),
        select("select: tokens without a tokenizer", "good.parquet", &["--budget", "5K tokens"], Error(&["counts tokens: pass --tokenizer DIR", "--tokenizer approx"])),
        select("select: tokenizer without tokenizer.json", "good.parquet", &["--budget", "5K tokens", "--tokenizer", "."], Error(&["--tokenizer . has no tokenizer.json"])),
        select("select: tokens for a method that counts rows", "good.parquet", &["--budget", "5K tokens", "--tokenizer", "approx", "--method", "ccs"], Error(&["--method ccs takes a row budget"])),
        select("select: work directory under a file", "good.parquet", &["--work-dir", "a-file/work"], Error(&["--work-dir a-file/work: cannot create it"])),
        select(
            "select: a work directory of an older layout",
            "good.parquet",
            &["--scores", "s", "--components", "2", "--filter", "none", "--dedup", "none", "--budget", "10", "--work-dir", "old-work"],
            Error(&["--work-dir old-work holds the scores of another run: its layout is version 4", "remove it to score again"]),
        ),
        sql(
            "near_duplicates: clusters that do not settle within the rounds",
            "CREATE TABLE chain AS SELECT id, CAST(sig AS INT UNSIGNED[]) AS sig FROM (VALUES \
             (1, [1,1,1,1, 2,2,2,2, 3,3,3,3, 4,4,4,4]), (2, [5,5,5,5, 2,2,2,2, 3,3,3,3, 4,4,4,4]), \
             (3, [5,5,5,5, 6,6,6,6, 3,3,3,3, 4,4,4,4]), (4, [5,5,5,5, 6,6,6,6, 7,7,7,7, 4,4,4,4])) AS t(id, sig); \
             SELECT * FROM near_duplicates('chain', 'id', 'sig', 'threshold=0.6,bands=4,rows=4,rounds=1')",
            Error(&["did not settle within rounds=1 of label propagation", "pass a spec with more rounds", "rounds=2"]),
        ),
        select("select: missing model", "good.parquet", &["--model", "no/such/model"], Error(&["model directory 'no/such/model' does not exist"])),
        select("select: fetch memory unparsable", "good.parquet", &["--fetch-memory", "lots"], Usage(&["--fetch-memory", "4G"])),
        select("select: fetch memory too small", "good.parquet", &["--fetch-memory", "1M"], Usage(&["--fetch-memory", "64 MiB"])),
        select("select: dedup memory unparsable", "good.parquet", &["--dedup-memory", "lots"], Usage(&["--dedup-memory", "4G"])),
        select("select: dedup memory too small", "good.parquet", &["--dedup-memory", "1M"], Usage(&["--dedup-memory", "64 MiB"])),
        select("select: shard size unparsable", "good.parquet", &["--shard-size", "big"], Usage(&["--shard-size"])),
        cli(
            "select: output in a missing directory",
            &["select", "--input", "good.parquet", "--out", "missing/dir/x.parquet"],
            Error(&["does not exist; create it first"]),
        ),
    ];
    cases.push(sql("a budget as a column", with_docs("SELECT * FROM top_k_per_dim('docs', 'id', 's', id)"), Error(&["`budget` must be a literal"])));
    cases
}

fn with_docs(query: &str) -> String {
    with_table("good.parquet", query)
}

/// `query` after registering `file` as the table `docs`.
fn with_table(file: &str, query: &str) -> String {
    format!("CREATE EXTERNAL TABLE docs STORED AS PARQUET LOCATION '{file}'; {query}")
}

/// What is in `dir` (names), to see that a failed case left nothing.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n != "history").collect();
    names.sort();
    names
}

fn check(case: &Case, out: &Run) -> Result<(), String> {
    let show = || format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr);
    if out.stderr.contains("panicked") || out.code == Some(101) {
        return Err(format!("panicked: {}", show()));
    }
    match &case.expect {
        Expect::Answer(expected) => {
            if out.code != Some(0) || out.stdout != *expected {
                return Err(format!("expected the answer {expected:?}: {}", show()));
            }
        }
        Expect::Usage(needles) => {
            if out.code != Some(2) {
                return Err(format!("expected a usage error (exit 2): {}", show()));
            }
            if let Some(n) = needles.iter().find(|n| !out.stderr.contains(*n)) {
                return Err(format!("'{n}' not in the usage error: {}", show()));
            }
        }
        Expect::Warning(needles) => {
            let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("odis select: warning: ")).collect();
            if out.code != Some(0) || warnings.len() != 1 {
                return Err(format!("expected exit 0 and one warning: {}", show()));
            }
            if let Some(n) = needles.iter().find(|n| !warnings[0].contains(*n)) {
                return Err(format!("'{n}' not in: {}", warnings[0]));
            }
        }
        Expect::Error(needles) => {
            let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            if out.code != Some(1) || lines.len() != 1 || !lines[0].starts_with("Error: ") {
                return Err(format!("expected one 'Error:' line and exit 1: {}", show()));
            }
            if let Some(n) = needles.iter().find(|n| !lines[0].contains(*n)) {
                return Err(format!("'{n}' not in: {}", lines[0]));
            }
        }
    }
    Ok(())
}

#[test]
fn every_bad_input_ends_in_one_clear_error_or_a_correct_answer() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    fixtures(home);
    let before = listing(home);
    let cases = cases();
    assert!(cases.len() >= 60, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let outcome = run_bounded(odis(home).args(&case.args), Duration::from_secs(120)).and_then(|out| check(case, &out));
        // A warning comes with its output, which goes before the check.
        if matches!(case.expect, Expect::Warning(_)) && outcome.is_ok() {
            std::fs::remove_file(home.join("out.parquet")).expect("the selection was written");
        }
        // Whatever happened, nothing was written beside the inputs: no output,
        // no staging file, no work directory.
        let after = listing(home);
        let outcome = outcome.and_then(|()| {
            if after == before {
                Ok(())
            } else {
                Err(format!("left files behind: {:?}", after.iter().filter(|n| !before.contains(n)).collect::<Vec<_>>()))
            }
        });
        if let Err(why) = outcome {
            failures.push(format!("{} ({:.1} s): {why}", case.name, started.elapsed().as_secs_f64()));
            for name in after.iter().filter(|n| !before.contains(n)) {
                let path = home.join(name);
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
