-- ODiS selection, end to end, as plain SQL: quality filter + raw ratings ->
-- PCA -> orthogonal components -> top rows of each component under one
-- budget -> Parquet. It reads the corpus twice: once to score every
-- document, once to fetch the selected ones; every step between reads only
-- the scores (an id and a short vector per document).
--
--   odis -v input=sql/data/corpus.parquet -v work=work -v out=selected.parquet -f sql/select.sql
--
-- Variables (-v NAME=VALUE; ${NAME:-default} gives the default):
--   input       Parquet or JSON Lines files: a file, directory or glob;
--               local or s3://bucket/path
--   format      what they hold: PARQUET (the default) or JSON (JSON Lines,
--               one object per line; a nested object becomes a struct)
--   input_options  for JSON, its compression as a whole:
--               " OPTIONS ('format.compression' 'zstd')" (gzip, zstd,
--               bzip2, xz; uncompressed by default). A compressed file is
--               read whole by one task: many files read in parallel.
--   id          a unique, non-NULL id column of the corpus
--   text        the text column
--   filter      the quality rules a document must pass (quality_filter's
--               spec): default, none, gopher, c4, fineweb, or with
--               thresholds, e.g. 'default,gopher_min_words=20'
--   scores      the raw score vector of a row, as SQL over the corpus, each
--               dimension a rating where higher is better:
--               quality_ratings_vector("text") (default: no LLM needed), a
--               column of LLM ratings (make_array(a, b, c)), or
--               odis_score("text", 'models/quality')
--   dedup_key   what pass 1 keeps of each kept document to find duplicates
--               by: minhash_pack(text_minhash("text", 'bits=8')) (the
--               default: MinHash signatures at 8 bits a value, as bytes,
--               which Parquet reads fast), text_fingerprint("text")
--               (exact duplicates), or CAST(NULL AS VARCHAR) (no dedup)
--   duplicates  the table function that lists the duplicates among the
--               kept documents' keys (odis_dedup_keys: odis_id, odis_dedup,
--               odis_embedding): near_duplicates('odis_dedup_keys',
--               'odis_id', 'odis_dedup', 'bits=8') (the default; add MinHash
--               settings, threshold=0.8, ngram=5, bands=14, rows=8, seed=1
--               by default), near_duplicates(..., 'exact') over
--               fingerprints (or NULL keys: no dedup), or
--               semantic_duplicates('odis_dedup_keys', 'odis_id',
--               'odis_embedding', 'eps=0.05') (SemDeDup)
--   embedding   what pass 1 keeps of each kept document as its embedding:
--               odis_score("text", 'models/minilm') (an encoder model), or
--               CAST(NULL AS REAL[]) (the default: none)
--   scaling     how each dimension is scaled before the PCA: rank (its
--               empirical CDF; the default) or standard (z-scores only)
--   components  principal components to keep (the paper keeps about 4)
--   budget      rows to select: an integer, or a fraction of the documents
--               that pass the filter, such as 0.1; with `cost`, an amount
--               of tokens or bytes with its unit: '30B tokens', '20GB'
--   tokens      each kept document's tokens, as pass 1 counts them:
--               token_count("text", 'models/minilm') (a tokenizer.json),
--               token_count("text", 'approx') (UTF-8 bytes / 4, an
--               estimate), or CAST(NULL AS BIGINT) (the default: none)
--   cost        how the budget is spent: empty (rows, the default),
--               ", cost => 'odis_tokens'" (a budget in tokens, such as
--               '30B tokens'; set `tokens`) or ", cost => 'odis_bytes'" (a
--               budget in bytes of text, such as '20GB')
--   selection   the table function that selects (default: ODiS's
--               top_k_per_dim over the components); e.g.
--               ccs_select('method_input', 'odis_id', 'odis_quality', 0.1, 'hard=low')
--   method      the name the output's odis_method column gives it
--   work        a directory for the raw scores and the other intermediate
--               files (`odis select` keeps the raw scores there per shard,
--               so that a killed run resumes: see --work-dir)
--   out         the Parquet file to write (written atomically)
-- `odis select` runs this same script; it finds the statements it acts on
-- (to shard the scoring pass, check results, time stages) by the
-- `-- step: NAME` line just before each: keep those lines with their
-- statements when editing it.

-- Text is read as plain Utf8, not as views into the file's pages: the fetch
-- then copies each selected text out of its page instead of keeping the
-- whole page alive, so memory follows the selection, not the corpus.
SET datafusion.execution.parquet.schema_force_view_types = false;
-- step: corpus
CREATE EXTERNAL TABLE corpus STORED AS ${format:-PARQUET} LOCATION '${input}'${input_options:-};

