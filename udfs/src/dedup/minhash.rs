//! MinHash signatures and LSH bands of texts, as published (Broder 1997;
//! banding as in Leskovec et al., *Mining of Massive Datasets*, ch. 3) and
//! as datatrove, NeMo Curator and Data-Juicer run them.
//!
//! A text's shingles are its word n-grams (`text::shingles`). Each of
//! `bands × rows` seeded hash functions maps a shingle's 64-bit hash to 32
//! bits (multiply-add-shift: `(a·x + b) >> 32`, `a` odd; an almost
//! universal family, Dietzfelbinger et al. 1997), and the signature keeps
//! each function's minimum over the shingles. The share of equal values of
//! two signatures estimates the Jaccard similarity of the two shingle sets.
//! Two texts become candidates when all `rows` values of some band agree:
//! for Jaccard `s` that happens with probability `1 − (1 − s^rows)^bands`.
//!
//! Defaults: 5-word shingles and 14 bands × 8 rows = 112 hash functions at
//! threshold 0.8, the setting of the FineWeb deduplication (datatrove's
//! `MinhashConfig`: 5-grams, 14 buckets × 8 hashes), whose S-curve is 50%
//! near Jaccard 0.68 and above 99% from 0.86; a candidate pair is kept when
//! its estimated Jaccard reaches `threshold`.

use std::fmt;

use crate::dedup::datatrove_minhash::{DatatroveSigner, MAX_SEED};
use crate::spec::{self, splitmix64};

/// The spec word for datatrove's signatures and rules.
pub const DATATROVE: &str = "datatrove";
use crate::text::shingles::{ShingleScratch, shingle_hashes};

/// MinHash settings, from a spec string such as
/// `'threshold=0.8,ngram=5,bands=14,rows=8,seed=1'` (any subset; the rest
/// keep their defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinHashSpec {
    /// Estimated Jaccard similarity at or above which two texts are
    /// duplicates, in (0, 1].
    pub threshold: f64,
    /// Words per shingle, 1 to 64.
    pub ngram: usize,
    pub bands: usize,
    pub rows: usize,
    /// Seeds the hash functions: signatures compare only under one seed.
    pub seed: u64,
    /// Bits kept of each value: 32, 16 or 8 (b-bit minwise hashing, Li and
    /// König 2010: a quarter of the space at 8 bits, the estimate corrected
    /// for the 2^-b chance that two unrelated values agree).
    pub bits: u32,
    /// datatrove's signatures and rules (`datatrove_minhash.rs`): its
    /// shingles and hash functions, and band matches linked unverified.
    pub datatrove: bool,
}

impl Default for MinHashSpec {
    fn default() -> Self {
        MinHashSpec { threshold: 0.8, ngram: 5, bands: 14, rows: 8, seed: 1, bits: 32, datatrove: false }
    }
}

/// The largest `bands × rows`: signatures stay small next to the text.
pub const MAX_HASHES: usize = 1024;

