//! Duplicates on real text with injected copies (benches/junk_corpus.py
//! --copy-share: exact copies, copies in other case and spacing, copies with
//! 1 to 3 words dropped, doubled or changed; some originals copied many
//! times): what near_duplicates finds, and what `odis select` picks with and
//! without dedup. A copy counts as a duplicate of its original when the true
//! Jaccard similarity of their 5-word shingle sets is at least 0.8, computed
//! here from the shingles, not from MinHash.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use odis::Engine;
use odis::select::{Budget, Dedup, SelectOptions};
use odis::udfs::text::shingles::{ShingleScratch, for_each_shingle};

/// The bundled corpus with 25% junk and 9% copies.
fn corpus_with_copies(dir: &Path) -> PathBuf {
    let path = dir.join("copies.parquet");
    let script = common::repo_root().join("benches/junk_corpus.py");
    let input = common::repo_root().join("sql/data/corpus.parquet");
    let status = std::process::Command::new(common::python())
        .args([script.as_os_str(), "--input".as_ref(), input.as_os_str(), "--out".as_ref(), path.as_os_str()])
        .args(["--copy-share", "0.09"])
        .status()
        .unwrap();
    assert!(status.success());
    path
}

fn shingles(text: &str) -> HashSet<u64> {
    let mut out = HashSet::new();
    for_each_shingle(text, 5, &mut ShingleScratch::default(), |h| {
        out.insert(h);
    });
    out
}

fn jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    a.intersection(b).count() as f64 / a.union(b).count().max(1) as f64
}

