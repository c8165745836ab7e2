-- A first look at the bundled corpus (sql/data/corpus.parquet).
-- Run from the repository root:  odis -f sql/demo.sql

-- Which versions of odis, DataFusion, ONNX Runtime and BLAS are running.
SELECT odis_version() AS versions;

-- The corpus as a table.
CREATE EXTERNAL TABLE corpus STORED AS PARQUET LOCATION 'sql/data/corpus.parquet';

-- What it holds: documents per source, and how long they are.
SELECT source,
       count(*)                                 AS documents,
       round(avg(character_length(text)), 1)    AS mean_chars,
       max(character_length(text))              AS max_chars
FROM corpus
GROUP BY source
ORDER BY source;

-- A few documents of each source.
SELECT source, id, substr(replace(text, chr(10), ' '), 1, 90) AS text
FROM (SELECT *, row_number() OVER (PARTITION BY source ORDER BY id) AS n FROM corpus)
WHERE n <= 3
ORDER BY source, id;