impl MinHashSpec {
    /// Parses a spec (see the type's docs); an empty spec is the default.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut out = MinHashSpec::default();
        // `datatrove` is a word, not KEY=VALUE.
        let datatrove = spec.split(',').any(|item| item.trim() == DATATROVE);
        let rest: Vec<&str> = spec.split(',').filter(|item| item.trim() != DATATROVE).collect();
        let rest = rest.join(",");
        let mut threshold_given = false;
        for item in spec::items(&rest, "threshold=0.8,ngram=5,bands=14,rows=8,seed=1") {
            let (key, value) = item?;
            let integer = |low: u64, high: u64| spec::integer(key, value, low, high);
            match key {
                "threshold" => {
                    threshold_given = true;
                    out.threshold = value
                        .parse::<f64>()
                        .ok()
                        .filter(|t| *t > 0.0 && *t <= 1.0)
                        .ok_or_else(|| format!("threshold must be a number in (0, 1], got '{value}'"))?;
                }
                "ngram" => out.ngram = integer(1, 64)? as usize,
                "bands" => out.bands = integer(1, MAX_HASHES as u64)? as usize,
                "rows" => out.rows = integer(1, MAX_HASHES as u64)? as usize,
                "seed" => out.seed = integer(0, u64::MAX)?,
                "bits" => {
                    out.bits = match value {
                        "8" => 8,
                        "16" => 16,
                        "32" => 32,
                        _ => return Err(format!("bits must be 8, 16 or 32, got '{value}'")),
                    }
                }
                other => {
                    return Err(format!(
                        "unknown key '{other}'; the keys are threshold, ngram, bands, rows, seed and bits (or the word \
                         'datatrove')"
                    ));
                }
            }
        }
        if datatrove {
            if threshold_given {
                return Err("'datatrove' links every pair of equal bands without checking their similarity, so it \
                     takes no threshold; leave threshold out"
                    .to_string());
            }
            if out.bits != 32 {
                return Err(format!(
                    "'datatrove' keeps 32 bits a value (fewer would match bands that datatrove's 61-bit values tell \
                     apart); leave bits={} out",
                    out.bits
                ));
            }
            if out.seed > MAX_SEED {
                return Err(format!("'datatrove' seeds numpy's generator, which takes a seed up to {MAX_SEED}; got {}", out.seed));
            }
            out.datatrove = true;
        }
        if out.bands * out.rows > MAX_HASHES {
            return Err(format!(
                "bands × rows = {} × {} = {} hash functions, more than {MAX_HASHES}; use fewer bands or rows",
                out.bands,
                out.rows,
                out.bands * out.rows
            ));
        }
        Ok(out)
    }

    /// Hash functions per signature.
    pub fn hashes(&self) -> usize {
        self.bands * self.rows
    }

    /// Bytes of a signature packed by `minhash_pack`: `bits / 8` a value.
    pub fn packed_bytes(&self) -> usize {
        self.hashes() * (self.bits as usize / 8)
    }

    /// The probability that two texts of Jaccard similarity `s` share a
    /// band (and so become a candidate pair).
    pub fn candidate_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

impl fmt::Display for MinHashSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.datatrove {
            return write!(f, "{DATATROVE},ngram={},bands={},rows={},seed={}", self.ngram, self.bands, self.rows, self.seed);
        }
        write!(
            f,
            "threshold={},ngram={},bands={},rows={},seed={},bits={}",
            self.threshold, self.ngram, self.bands, self.rows, self.seed, self.bits
        )
    }
}

/// The seeded hash functions of a spec, and buffers reused across texts.
#[derive(Debug)]
pub struct MinHasher {
    spec: MinHashSpec,
    a: Vec<u64>,
    b: Vec<u64>,
    scratch: ShingleScratch,
    datatrove: Option<Box<DatatroveSigner>>,
}

impl MinHasher {
    pub fn new(spec: MinHashSpec) -> Self {
        let mut state = spec.seed;
        let (mut a, mut b) = (Vec::with_capacity(spec.hashes()), Vec::with_capacity(spec.hashes()));
        for _ in 0..spec.hashes() {
            a.push(splitmix64(&mut state) | 1);
            b.push(splitmix64(&mut state));
        }
        let datatrove = spec.datatrove.then(|| Box::new(DatatroveSigner::new(spec.ngram, spec.hashes(), spec.seed)));
        MinHasher { spec, a, b, scratch: ShingleScratch::default(), datatrove }
    }

    pub fn spec(&self) -> &MinHashSpec {
        &self.spec
    }

    /// Writes the signature of `text` into `out` (`bands × rows` values of
    /// `bits` bits each). False for a text that has none (under
    /// 'datatrove', one of fewer than `ngram` tokens).
    pub fn signature(&mut self, text: &str, out: &mut Vec<u32>) -> bool {
        if let Some(signer) = &mut self.datatrove {
            return signer.signature(text, out);
        }
        out.clear();
        out.resize(self.spec.hashes(), u32::MAX);
        let shingles = shingle_hashes(text, self.spec.ngram, &mut self.scratch);
        minimise(out, &self.a, &self.b, shingles);
        if self.spec.bits < 32 {
            // The lowest bits of the minimum: as random as its highest, and
            // the minimum itself is decided on all 32.
            let mask = (1u32 << self.spec.bits) - 1;
            out.iter_mut().for_each(|v| *v &= mask);
        }
        true
    }
}

/// Hash functions whose running minima one block holds: few enough that
/// they stay in registers while all the shingles stream past.
const BLOCK: usize = 16;