async fn batches(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// (id, text, copy_of) of every row (copy_of NULL in a corpus without
/// injected copies).
async fn rows(engine: &Engine, corpus: &Path) -> Vec<(i64, Option<String>, Option<i64>)> {
    let mut out = Vec::new();
    let table = format!("'{}'", corpus.display());
    let columns = engine.context().sql(&format!("SELECT * FROM {table}")).await.unwrap();
    let has_copies = columns.schema().has_column_with_unqualified_name("copy_of");
    let copy_of = if has_copies { "copy_of" } else { "CAST(NULL AS BIGINT)" };
    for b in batches(engine, &format!("SELECT id, text, {copy_of} FROM {table}")).await {
        let text = datafusion::arrow::compute::cast(b.column(1), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        let (id, text, copy) = (b.column(0).as_primitive::<Int64Type>(), text.as_string::<i32>(), b.column(2).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            out.push((id.value(i), text.is_valid(i).then(|| text.value(i).to_string()), copy.is_valid(i).then(|| copy.value(i))));
        }
    }
    out
}

/// The injected copies that are true near duplicates (Jaccard >= 0.8 to
/// their original): copy id -> original id.
fn true_copies(rows: &[(i64, Option<String>, Option<i64>)]) -> HashMap<i64, i64> {
    let texts: HashMap<i64, &str> = rows.iter().filter_map(|(id, t, _)| t.as_deref().map(|t| (*id, t))).collect();
    let mut out = HashMap::new();
    for (id, text, original) in rows {
        if let (Some(text), Some(original)) = (text, original) {
            if jaccard(&shingles(text), &shingles(texts[original])) >= 0.8 {
                out.insert(*id, *original);
            }
        }
    }
    out
}

fn options(input: &Path, out: &Path, dedup: Dedup) -> SelectOptions {
    SelectOptions { dedup, ..common::select_options(&input.display().to_string(), out) }
}

/// Selected documents that repeat another selected one: (redundant rows,
/// the most times one document was picked).
async fn redundancy(engine: &Engine, selected: &Path, copies: &HashMap<i64, i64>) -> (usize, usize) {
    let mut picked: HashMap<i64, usize> = HashMap::new();
    for b in batches(engine, &format!("SELECT id FROM '{}'", selected.display())).await {
        let ids = b.column(0).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            let id = ids.value(i);
            *picked.entry(*copies.get(&id).unwrap_or(&id)).or_default() += 1;
        }
    }
    (picked.values().map(|n| n - 1).sum(), picked.values().copied().max().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_duplicates_finds_the_copies_and_select_picks_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_with_copies(dir.path());
    let engine = Engine::new().unwrap();
    let rows = rows(&engine, &corpus).await;
    let copies = true_copies(&rows);
    let injected = rows.iter().filter(|r| r.2.is_some()).count();
    eprintln!("{} documents, {injected} injected copies, {} of them at Jaccard >= 0.8", rows.len(), copies.len());
    assert!(copies.len() > injected / 2, "too few true copies to measure anything");

    // near_duplicates: each true copy in its original's cluster.
    engine.sql(&format!("CREATE EXTERNAL TABLE c STORED AS PARQUET LOCATION '{}'", corpus.display())).await.unwrap();
    let mut representative: HashMap<i64, i64> = HashMap::new();
    for b in batches(&engine, "SELECT id, duplicate_of FROM near_duplicates('c', 'id', 'text')").await {
        let (id, of) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            representative.insert(id.value(i), of.value(i));
        }
    }
    let cluster_of = |id: i64| *representative.get(&id).unwrap_or(&id);
    let found = copies.iter().filter(|(copy, original)| cluster_of(**copy) == cluster_of(**original)).count();
    let recall = found as f64 / copies.len() as f64;
    // Flagged documents that are no copy: each checked against its
    // representative's text; below 0.7 true Jaccard it is a false flag.
    let texts: HashMap<i64, &str> = rows.iter().filter_map(|(id, t, _)| t.as_deref().map(|t| (*id, t))).collect();
    let is_copy: HashSet<i64> = rows.iter().filter(|r| r.2.is_some()).map(|r| r.0).collect();
    let others: Vec<(i64, i64)> = representative.iter().filter(|(id, _)| !is_copy.contains(id)).map(|(a, b)| (*a, *b)).collect();
    let false_flags = others.iter().filter(|(id, of)| jaccard(&shingles(texts[id]), &shingles(texts[of])) < 0.7).count();
    let unique = rows.len() - injected;
    eprintln!(
        "near_duplicates: {found} of {} true copies found ({:.2}%); {} other documents flagged, {false_flags} of them \
         below Jaccard 0.7 to their representative ({:.3}% of {unique})",
        copies.len(),
        100.0 * recall,
        others.len(),
        100.0 * false_flags as f64 / unique as f64
    );
    assert!(recall >= 0.95, "recall {recall}");
    assert!(false_flags as f64 <= 0.005 * unique as f64, "{false_flags} false flags");

    // odis select: without dedup the top of a component repeats documents;
    // with it (the default), no copy is picked beside its original.
    let out = dir.path().join("selected.parquet");
    odis::select::select(&engine, &options(&corpus, &out, "none".parse::<Dedup>().unwrap()), ()).await.unwrap();
    let (redundant_without, most_without) = redundancy(&engine, &out, &copies).await;
    let report = odis::select::select(&engine, &options(&corpus, &out, Dedup::default()), ()).await.unwrap();
    let (redundant, most) = redundancy(&engine, &out, &copies).await;
    eprintln!(
        "odis select --budget 10%: --dedup none picks {redundant_without} redundant copies of {} rows (one document \
         {most_without} times); --dedup minhash {redundant} of {} (at most {most} times); dedup removed {} in {} clusters",
        report.rows_out, report.rows_out, report.dedup.removed, report.dedup.clusters
    );
    assert!(redundant_without > 0, "the corpus shows no redundancy to remove");
    assert!(redundant as f64 <= 0.005 * report.rows_out as f64, "{redundant} redundant rows");
    assert!(report.dedup.removed > 0 && report.dedup.largest >= 2);
    assert_eq!(report.dedup.pairs.len(), 2);
}

/// A corpus of one text many times over (300 documents that differ in one
/// number) leaves one document after dedup: the error says so, names the
/// option to relax, and keeps the scores for the rerun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_of_copies_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("copies.parquet");
    let engine = Engine::new().unwrap();
    engine
        .sql(&format!(
            "COPY (SELECT x AS id, 'Document ' || x || ' is a plain English paragraph about the history of maps, rivers \
             and the towns that grew beside them. ' || repeat('It has several sentences of ordinary prose. ', 12) AS text \
             FROM generate_series(1, 300) t(x)) TO '{}'",
            input.display()
        ))
        .await
        .unwrap();
    let out = dir.path().join("out.parquet");
    let mut options = options(&input, &out, Dedup::default());
    options.filter = "none".parse().unwrap();
    let e = odis::select::select(&engine, &options, ()).await.unwrap_err();
    let odis::OdisError::Select(e) = e else { panic!("not a SelectError: {e}") };
    assert_eq!(e.option(), odis::select::error::SelectOption::Dedup);
    let message = e.to_string();
    assert!(message.contains("1 document is left (299 were removed as copies") && message.contains("dedup none"), "{message}");
    assert!(!out.exists());
    // Exact dedup sees 300 different texts.
    options.dedup = "exact".parse().unwrap();
    options.budget = Budget::Rows(10);
    let report = odis::select::select(&engine, &options, ()).await.unwrap();
    assert_eq!((report.dedup.removed, report.rows_out), (0, 10));
}

