-- The baselines ODiS is compared against, on the same corpus, filter, scores
-- and budget as sql/select.sql: random, top-k of the PC average, and
-- sampling by it. Each writes its own Parquet file into ${out_dir}.
--
--   odis -v input=sql/data/corpus.parquet -v out_dir=baselines -f sql/baselines.sql
--
-- Variables as in sql/select.sql, plus out_dir (an existing directory) and
-- seed (for the random baselines). Give the budget as a row count to
-- compare every baseline with `odis select` at the same size.

CREATE EXTERNAL TABLE corpus STORED AS PARQUET LOCATION '${input}';

-- Filter, raw scores, scaling and PCA, as in sql/select.sql.
CREATE TABLE raw_scores AS
SELECT odis_id, odis_rule,
       CASE WHEN odis_rule IS NULL THEN ${scores:-quality_ratings_vector("${text:-text}")} END AS odis_raw
FROM (
    SELECT *, "${id:-id}" AS odis_id,
           CASE WHEN "${text:-text}" IS NULL THEN 'null_text'
                ELSE quality_filter("${text:-text}", '${filter:-default}')['rule'] END AS odis_rule
    FROM corpus
);

CREATE TABLE scaling AS SELECT quantile_fit(odis_raw) AS model FROM raw_scores WHERE odis_rule IS NULL;
CREATE TABLE scaled AS
SELECT odis_id,
       CASE '${scaling:-rank}' WHEN 'rank' THEN quantile_transform(odis_raw, (SELECT model FROM scaling))
                               WHEN 'standard' THEN odis_raw END AS odis_scaled
FROM raw_scores WHERE odis_rule IS NULL;

CREATE TABLE pca AS
SELECT pca_fit(odis_scaled, ${components:-4}, true) AS model FROM scaled;

CREATE TABLE coordinates AS
SELECT odis_id, pca_project(odis_scaled, (SELECT model FROM pca)) AS odis_pc FROM scaled;
CREATE VIEW projected AS
SELECT c.*, r.odis_pc
FROM corpus c
JOIN coordinates r ON c."${id:-id}" = r.odis_id;

-- Each file is written in row groups of 64k rows: the writer buffers a row
-- group of the documents' text, at the default 1M rows gigabytes of it.

-- Random over the documents that pass the filter.
COPY (SELECT * EXCLUDE (odis_pc) FROM sample_uniform('projected', '${id:-id}', ${budget:-0.1}, ${seed:-42}))
TO '${out_dir}/random_filtered.parquet' STORED AS PARQUET
    OPTIONS ('format.max_row_group_size' '65536');

-- Random over the whole corpus, as if there were no pipeline at all (a
-- fractional budget is here a fraction of the whole corpus).
COPY (SELECT * FROM sample_uniform('corpus', '${id:-id}', ${budget:-0.1}, ${seed:-42}))
TO '${out_dir}/random.parquet' STORED AS PARQUET
    OPTIONS ('format.max_row_group_size' '65536');

-- Top-k of the average of the components: quality without diversity.
COPY (SELECT * EXCLUDE (odis_pc) FROM top_k_average('projected', '${id:-id}', 'odis_pc', ${budget:-0.1}))
TO '${out_dir}/top_k_average.parquet' STORED AS PARQUET
    OPTIONS ('format.max_row_group_size' '65536');

-- Sampling in proportion to the (softmax of the) average.
COPY (SELECT * EXCLUDE (odis_pc) FROM sample_by_average('projected', '${id:-id}', 'odis_pc', ${budget:-0.1}, ${seed:-42}))
TO '${out_dir}/sample_by_average.parquet' STORED AS PARQUET
    OPTIONS ('format.max_row_group_size' '65536');