/// Every shingle's values into the running minima, `BLOCK` functions at a
/// time; branch-free so that it vectorises.
#[inline(always)]
fn minimise_plain(minima: &mut [u32], a: &[u64], b: &[u64], shingles: &[u64]) {
    let value = |a: u64, b: u64, x: u64| (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
    for ((m, a), b) in minima.chunks_mut(BLOCK).zip(a.chunks(BLOCK)).zip(b.chunks(BLOCK)) {
        if let (Ok(m), Ok(a), Ok(b)) = (<&mut [u32; BLOCK]>::try_from(&mut *m), <&[u64; BLOCK]>::try_from(a), <&[u64; BLOCK]>::try_from(b))
        {
            let mut block = *m;
            for &x in shingles {
                for j in 0..BLOCK {
                    block[j] = block[j].min(value(a[j], b[j], x));
                }
            }
            *m = block;
        } else {
            for &x in shingles {
                for ((m, &a), &b) in m.iter_mut().zip(a).zip(b) {
                    *m = (*m).min(value(a, b, x));
                }
            }
        }
    }
}

/// [`minimise_plain`] compiled for AVX2, whose 256-bit lanes take four of
/// the functions at a time (the same arithmetic, so the same signature).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn minimise_avx2(minima: &mut [u32], a: &[u64], b: &[u64], shingles: &[u64]) {
    minimise_plain(minima, a, b, shingles)
}

/// [`minimise_plain`] with AVX-512, which multiplies 64-bit lanes natively
/// (AVX2 builds each product of three 32-bit ones): 16 functions a block,
/// their products in two registers, whose high halves one permute gathers
/// into the 16 running minima. Written out because the compiler's version
/// of the plain loop narrowed each half apart and kept spilling registers
/// to the stack (a third of the signing time went there).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn minimise_avx512(minima: &mut [u32], a: &[u64], b: &[u64], shingles: &[u64]) {
    use std::arch::x86_64::*;
    let full = minima.len().min(a.len()).min(b.len()) / BLOCK * BLOCK;
    // Lane i of the permute's result: the odd (high) 32-bit half of
    // product i, from the first register for i < 8, else the second.
    let high_halves = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for start in (0..full).step_by(BLOCK) {
        // SAFETY: start + 16 <= full, within all three slices; the loads
        // and the store take any alignment.
        unsafe {
            let a0 = _mm512_loadu_si512(a.as_ptr().add(start) as *const __m512i);
            let a1 = _mm512_loadu_si512(a.as_ptr().add(start + 8) as *const __m512i);
            let b0 = _mm512_loadu_si512(b.as_ptr().add(start) as *const __m512i);
            let b1 = _mm512_loadu_si512(b.as_ptr().add(start + 8) as *const __m512i);
            let mut m = _mm512_loadu_si512(minima.as_ptr().add(start) as *const __m512i);
            for &x in shingles {
                let x = _mm512_set1_epi64(x as i64);
                let low = _mm512_add_epi64(_mm512_mullo_epi64(a0, x), b0);
                let high = _mm512_add_epi64(_mm512_mullo_epi64(a1, x), b1);
                m = _mm512_min_epu32(m, _mm512_permutex2var_epi32(low, high_halves, high));
            }
            _mm512_storeu_si512(minima.as_mut_ptr().add(start) as *mut __m512i, m);
        }
    }
    minimise_plain(&mut minima[full..], &a[full..], &b[full..], shingles)
}

/// The vector instructions this CPU has for [`minimise`], found once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Simd {
    None,
    Avx2,
    Avx512,
}

fn simd() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        static LEVEL: std::sync::LazyLock<Simd> = std::sync::LazyLock::new(|| {
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
                Simd::Avx512
            } else if std::arch::is_x86_feature_detected!("avx2") {
                Simd::Avx2
            } else {
                Simd::None
            }
        });
        *LEVEL
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Simd::None
    }
}

/// [`minimise_plain`] with the widest vectors `level` allows (at most what
/// the CPU has).
fn minimise_at(level: Simd, minima: &mut [u32], a: &[u64], b: &[u64], shingles: &[u64]) {
    match level.min(simd()) {
        // SAFETY: the CPU has the features each is compiled for (`simd`
        // checked them).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { minimise_avx512(minima, a, b, shingles) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { minimise_avx2(minima, a, b, shingles) },
        _ => minimise_plain(minima, a, b, shingles),
    }
}

fn minimise(minima: &mut [u32], a: &[u64], b: &[u64], shingles: &[u64]) {
    minimise_at(Simd::Avx512, minima, a, b, shingles)
}

/// The estimate of two texts' Jaccard similarity from their signatures (of
/// one spec, values of `bits` bits): the share of equal values, corrected
/// for the 2^-bits chance that two values agree by accident.
pub fn estimated_jaccard(a: &[u32], b: &[u32], bits: u32) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    corrected_jaccard(a.iter().zip(b).filter(|(x, y)| x == y).count(), a.len(), bits)
}

