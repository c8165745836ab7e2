//! The bundled corpus in 4 files and one query per odis function: what
//! tests/partitions.rs (1 vs 4 partitions) and tests/cluster.rs (local vs a
//! cluster) compare.

use std::path::Path;

use datafusion::arrow::util::pretty::pretty_format_batches;
use odis::Engine;

/// The bundled corpus in 4 files, and a 3-dimensional score vector per row.
pub async fn split_corpus(dir: &Path) {
    let engine = Engine::new().unwrap();
    let corpus = super::repo_root().join("sql/data/corpus.parquet");
    for part in 0..4 {
        let sql = format!(
            "COPY (SELECT id, text, make_array(quality_ratings_vector(text)[1], quality_ratings_vector(text)[6], \
                    quality_ratings_vector(text)[9]) AS s \
                  FROM '{}' WHERE id % 4 = {part}) TO '{}'",
            corpus.display(),
            dir.join(format!("part-{part}.parquet")).display()
        );
        engine.sql(&sql).await.unwrap();
    }
}

/// One query per function (the selection functions over the table `docs` and the view `scored`).
pub fn queries(model: &str) -> Vec<(&'static str, String)> {
    let fit = "(SELECT pca_fit(s, 2) FROM docs)";
    let quantiles = "(SELECT quantile_fit(s) FROM docs)";
    let clusters = "(SELECT kmeans_fit(s, 8, 'metric=l2,sample=64') FROM docs)";
    vec![
        ("quality_filter", "SELECT id, quality_filter(text)['rule'] AS rule FROM docs WHERE id % 50 = 0 ORDER BY id".into()),
        ("quality_ratings", "SELECT id, quality_ratings(text) AS r FROM docs WHERE id % 50 = 0 ORDER BY id".into()),
        ("quality_ratings_vector", "SELECT id, quality_ratings_vector(text) AS r FROM docs WHERE id % 50 = 0 ORDER BY id".into()),
        ("quality_signals", "SELECT id, quality_signals(text) AS r FROM docs WHERE id % 50 = 0 ORDER BY id".into()),
        ("quality_signals_vector", "SELECT id, quality_signals_vector(text) AS r FROM docs WHERE id % 50 = 0 ORDER BY id".into()),
        (
            "pca_fit",
            "SELECT m['n_rows'] AS n, round(unnest(m['explained_variance_ratio']), 9) AS ratio, \
                    round(unnest(m['mean']), 9) AS mean FROM (SELECT pca_fit(s, 2) AS m FROM docs)"
                .into(),
        ),
        (
            "pca_project",
            format!("SELECT id, round(pca_project(s, {fit})[1], 9) AS pc0 FROM docs WHERE id % 50 = 0 ORDER BY id"),
        ),
        (
            "pca_loadings",
            format!(
                "SELECT l['component'] AS c, l['name'] AS name, round(l['loading'], 9) AS loading \
                 FROM (SELECT unnest(pca_loadings({fit}, ['a', 'b', 'c'])) AS l)"
            ),
        ),
        (
            "quantile_fit",
            "SELECT m['n_rows'] AS n, unnest(m['knots']) AS knots FROM (SELECT quantile_fit(s, 5) AS m FROM docs)".into(),
        ),
        (
            "quantile_transform",
            format!("SELECT id, quantile_transform(s, {quantiles}) AS q FROM docs WHERE id % 50 = 0 ORDER BY id"),
        ),
        ("top_k_per_dim", "SELECT id, odis_dim, odis_rank, odis_score FROM top_k_per_dim('docs', 'id', 's', 900)".into()),
        ("top_k_per_dim, weights", "SELECT id, odis_dim, odis_rank FROM top_k_per_dim('docs', 'id', 's', 0.05, [3, 1, 1])".into()),
        ("top_k_per_dim_report", "SELECT * FROM top_k_per_dim_report('docs', 'id', 's', 900)".into()),
        ("top_k_per_dim, tokens", "SELECT id, odis_dim, odis_rank FROM top_k_per_dim('scored', 'id', 's', 60000, cost => 't')".into()),
        ("top_k_per_dim_report, tokens", "SELECT * FROM top_k_per_dim_report('scored', 'id', 's', 60000, cost => 't')".into()),
        ("top_k_average", "SELECT id, odis_rank, odis_score FROM top_k_average('docs', 'id', 's', 300)".into()),
        ("sample_uniform, tokens", "SELECT id, odis_rank FROM sample_uniform('scored', 'id', 20000, 7, cost => 't')".into()),
        ("sample_by_average", "SELECT id, odis_rank FROM sample_by_average('docs', 'id', 's', 300, 7, 0.5)".into()),
        ("sample_uniform", "SELECT id, odis_rank FROM sample_uniform('docs', 'id', 300, 7)".into()),
        (
            "ccs_select",
            "SELECT id, odis_dim, odis_rank, odis_score FROM ccs_select('scored', 'id', 'q', 300, 'beta=0.2,strata=20,seed=5')".into(),
        ),
        (
            "cluster_balanced_sample",
            "SELECT id, odis_dim, odis_rank, odis_score FROM cluster_balanced_sample('scored', 'id', 'c', 'q', 300, 5)".into(),
        ),
        ("vendi_score", "SELECT round(vendi_score(s), 9) AS v, round(vendi_score(s, 'inf'), 9) AS v_inf FROM docs WHERE s[1] + s[2] + s[3] > 0".into()),
        (
            "kmeans_fit",
            "SELECT m['n_rows'] AS n, m['sample_rows'] AS sampled, round(m['inertia'], 6) AS inertia, m['centroids'] AS c \
             FROM (SELECT kmeans_fit(s, 8, 'metric=l2,sample=64') AS m FROM docs)"
                .into(),
        ),
        (
            "kmeans_assign",
            format!(
                "SELECT id, a['cluster'] AS c, round(a['distance'], 9) AS d \
                 FROM (SELECT id, kmeans_assign(s, {clusters}) AS a FROM docs WHERE id % 50 = 0) ORDER BY id"
            ),
        ),
        (
            "semantic_duplicates",
            "SELECT id, duplicate_of, round(similarity, 6) AS s FROM semantic_duplicates('docs', 'id', 's', 'clusters=8,eps=0.001') ORDER BY duplicate_of, id".into(),
        ),
        (
            "dpp_select",
            "SELECT id, odis_dim, odis_rank, round(odis_score, 6) AS g FROM dpp_select('scored', 'id', 's', 'q', 40, 'clusters=6,theta=0.7') ORDER BY odis_dim, odis_rank, id".into(),
        ),
        (
            "mig_select",
            "SELECT id, odis_dim, odis_rank, round(odis_score, 6) AS g FROM mig_select('scored', 'id', 's', 'w', 60, 'clusters=6,threshold=0.5') ORDER BY odis_dim, odis_rank, id".into(),
        ),
        (
            "text_fingerprint",
            "SELECT count(*) AS n, count(DISTINCT text_fingerprint(text)) AS distinct_texts FROM docs".into(),
        ),
        ("text_minhash", "SELECT id, text_minhash(text, 'bands=4,rows=2') AS m FROM docs WHERE id % 500 = 0 ORDER BY id".into()),
        ("minhash_bands", "SELECT id, minhash_bands(text_minhash(text)) AS b FROM docs WHERE id % 500 = 0 ORDER BY id".into()),
        (
            "minhash_pack",
            "SELECT id, minhash_pack(text_minhash(text, 'bands=4,rows=2,bits=16')) AS p FROM docs WHERE id % 500 = 0 ORDER BY id".into(),
        ),
        (
            "minhash_band",
            "SELECT id, minhash_band(text_minhash(text, 'bands=4,rows=2'), 3, 'bands=4,rows=2') AS b FROM docs WHERE id % 500 = 0 ORDER BY id".into(),
        ),
        (
            "minhash_similarity",
            "SELECT id, round(minhash_similarity(text_minhash(text), text_minhash(upper(substr(text, 2)))), 9) AS s FROM docs \
             WHERE id % 50 = 0 ORDER BY id"
                .into(),
        ),
        ("near_duplicates", "SELECT id, duplicate_of, round(similarity, 9) AS s FROM near_duplicates('docs', 'id', 'text') ORDER BY duplicate_of, id".into()),
        ("near_duplicates", "SELECT id, duplicate_of, round(similarity, 9) AS s FROM near_duplicates('docs', 'id', 'text', 'datatrove') ORDER BY duplicate_of, id".into()),
        (
            "odis_score",
            format!("SELECT id, odis_score(text, '{model}') AS e FROM docs WHERE id % 25 = 0 ORDER BY id"),
        ),
        (
            "token_count",
            format!("SELECT id, token_count(text, '{model}') AS n, token_count(text, 'approx') AS a FROM docs WHERE id % 50 = 0 ORDER BY id"),
        ),
    ]
}

/// Every query's printed answer, on `engine`, over the split corpus in `dir`.
pub async fn answers(engine: &Engine, dir: &Path, model: &str) -> Vec<(&'static str, String)> {
    engine
        .sql(&format!("CREATE EXTERNAL TABLE docs STORED AS PARQUET LOCATION '{}/'", dir.display()))
        .await
        .unwrap();
    // A score and a grouping for the stratified selection functions, and
    // a cost in tokens for the budgets in tokens.
    engine
        .sql(
            "CREATE VIEW scored AS SELECT id, s, s[1] - s[2] AS q, exp(s[1] - s[2]) AS w, CAST(id % 7 AS INT) AS c, \
             token_count(text, 'approx') AS t FROM docs",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for (function, sql) in queries(model) {
        let batches = engine.sql(&sql).await.unwrap_or_else(|e| panic!("{function}: {e}\n{sql}"));
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(rows > 0, "{function} returned no rows: the comparison would prove nothing");
        out.push((function, pretty_format_batches(&batches).unwrap().to_string()));
    }
    out
}

