//! Every odis function gives the same answer at 1 and at N partitions: the
//! bundled corpus split into 4 files, each query run at 1 and 4 target
//! partitions, the printed results compared. Selections must agree row for
//! row; fitted numbers (sums merged in another order) to 9 decimals.

mod common;

use common::function_queries::{answers, split_corpus};
use odis::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_answers_the_same_at_1_and_4_partitions() {
    let dir = tempfile::tempdir().unwrap();
    split_corpus(dir.path()).await;
    let models = common::fixtures::generate("make_test_models.py");
    let model = models.join("tiny_encoder").display().to_string();
    let at = |partitions: usize| Engine::builder().with_target_partitions(partitions).build().unwrap();
    let one = answers(&at(1), dir.path(), &model).await;
    let four = answers(&at(4), dir.path(), &model).await;
    for ((function, a), (_, b)) in one.iter().zip(&four) {
        assert!(a == b, "{function} differs between 1 and 4 partitions:\n{a}\n---\n{b}");
    }
    // Every function odis registers is among the queries, so a new one is
    // not left out of this test and tests/cluster.rs.
    let asked: Vec<&str> = one.iter().map(|(function, _)| *function).collect();
    for name in odis::udfs::function_names() {
        // Neither reads a table: the version, and the session's models.
        if name != "odis_version" && name != "odis_models" {
            assert!(asked.contains(&name.as_str()), "no query of {name} in tests/common/function_queries.rs");
        }
    }
}