/// The estimate from `equal` agreeing values of `width`: their share,
/// corrected for the 2^-bits chance that two values agree by accident.
pub fn corrected_jaccard(equal: usize, width: usize, bits: u32) -> f64 {
    if width == 0 {
        return 0.0;
    }
    let chance = 0.5f64.powi(bits as i32);
    ((equal as f64 / width as f64 - chance) / (1.0 - chance)).clamp(0.0, 1.0)
}

/// The key of each band of `signature` (`rows` values per band): equal keys
/// mean (but for a 2^-64 chance) equal bands of one band number.
pub fn band_keys(signature: &[u32], rows: usize, out: &mut Vec<u64>) {
    out.clear();
    out.extend(signature.chunks_exact(rows).enumerate().map(|(band, values)| band_key(values, band)));
}

/// The key of band number `band` (from 0) whose values are `values`.
pub fn band_key(values: &[u32], band: usize) -> u64 {
    let mut bytes = [0u8; 4 * MAX_HASHES];
    for (chunk, v) in bytes.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes[..4 * values.len()], band as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::shingles::for_each_shingle;

    fn signature(spec: MinHashSpec, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        MinHasher::new(spec).signature(text, &mut out);
        out
    }

    /// The exact Jaccard similarity of two texts' shingle sets.
    fn jaccard(a: &str, b: &str, n: usize) -> f64 {
        let set = |t: &str| {
            let mut s = std::collections::HashSet::new();
            for_each_shingle(t, n, &mut ShingleScratch::default(), |h| {
                s.insert(h);
            });
            s
        };
        let (a, b) = (set(a), set(b));
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    }

    fn words(seed: u64, n: usize) -> Vec<String> {
        let mut state = seed;
        (0..n).map(|_| format!("w{}", splitmix64(&mut state) % 5000)).collect()
    }

    #[test]
    fn specs_parse_and_name_what_is_wrong() {
        assert_eq!(MinHashSpec::parse("").unwrap(), MinHashSpec::default());
        let spec = MinHashSpec::parse(" threshold=0.7, ngram=3,bands=20,rows=5,seed=9,bits=8 ").unwrap();
        assert_eq!(spec, MinHashSpec { threshold: 0.7, ngram: 3, bands: 20, rows: 5, seed: 9, bits: 8, datatrove: false });
        let datatrove = MinHashSpec::parse("datatrove").unwrap();
        assert!(datatrove.datatrove && datatrove.bits == 32);
        assert_eq!(MinHashSpec::parse(&datatrove.to_string()).unwrap(), datatrove);
        assert!(MinHashSpec::parse("datatrove,threshold=0.7").unwrap_err().contains("takes no threshold"));
        assert!(MinHashSpec::parse("bits=8, datatrove").unwrap_err().contains("leave bits=8 out"));
        assert!(MinHashSpec::parse("datatrove,seed=5000000000").unwrap_err().contains("up to 4294967295"));
        assert_eq!(MinHashSpec::parse(&spec.to_string()).unwrap(), spec);
        let err = |s: &str| MinHashSpec::parse(s).unwrap_err();
        assert!(err("threshold=0").contains("threshold must be a number in (0, 1]"));
        assert!(err("threshold=1.5").contains("(0, 1]"));
        assert!(err("bands=0").contains("bands must be an integer from 1"));
        assert!(err("bands=64,rows=32").contains("more than 1024"));
        assert!(err("ngram=x").contains("ngram must be an integer"));
        assert!(err("shingle=5").contains("unknown key 'shingle'"));
        assert!(err("bits=12").contains("bits must be 8, 16 or 32"));
        assert!(err("threshold").contains("is not KEY=VALUE"));
    }

    #[test]
    fn signatures_are_seeded_and_deterministic() {
        let spec = MinHashSpec::default();
        let text = words(1, 200).join(" ");
        let a = signature(spec, &text);
        assert_eq!(a.len(), 112);
        assert_eq!(a, signature(spec, &text));
        assert_ne!(a, signature(MinHashSpec { seed: 2, ..spec }, &text));
        // The same words in another case and spacing: the same signature.
        assert_eq!(a, signature(spec, &text.to_uppercase().replace(' ', "  \n")));
    }

    /// The estimate follows the true Jaccard similarity: over pairs with
    /// 1 to 40 edited words, within 0.12 (three standard deviations at
    /// 256 hashes), and unbiased on average.
    #[test]
    fn estimates_track_the_true_similarity() {
        let spec = MinHashSpec { bands: 32, rows: 8, ..MinHashSpec::default() };
        let mut hasher = MinHasher::new(spec);
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let mut total_error = 0.0;
        for case in 0..40u64 {
            let base = words(100 + case, 300);
            let mut edited = base.clone();
            for k in 0..=case as usize {
                edited[(k * 37 + 11) % 300] = format!("edit{k}");
            }
            let (a, b) = (base.join(" "), edited.join(" "));
            hasher.signature(&a, &mut sa);
            hasher.signature(&b, &mut sb);
            let (estimate, truth) = (estimated_jaccard(&sa, &sb, 32), jaccard(&a, &b, spec.ngram));
            assert!((estimate - truth).abs() < 0.12, "case {case}: estimate {estimate}, true {truth}");
            total_error += estimate - truth;
        }
        assert!((total_error / 40.0).abs() < 0.02, "mean error {}", total_error / 40.0);
    }

    #[test]
    fn bands_match_when_their_rows_do() {
        let mut sig: Vec<u32> = (0..112).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        band_keys(&sig, 8, &mut a);
        sig[9] += 1000; // band 1
        band_keys(&sig, 8, &mut b);
        assert_eq!(a.len(), 14);
        let differ: Vec<usize> = (0..14).filter(|&i| a[i] != b[i]).collect();
        assert_eq!(differ, vec![1]);
        // Equal values in two bands do not give equal band hashes.
        let same: Vec<u32> = vec![7; 112];
        band_keys(&same, 8, &mut a);
        assert_ne!(a[0], a[1]);
    }

    /// At 8 bits the corrected estimate stays close to the 32-bit one, and
    /// unrelated texts estimate near 0, not at the 1/256 chance level.
    #[test]
    fn b_bit_estimates_are_corrected() {
        let spec = MinHashSpec { bands: 32, rows: 8, ..MinHashSpec::default() };
        let (text, edited, other) = (words(7, 300).join(" "), words(7, 290).join(" "), words(8, 300).join(" "));
        let at = |bits: u32, a: &str, b: &str| {
            let spec = MinHashSpec { bits, ..spec };
            estimated_jaccard(&signature(spec, a), &signature(spec, b), bits)
        };
        assert!((at(8, &text, &edited) - at(32, &text, &edited)).abs() < 0.08);
        assert!(at(8, &text, &other) < 0.03);
        assert!(signature(MinHashSpec { bits: 8, ..spec }, &text).iter().all(|&v| v < 256));
    }

    /// Every vectorised pass gives the same minima as the plain one, on
    /// blocks of every length.
    #[test]
    fn the_wide_passes_are_the_plain_one() {
        let hasher = MinHasher::new(MinHashSpec { bands: 37, rows: 3, ..MinHashSpec::default() });
        let mut state = 5u64;
        let shingles: Vec<u64> = (0..1000).map(|_| splitmix64(&mut state)).collect();
        let run = |level: Simd| {
            let mut minima = vec![u32::MAX; 111];
            minimise_at(level, &mut minima, &hasher.a, &hasher.b, &shingles);
            minima
        };
        let plain = run(Simd::None);
        let mut expected = vec![u32::MAX; 111];
        for &x in &shingles {
            for (j, m) in expected.iter_mut().enumerate() {
                *m = (*m).min((hasher.a[j].wrapping_mul(x).wrapping_add(hasher.b[j]) >> 32) as u32);
            }
        }
        assert_eq!(plain, expected);
        assert_eq!(run(Simd::Avx2), plain);
        assert_eq!(run(Simd::Avx512), plain);
        // The default width, whole blocks only.
        let default = MinHasher::new(MinHashSpec::default());
        let mut wide = vec![u32::MAX; 112];
        minimise_at(Simd::Avx512, &mut wide, &default.a, &default.b, &shingles);
        let mut narrow = vec![u32::MAX; 112];
        minimise_at(Simd::None, &mut narrow, &default.a, &default.b, &shingles);
        assert_eq!(wide, narrow);
    }

    #[test]
    fn the_s_curve_is_the_published_one() {
        let spec = MinHashSpec::default();
        assert!(spec.candidate_probability(0.86) > 0.99);
        assert!((spec.candidate_probability(0.685) - 0.5).abs() < 0.03);
        assert!(spec.candidate_probability(0.5) < 0.06);
    }
}