/// near_duplicates against datasketch's MinHash LSH at the same settings,
/// on the bundled corpus (real text with its own near duplicates: sayings
/// with and without an attribution, in other punctuation). Both get the
/// same shingles; what is compared is the hashing, banding, threshold and
/// clustering. Pairs (document, representative) must agree 95% either way,
/// and the pairs one finds and the other not must be borderline: their true
/// Jaccard similarity within 0.05 of the threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_agree_with_datasketch() {
    use datafusion::arrow::array::{ListBuilder, UInt64Builder, Int64Array};
    let dir = tempfile::tempdir().unwrap();
    let corpus = common::repo_root().join("sql/data/corpus.parquet");
    let engine = Engine::new().unwrap();
    let texts: HashMap<i64, String> =
        rows(&engine, &corpus).await.into_iter().filter_map(|(id, text, _)| text.map(|t| (id, t))).collect();
    let mut ids: Vec<i64> = texts.keys().copied().collect();
    ids.sort_unstable();
    let sets: HashMap<i64, HashSet<u64>> = ids.iter().map(|id| (*id, shingles(&texts[id]))).collect();

    // The reference, on the same shingles.
    let mut lists = ListBuilder::new(UInt64Builder::new());
    for id in &ids {
        let mut hashes = Vec::new();
        for_each_shingle(&texts[id], 5, &mut ShingleScratch::default(), |h| hashes.push(h));
        lists.append_value(hashes.into_iter().map(Some));
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("id", std::sync::Arc::new(Int64Array::from(ids.clone())) as datafusion::arrow::array::ArrayRef),
        ("shingles", std::sync::Arc::new(lists.finish()) as datafusion::arrow::array::ArrayRef),
    ])
    .unwrap();
    let input = dir.path().join("shingles.parquet");
    let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&input).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let output = dir.path().join("reference.json");
    let script = common::repo_root().join("tests/support/minhash_reference.py");
    let status = std::process::Command::new(common::python()).args([script.as_os_str(), input.as_os_str(), output.as_os_str()]).status().unwrap();
    assert!(status.success(), "the datasketch reference failed (is it installed? scripts/setup.sh installs it)");
    let theirs: HashSet<(i64, i64)> =
        serde_json::from_str::<Vec<(i64, i64)>>(&std::fs::read_to_string(&output).unwrap()).unwrap().into_iter().collect();

    engine.sql(&format!("CREATE EXTERNAL TABLE bundled STORED AS PARQUET LOCATION '{}'", corpus.display())).await.unwrap();
    let mut ours = HashSet::new();
    for b in batches(&engine, "SELECT id, duplicate_of FROM near_duplicates('bundled', 'id', 'text')").await {
        let (id, of) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            ours.insert((id.value(i), of.value(i)));
        }
    }
    let both = ours.intersection(&theirs).count();
    let disagree: Vec<(i64, i64, f64)> = ours
        .symmetric_difference(&theirs)
        .map(|&(a, b)| (a, b, jaccard(&sets[&a], &sets[&b])))
        .collect();
    let off: Vec<&(i64, i64, f64)> = disagree.iter().filter(|(_, _, j)| (j - 0.8).abs() > 0.05).collect();
    eprintln!(
        "near_duplicates {} pairs, datasketch {}, {both} in both ({:.1}% of ours, {:.1}% of theirs); {} disagree, {} of \
         them with true Jaccard more than 0.05 from 0.8: {:?}",
        ours.len(),
        theirs.len(),
        100.0 * both as f64 / ours.len() as f64,
        100.0 * both as f64 / theirs.len() as f64,
        disagree.len(),
        off.len(),
        off.iter().take(10).collect::<Vec<_>>()
    );
    assert!(ours.len() > 100, "too few duplicates to compare");
    assert!(both as f64 >= 0.95 * ours.len() as f64 && both as f64 >= 0.95 * theirs.len() as f64);
    assert!(off.is_empty(), "disagreements far from the threshold");
}