-- 1. One pass over the corpus: the quality filter's verdict (odis_rule is the
--    first rule a document fails, NULL when it passes; a NULL text fails as
--    'null_text') and, for the documents that pass, the raw scores. They are
--    written once: a model run is the costly step, and both the PCA fit and
--    the projection read them. `odis select` runs this statement once per
--    shard of the input (one file, or several small ones): FROM a table of
--    just those files, TO raw_scores/part-NNNNN.parquet; a killed run then
--    resumes from the shards it finished. Row groups of 64k rows: a reader
--    holds a row group's column chunk, which for 384-wide embeddings is
--    100 MB at 64k rows (against 1.5 GB at the writer's default 1M). Every
--    table below is written in row groups of 64k rows too: the writer
--    buffers a whole row group, so at the default its memory grew with the
--    corpus up to 1M rows (scaled.parquet at 2M documents: 250 against 168
--    MiB for the statement).
-- step: score
COPY (
    SELECT odis_id, odis_rule,
           CASE WHEN odis_rule IS NULL THEN ${scores:-quality_ratings_vector("${text:-text}")} END AS odis_raw,
           CASE WHEN odis_rule IS NULL THEN ${dedup_key:-minhash_pack(text_minhash("${text:-text}", 'bits=8'))} END AS odis_dedup,
           CASE WHEN odis_rule IS NULL THEN ${embedding:-CAST(NULL AS REAL[])} END AS odis_embedding,
           CASE WHEN odis_rule IS NULL THEN CAST(octet_length("${text:-text}") AS BIGINT) END AS odis_bytes,
           CASE WHEN odis_rule IS NULL THEN ${tokens:-CAST(NULL AS BIGINT)} END AS odis_tokens
    FROM (
        SELECT *, "${id:-id}" AS odis_id,
               CASE WHEN "${text:-text}" IS NULL THEN 'null_text'
                    ELSE quality_filter("${text:-text}", '${filter:-default}')['rule'] END AS odis_rule
        FROM ${shard_table:-corpus}
    )
) TO '${work}/raw_scores/${shard:-part-00000}.parquet' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');
CREATE EXTERNAL TABLE raw_scores STORED AS PARQUET LOCATION '${work}/raw_scores/part-*.parquet';
-- 1b. Duplicates among the documents that passed the filter: copies get
--     (nearly) the same ratings, so each would take a place at the top of a
--     component beside its original. A cluster keeps its smallest id; the
--     others are removed before the PCA, so they neither weigh the fit nor
--     take the budget. Read from the keys pass 1 wrote: no text is read.
CREATE VIEW odis_dedup_keys AS SELECT odis_id, odis_dedup, odis_embedding FROM raw_scores WHERE odis_rule IS NULL;
--     near_duplicates works in rounds (the pairs of each band, then the
--     labels of each round of clustering), each a table it keeps here, so
--     that a killed run resumes from the last round it finished. Its plans
--     spill past a bound of their own, the same at any corpus size: by
--     default 64 MiB a partition, at least 128 MiB (odis select runs this
--     statement in a pool of --dedup-memory's size, and passes 'unlimited':
--     that pool as it is).
SET odis.work_dir = '${work}/dedup';
SET odis.dedup_memory = '${dedup_memory:-}';
-- step: duplicates
COPY (
    SELECT id AS odis_id, duplicate_of AS odis_duplicate_of, similarity AS odis_similarity
    FROM ${duplicates:-near_duplicates('odis_dedup_keys', 'odis_id', 'odis_dedup', 'bits=8')}
) TO '${work}/duplicates.parquet' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');
CREATE EXTERNAL TABLE duplicates STORED AS PARQUET LOCATION '${work}/duplicates.parquet';
-- step: kept
CREATE VIEW kept AS
SELECT r.odis_id, r.odis_raw, r.odis_tokens, r.odis_bytes FROM raw_scores r
WHERE r.odis_rule IS NULL AND NOT EXISTS (SELECT 1 FROM duplicates d WHERE d.odis_id = r.odis_id);

-- 2. Scale each dimension by rank (onto its empirical CDF, so that no
--    lopsided tail decides a component's top documents), then decorrelate:
--    one PCA over the standardised, scaled scores of the kept documents.
--    A fitted model reaches the functions as a scalar subquery: odis
--    evaluates it once per statement, so no row carries a copy of it.
-- step: scaling
CREATE TABLE scaling AS SELECT quantile_fit(odis_raw) AS model FROM kept;
COPY (
    SELECT odis_id,
           CASE '${scaling:-rank}' WHEN 'rank' THEN quantile_transform(odis_raw, (SELECT model FROM scaling))
                                   WHEN 'standard' THEN odis_raw END AS odis_scaled,
           odis_tokens, odis_bytes
    FROM kept
) TO '${work}/scaled.parquet' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');
CREATE EXTERNAL TABLE scaled STORED AS PARQUET LOCATION '${work}/scaled.parquet';
CREATE TABLE pca AS
SELECT pca_fit(odis_scaled, ${components:-4}, true) AS model FROM scaled;

-- 3. Every kept document's coordinates on the orthogonal components,
--    written once: the selection, its report and the plot read them.
-- step: projected
COPY (SELECT odis_id, pca_project(odis_scaled, (SELECT model FROM pca)) AS odis_pc, odis_tokens, odis_bytes FROM scaled)
TO '${work}/projected.parquet' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');
CREATE EXTERNAL TABLE projected STORED AS PARQUET LOCATION '${work}/projected.parquet';

-- The input of the other selection methods: each kept document's
-- components, their mean (the quality those methods weigh; its exp for MIG,
-- which needs a positive one) and its embedding, if pass 1 kept one.
CREATE VIEW method_input AS
SELECT p.odis_id, p.odis_pc, array_avg(p.odis_pc) AS odis_quality, exp(array_avg(p.odis_pc)) AS odis_weight, k.odis_embedding,
       p.odis_tokens, p.odis_bytes
FROM projected p JOIN odis_dedup_keys k ON p.odis_id = k.odis_id;

-- 4. The top of each component, under one budget, no document twice (or
--    another method's selection: `selection`).
-- step: select
COPY (
    SELECT odis_id, odis_dim, odis_rank, odis_score, odis_tokens, odis_bytes
    FROM ${selection:-top_k_per_dim('projected', 'odis_id', 'odis_pc', ${budget:-0.1}${cost:-})}
) TO '${work}/selected.parquet' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');
CREATE EXTERNAL TABLE selected STORED AS PARQUET LOCATION '${work}/selected.parquet';

-- 5. The second pass over the corpus: the selected documents with all their
--    columns plus odis_method, odis_dim, odis_rank, odis_score and
--    odis_tokens (NULL when pass 1 counted none), by component (or group)
--    and rank.
--    Row groups of 64k rows: the writer buffers one row group of text, not
--    the whole selection. The selection is the join's first (build) side:
--    a JSON corpus has no statistics for the engine to see which is smaller.
-- step: fetch
COPY (
    SELECT c.*, '${method:-odis}' AS odis_method, s.odis_dim, s.odis_rank, s.odis_score, s.odis_tokens
    FROM selected s JOIN corpus c ON c."${id:-id}" = s.odis_id
    ORDER BY s.odis_dim, s.odis_rank
) TO '${out}' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536');

-- What each component means, and how much of the variance it carries.
CREATE VIEW loadings AS
SELECT l['component'] AS component, l['dimension'] AS dimension, l['loading'] AS loading,
       l['explained_variance_ratio'] AS explained_variance_ratio
FROM (SELECT unnest(pca_loadings(model)) AS l FROM pca);

-- Quotas, thresholds and the overlap between the components' top lists (for
-- another method: the rows it selected per group).
-- step: report
SELECT * FROM ${selection_report:-top_k_per_dim_report('projected', 'odis_id', 'odis_pc', ${budget:-0.1}${cost:-})};

-- The documents the reports show (the pairs dedup let through, one example
-- per rule of the filter), read in one pass over the corpus: a JSON corpus
-- has no statistics to skip what is not asked for.
CREATE VIEW least_alike AS SELECT * FROM duplicates ORDER BY odis_similarity, odis_id LIMIT 2;
CREATE VIEW rule_examples AS
SELECT odis_rule, count(*) AS documents, min(odis_id) AS example_id
FROM raw_scores WHERE odis_rule IS NOT NULL GROUP BY odis_rule;
--   The join's filter on the ids is applied while a Parquet corpus is read,
--   so that only the rows it keeps have their text decoded: otherwise every
--   row group's text is, two at a time (2M documents: 168 against 28 MiB
--   live, 2.9 against 0.3 s).
SET datafusion.execution.parquet.pushdown_filters = true;
-- step: examples
CREATE TABLE examples AS
SELECT e.odis_id, substr(CAST(c."${text:-text}" AS VARCHAR), 1, 300) AS text
FROM (SELECT odis_id FROM least_alike UNION SELECT odis_duplicate_of FROM least_alike
      UNION SELECT example_id FROM rule_examples) e
JOIN corpus c ON c."${id:-id}" = e.odis_id;
SET datafusion.execution.parquet.pushdown_filters = false;

-- What dedup removed: documents, clusters, the largest cluster, and the two
-- pairs least alike (what the threshold lets through), side by side.
-- step: dedup_report
SELECT (SELECT count(*) FROM duplicates) AS removed,
       (SELECT count(DISTINCT odis_duplicate_of) FROM duplicates) AS clusters,
       (SELECT max(n) + 1 FROM (SELECT count(*) AS n FROM duplicates GROUP BY odis_duplicate_of)) AS largest,
       CAST(p.odis_id AS VARCHAR) AS id, CAST(p.odis_duplicate_of AS VARCHAR) AS duplicate_of, p.odis_similarity AS similarity,
       a.text, b.text AS original
FROM least_alike p
LEFT JOIN examples a ON a.odis_id = p.odis_id
LEFT JOIN examples b ON b.odis_id = p.odis_duplicate_of
ORDER BY p.odis_similarity, p.odis_id;
-- What the quality filter removed: documents per rule, with one example each.
-- step: filter_report
SELECT f.odis_rule AS rule, f.documents, c.text AS example
FROM rule_examples f
LEFT JOIN examples c ON c.odis_id = f.example_id
ORDER BY f.documents DESC, f.odis_rule;
