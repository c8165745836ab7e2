//! Property tests on the entry points that read untrusted input: any text
//! through the ratings, the raw signals and the quality rules; any filter
//! spec; any PCA model struct given to pca_project; any odis.json beside a
//! real model. None may panic; each returns a value or a clear error.
//!
//! `cargo test --test fuzz` runs a bounded number of cases;
//! `scripts/fuzz.sh` runs many more (ODIS_FUZZ_CASES). A failing case is
//! shrunk and saved in `tests/fuzz.proptest-regressions`, which is
//! committed and replayed first on every run.

mod common;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use odis::udfs::filter::filter_rules::FilterSpec;
use odis::udfs::pca::decomposition::{ModelColumn, PcaModel};
use odis::udfs::signals::{text_ratings, text_signals};
use proptest::prelude::*;

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("ODIS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() }
}

/// Text with the shapes the rules look at: lines, bullets, ellipses,
/// repeated words, symbols, scripts without spaces, control characters.
fn texty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,12}",
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("- ".to_string()),
        Just("...".to_string()),
        Just("…".to_string()),
        Just("#".to_string()),
        Just("{".to_string()),
        Just("lorem ipsum".to_string()),
        "[\\u{4e00}-\\u{4e40}]{1,8}",
        "\\PC{1,6}",
        "[\\x00-\\x1f]{1,3}",
    ];
    prop::collection::vec(piece, 0..200).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn ratings_and_signals_of_any_text_are_finite_and_bounded(text in prop_oneof![texty(), any::<String>()]) {
        for (i, r) in text_ratings::ratings(&text).iter().enumerate() {
            prop_assert!(r.is_finite() && (0.0..=1.0).contains(r), "rating {i} = {r} for {text:?}");
        }
        for (i, s) in text_signals::signals(&text).iter().enumerate() {
            prop_assert!(!s.is_nan() || text.is_empty(), "signal {i} is NaN for {text:?}");
        }
    }

    #[test]
    fn every_rule_judges_any_text(text in prop_oneof![texty(), any::<String>()]) {
        let all = FilterSpec::parse("all").unwrap();
        let verdict = all.first_failure(&text);
        // The default rules are a subset of all: a text all of them pass
        // passes the default too.
        if verdict.is_none() {
            prop_assert!(FilterSpec::parse("default").unwrap().first_failure(&text).is_none());
        }
    }

    #[test]
    fn any_filter_spec_parses_or_says_why(spec in prop_oneof![
        any::<String>(),
        "[a-z_,=0-9.\\- ]{0,60}",
        "(default|none|all|gopher|c4|fineweb)(,[a-z_]{3,30}=(off|-?[0-9]{1,6}(\\.[0-9]{1,3})?))*",
    ]) {
        match FilterSpec::parse(&spec) {
            Ok(parsed) => {
                // Canonical form parses back to the same rules.
                let again = FilterSpec::parse(&parsed.canonical()).unwrap();
                prop_assert_eq!(again.canonical(), parsed.canonical());
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn any_model_struct_is_read_or_refused(
        d in 0usize..6,
        k in 0usize..4,
        lens in prop::collection::vec(0usize..7, 5),
        values in prop::collection::vec(prop_oneof![any::<f64>(), -10.0f64..10.0, Just(0.0), Just(f64::NAN)], 64),
    ) {
        let take = |n: usize, at: usize| -> Vec<f64> { (0..n).map(|i| values[(at + i) % values.len()]).collect() };
        let model = PcaModel {
            n_rows: lens[0] as u64,
            mean: take(d, 0),
            scale: take(if lens[1] % 3 == 0 { lens[1] } else { d }, 7),
            components: (0..k).map(|c| take(if lens[2] == c { lens[3] } else { d }, 13 + c)).collect(),
            explained_variance: take(if lens[4] % 2 == 0 { k } else { lens[4] }, 29),
            explained_variance_ratio: take(k, 31),
        };
        let array: ArrayRef = Arc::new(model.to_struct_array().unwrap());
        if let Ok(column) = ModelColumn::try_new("pca_project", &array) {
            if let Ok(Some(read)) = column.get("pca_project", 0) {
                prop_assert_eq!(read.components.len(), read.k * read.mean.len());
                prop_assert!(read.scale.iter().all(|s| *s > 0.0));
            }
        }
    }
}

/// Any odis.json beside a real model: loaded, or one clear error.
#[test]
fn any_manifest_loads_or_is_refused() {
    let model = common::fixtures::generate("make_test_models.py").join("tiny_regressor");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let manifest = prop_oneof![
        any::<String>(),
        "\\{(\"(output|pooling|normalize|max_length|dims|head)\": ?(-?[0-9]{1,12}|true|null|\"[a-z]{0,8}\"|\\[[0-9, .e-]{0,40}\\]|\\{\\}),? ?){0,6}\\}",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: cases(48).cases, ..ProptestConfig::default() });
    runner
        .run(&manifest, |json| {
            std::fs::write(dir.path().join("odis.json"), &json).unwrap();
            match odis::udfs::score::model::ModelSpec::load(dir.path()) {
                Ok(_) => {}
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.contains("odis.json") || message.contains("model.onnx"), "{message}");
                }
            }
            Ok(())
        })
        .unwrap();
}
