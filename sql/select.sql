-- ODiS selection, end to end, as plain SQL: raw scores -> PCA -> orthogonal
-- components -> top rows of each component under one budget -> Parquet.
--
--   odis -v input=sql/data/corpus.parquet -v out=selected.parquet -f sql/select.sql
--
-- Variables (-v NAME=VALUE; ${NAME:-default} gives the default):
--   input       Parquet file, directory or glob; local or s3://bucket/path
--   id          a unique, non-NULL id column of the corpus
--   text        the text column
--   scores      the raw score vector of a row, as SQL over the corpus:
--               quality_signals_vector("text") (default: no LLM needed), a
--               column of LLM ratings (make_array(a, b, c)), or
--               odis_score("text", 'models/quality')
--   components  principal components to keep (the paper keeps about 4)
--   budget      rows to select: an integer, or a fraction such as 0.1
--   scratch     a directory for the materialised raw scores
--   out         the Parquet file to write (written atomically)
-- `odis select` runs this same script and times its statements by position:
-- keep the order of the numbered steps when editing it.

CREATE EXTERNAL TABLE corpus STORED AS PARQUET LOCATION '${input}';

-- 1. Raw scores, computed once: a model run is the costly step, and both the
--    PCA fit and the projection read them.
COPY (SELECT "${id:-id}" AS odis_id, ${scores:-quality_signals_vector("text")} AS odis_raw FROM corpus)
TO '${scratch}/raw_scores.parquet' STORED AS PARQUET;
CREATE EXTERNAL TABLE raw_scores STORED AS PARQUET LOCATION '${scratch}/raw_scores.parquet';

-- 2. Decorrelate: one PCA over the standardised raw scores.
CREATE TABLE pca AS
SELECT pca_fit(odis_raw, ${components:-4}, true) AS model FROM raw_scores;

-- 3. Every document's coordinates on the orthogonal components.
CREATE VIEW projected AS
SELECT c.*, pca_project(r.odis_raw, p.model) AS odis_pc
FROM corpus c
JOIN raw_scores r ON c."${id:-id}" = r.odis_id
CROSS JOIN pca p;

-- 4. The top of each component, under one budget, no document twice; all the
--    corpus's columns plus odis_dim, odis_rank and odis_score.
COPY (
    SELECT * EXCLUDE (odis_pc)
    FROM top_k_per_dim('projected', '${id:-id}', 'odis_pc', ${budget:-0.1})
) TO '${out}' STORED AS PARQUET;

-- What each component means, and how much of the variance it carries.
CREATE VIEW loadings AS
SELECT l['component'] AS component, l['dimension'] AS dimension, l['loading'] AS loading,
       l['explained_variance_ratio'] AS explained_variance_ratio
FROM (SELECT unnest(pca_loadings(model)) AS l FROM pca);

-- Quotas, thresholds and the overlap between the components' top lists.
SELECT * FROM top_k_per_dim_report('projected', '${id:-id}', 'odis_pc', ${budget:-0.1});