/// Texts whose band buckets are crowded: 150 filled-in templates (one page
/// with a product name and price changed), 120 edited copies of one
/// paragraph, and 300 unrelated texts. (id, text).
fn crowded_corpus() -> Vec<(i64, String)> {
    let words: Vec<String> = (0..400).map(|i| format!("w{}", (i * 7919) % 1009)).collect();
    let mut seed = 17u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 33
    };
    let template = "welcome to the shop of the week where every order ships on the day it is placed and every \
                    return is free for thirty days please read the care guide before you wash the item and keep \
                    the receipt for the warranty which covers two years of normal use";
    let paragraph: Vec<&str> = "the committee met on tuesday to discuss the budget for the coming year and agreed \
                                that the library should open on sundays from the spring while the pool stays closed \
                                for repairs until the summer when the new filters arrive"
        .split(' ')
        .collect();
    let mut out = Vec::new();
    // Long enough that a filled-in slot or a few edits leave them alike.
    let template = [template; 5].join(" ");
    for i in 0..150 {
        out.push((out.len() as i64 + 1, format!("{template} product {} costs {} dollars", words[i % 400], 10 + i)));
    }
    for _ in 0..120 {
        let mut copy: Vec<String> = paragraph.iter().chain(&paragraph).chain(&paragraph).chain(&paragraph).map(|w| w.to_string()).collect();
        for _ in 0..(1 + next() % 3) {
            let at = next() as usize % copy.len();
            copy[at] = words[next() as usize % 400].clone();
        }
        out.push((out.len() as i64 + 1, copy.join(" ")));
    }
    for _ in 0..300 {
        let text: Vec<&str> = (0..40).map(|_| words[next() as usize % 400].as_str()).collect();
        out.push((out.len() as i64 + 1, text.join(" ")));
    }
    out
}

/// In buckets of 100 and more near copies and filled-in templates, the
/// rows near_duplicates flags are at least 95% of those a check of every
/// pair of every bucket flags (the same signatures, bands and threshold),
/// and each of its clusters lies inside one of the reference's.
#[tokio::test(flavor = "multi_thread")]
async fn crowded_buckets_keep_their_recall() {
    let engine = Engine::new().unwrap();
    let corpus = crowded_corpus();
    let values: Vec<String> = corpus.iter().map(|(id, t)| format!("({id}, '{t}')")).collect();
    engine.sql(&format!("CREATE TABLE crowded AS SELECT * FROM (VALUES {}) AS t(id, text)", values.join(", "))).await.unwrap();
    // The reference: every pair of every band bucket, checked with the same estimate.
    let spec = odis::udfs::dedup::minhash::MinHashSpec::default();
    let sql = "SELECT id, text_minhash(text) AS sig FROM crowded";
    let mut signatures: Vec<(i64, Vec<u32>)> = Vec::new();
    for b in batches(&engine, sql).await {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let lists = b.column(1).as_fixed_size_list();
        for i in 0..b.num_rows() {
            let values = lists.value(i);
            signatures.push((ids.value(i), values.as_primitive::<datafusion::arrow::datatypes::UInt32Type>().values().to_vec()));
        }
    }
    let mut parent: HashMap<i64, i64> = HashMap::new();
    fn root(parent: &mut HashMap<i64, i64>, mut x: i64) -> i64 {
        while let Some(&p) = parent.get(&x).filter(|&&p| p != x) {
            x = p;
        }
        x
    }
    let mut largest = 0;
    for band in 0..spec.bands {
        let mut buckets: HashMap<&[u32], Vec<usize>> = HashMap::new();
        for (i, (_, sig)) in signatures.iter().enumerate() {
            buckets.entry(&sig[band * spec.rows..(band + 1) * spec.rows]).or_default().push(i);
        }
        for members in buckets.values() {
            largest = largest.max(members.len());
            for (x, &a) in members.iter().enumerate() {
                for &b in &members[..x] {
                    let (sa, sb) = (&signatures[a].1, &signatures[b].1);
                    let equal = sa.iter().zip(sb).filter(|(p, q)| p == q).count();
                    if odis::udfs::dedup::minhash::corrected_jaccard(equal, sa.len(), spec.bits) >= spec.threshold {
                        let (ra, rb) = (root(&mut parent, signatures[a].0), root(&mut parent, signatures[b].0));
                        let (low, high) = (ra.min(rb), ra.max(rb));
                        parent.insert(high, low);
                        parent.entry(low).or_insert(low);
                    }
                }
            }
        }
    }
    assert!(largest >= 100, "the corpus must crowd a bucket with 100+ rows, the largest holds {largest}");
    let reference: HashMap<i64, i64> = signatures
        .iter()
        .map(|(id, _)| (*id, root(&mut parent, *id)))
        .filter(|(id, r)| id != r)
        .collect();
    let mut found: HashMap<i64, i64> = HashMap::new();
    for b in batches(&engine, "SELECT id, duplicate_of FROM near_duplicates('crowded', 'id', 'text')").await {
        let (ids, of) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            found.insert(ids.value(i), of.value(i));
        }
    }
    let both = found.keys().filter(|id| reference.contains_key(id)).count();
    let recall = both as f64 / reference.len().max(1) as f64;
    println!("crowded buckets (largest {largest} rows): {} flagged by every pair, {} by near_duplicates, recall {:.1}%", reference.len(), found.len(), 100.0 * recall);
    assert!(reference.len() >= 200, "the reference flags {} rows", reference.len());
    assert!(recall >= 0.95, "recall {recall} in crowded buckets");
    for (id, of) in &found {
        let (a, b) = (root(&mut parent, *id), root(&mut parent, *of));
        assert_eq!(a, b, "near_duplicates put {id} with {of}, which no checked pair links");
    }
}

