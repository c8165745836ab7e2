//! Which BLAS/LAPACK `ndarray-linalg` runs on.
//!
//! odis links OpenBLAS from the system (Debian's `libopenblas-dev`) through
//! `ndarray-linalg`'s `openblas-system` feature. Asking the library itself
//! for its configuration, and running one tiny decomposition through
//! `ndarray-linalg`, proves that the library really is linked and works.

use std::ffi::{CStr, c_char};

use ndarray::{Array2, ArrayView2, array};
use ndarray_linalg::{Eigh, UPLO};

unsafe extern "C" {
    fn openblas_get_config() -> *const c_char;
    #[allow(clippy::too_many_arguments)]
    fn cblas_sgemm(
        order: i32,
        trans_a: i32,
        trans_b: i32,
        m: i32,
        n: i32,
        k: i32,
        alpha: f32,
        a: *const f32,
        lda: i32,
        b: *const f32,
        ldb: i32,
        beta: f32,
        c: *mut f32,
        ldc: i32,
    );
}

const ROW_MAJOR: i32 = 101;
const NO_TRANS: i32 = 111;
const TRANS: i32 = 112;

/// `a · bᵀ` in single precision (a: m × d, b: n × d), by OpenBLAS's sgemm:
/// blocked, vectorised and threaded, where ndarray's own product is none of
/// the last. Views that are not contiguous rows go through ndarray.
pub fn sgemm_abt(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let ((m, d), (n, d2)) = (a.dim(), b.dim());
    assert_eq!(d, d2, "sgemm_abt: a has {d} columns, b {d2}");
    let fits = |x: usize| i32::try_from(x).is_ok();
    let (Some(a_rows), Some(b_rows)) = (a.as_slice(), b.as_slice()) else {
        return a.dot(&b.t());
    };
    if m == 0 || n == 0 || d == 0 || !fits(m) || !fits(n) || !fits(d) {
        return a.dot(&b.t());
    }
    let mut c = Array2::<f32>::zeros((m, n));
    let out = c.as_slice_mut().expect("a new array is contiguous");
    // SAFETY: a is m × d and b is n × d, both contiguous row-major (checked
    // above); c is m × n row-major; every dimension fits a 32-bit int.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            NO_TRANS,
            TRANS,
            m as i32,
            n as i32,
            d as i32,
            1.0,
            a_rows.as_ptr(),
            d as i32,
            b_rows.as_ptr(),
            d as i32,
            0.0,
            out.as_mut_ptr(),
            n as i32,
        );
    }
    c
}

/// OpenBLAS's own description of itself, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH
/// NO_AFFINITY Haswell MAX_THREADS=64`.
pub fn blas_description() -> String {
    // SAFETY: `openblas_get_config` takes no arguments and returns a pointer
    // to a static, NUL-terminated string.
    let config = unsafe { CStr::from_ptr(openblas_get_config()) };
    config.to_string_lossy().trim().to_string()
}

/// Runs a 2×2 symmetric eigen-decomposition through LAPACK and checks it:
/// the eigenvalues of [[2, 1], [1, 2]] are 1 and 3.
pub fn lapack_works() -> bool {
    let m = array![[2.0_f64, 1.0], [1.0, 2.0]];
    match m.eigh(UPLO::Lower) {
        Ok((values, _)) => (values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgemm_is_ndarrays_product() {
        let a = Array2::from_shape_fn((37, 19), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let b = Array2::from_shape_fn((23, 19), |(i, j)| ((i * 5 + j) % 13) as f32 * 0.5);
        assert_eq!(sgemm_abt(a.view(), b.view()), a.dot(&b.t()));
        // A view of every other row is not contiguous: ndarray's product.
        let strided = a.slice(ndarray::s![..;2, ..]);
        assert_eq!(sgemm_abt(strided, b.view()), strided.dot(&b.t()));
    }

    #[test]
    fn openblas_is_linked_and_lapack_runs() {
        assert!(blas_description().starts_with("OpenBLAS"), "{}", blas_description());
        assert!(lapack_works());
    }
}
