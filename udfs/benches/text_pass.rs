//! The text pass of `odis select` (pass 1 without the Parquet I/O): the
//! default quality filter on every document, the ratings on the documents
//! it keeps, over the real text of the bundled corpus, one core. Side by
//! side with the implementation before the single-walk rewrite, frozen in
//! `text_pass/previous.rs`, in the same run:
//!
//!     cargo bench -p odis-udfs --bench text_pass
//!
//! Criterion reports both as bytes of text per second (MB/s per core).

#[path = "text_pass/previous.rs"]
mod previous;

use std::fs::File;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use odis_udfs::filter::filter_rules::{FilterScratch, FilterSpec};
use odis_udfs::signals::text_ratings;
use odis_udfs::text::prose::ProseScratch;

fn corpus_texts() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/data/corpus.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("the bundled corpus"))
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let mut texts = Vec::new();
    for batch in reader {
        let batch = batch.expect("a batch");
        let column = batch.column_by_name("text").expect("a text column");
        let strings = column.as_string::<i32>();
        texts.extend((0..strings.len()).filter(|&i| strings.is_valid(i)).map(|i| strings.value(i).to_string()));
    }
    texts
}

fn text_pass(c: &mut Criterion) {
    let texts = corpus_texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let spec = FilterSpec::default();
    // Both implementations must agree before their speeds mean anything.
    let mut filter = FilterScratch::default();
    let mut prose = ProseScratch::default();
    for text in &texts {
        let now = spec.first_failure_with(text, &mut filter);
        assert_eq!(now.is_none(), previous::first_failure(text).is_none(), "{text:?}");
        if now.is_none() {
            assert_eq!(text_ratings::ratings_with(text, &mut prose), previous::ratings(text));
        }
    }
    let mut group = c.benchmark_group("text_pass");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("previous", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for text in &texts {
                if previous::first_failure(text).is_none() {
                    sum += previous::ratings(text)[0];
                }
            }
            sum
        })
    });
    group.bench_function("single_walk", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for text in &texts {
                if spec.first_failure_with(text, &mut filter).is_none() {
                    sum += text_ratings::ratings_with(text, &mut prose)[0];
                }
            }
            sum
        })
    });
    group.finish();
}

criterion_group!(benches, text_pass);
criterion_main!(benches);