/// A query killed between rounds resumes from the work area: the pairs of
/// finished bands and the finished rounds are not computed again, and the
/// answer is the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_resumes_from_the_rounds_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new().unwrap();
    let corpus = crowded_corpus();
    let values: Vec<String> = corpus.iter().map(|(id, t)| format!("({id}, '{t}')")).collect();
    engine.sql(&format!("CREATE TABLE crowded AS SELECT * FROM (VALUES {}) AS t(id, text)", values.join(", "))).await.unwrap();
    engine.sql(&format!("SET odis.work_dir = '{}'", dir.path().display())).await.unwrap();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stages = engine.context().state().config().get_extension::<odis::udfs::plan::stages::Stages>().unwrap();
    let listening = {
        let heard = std::sync::Arc::clone(&heard);
        stages.listen(move |stage: &str| heard.lock().unwrap().push(stage.to_string()))
    };
    let sql = "SELECT id, duplicate_of FROM near_duplicates('crowded', 'id', 'text') ORDER BY id";
    let show = |b: Vec<RecordBatch>| datafusion::arrow::util::pretty::pretty_format_batches(&b).unwrap().to_string();
    let first = show(batches(&engine, sql).await);
    let said: Vec<String> = std::mem::take(&mut *heard.lock().unwrap());
    assert!(said.iter().any(|s| s.contains("band 14 of 14")) && said.iter().any(|s| s.contains("round 1")), "{said:?}");
    // As if killed during band 9 and during round 2: their tables are gone.
    let area = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let mut removed = 0;
    for entry in std::fs::read_dir(&area).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("pairs-009") || name.starts_with("edges") || (name.starts_with("labels-") && name != "labels-00000.parquet" && name != "labels-00001.parquet") {
            std::fs::remove_file(&path).unwrap();
            removed += 1;
        }
    }
    assert!(removed >= 2, "removed {removed} tables from {}", area.display());
    let again = show(batches(&engine, sql).await);
    let said: Vec<String> = std::mem::take(&mut *heard.lock().unwrap());
    drop(listening);
    assert_eq!(first, again);
    assert!(!said.iter().any(|s| s.contains("signing") || s.contains("band 1 of")), "the rerun redid finished work: {said:?}");
    assert!(said.iter().any(|s| s.contains("band 9 of 14")), "{said:?}");
    assert!(!said.iter().any(|s| s.contains("round 1 ") || s.ends_with("round 1")), "round 1 was done: {said:?}");
}
