//! Which BLAS/LAPACK `ndarray-linalg` runs on.
//!
//! odis links OpenBLAS from the system (Debian's `libopenblas-dev`) through
//! `ndarray-linalg`'s `openblas-system` feature. Asking the library itself
//! for its configuration, and running one tiny decomposition through
//! `ndarray-linalg`, proves that the library really is linked and works.

use std::ffi::{CStr, c_char};

use ndarray::array;
use ndarray_linalg::{Eigh, UPLO};

unsafe extern "C" {
    fn openblas_get_config() -> *const c_char;
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
    fn openblas_is_linked_and_lapack_runs() {
        assert!(blas_description().starts_with("OpenBLAS"), "{}", blas_description());
        assert!(lapack_works());
    }
}
