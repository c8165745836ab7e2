//! `odis_version()`: the versions of odis and of the native libraries it runs on.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::blas;
use crate::score::runtime;

#[user_doc(
    doc_section(label = "ODiS System Functions"),
    description = "Returns the versions of odis, DataFusion, the ONNX Runtime library odis \
loaded (or why it could not load one) and the BLAS that PCA runs on. Use it to check an \
installation: it loads ONNX Runtime and runs a small LAPACK decomposition.",
    syntax_example = "odis_version()",
    sql_example = r#"```sql
> SELECT odis_version();
+-----------------------------------------------------------------------------------------+
| odis_version()                                                                          |
+-----------------------------------------------------------------------------------------+
| odis 0.1.0; DataFusion 55.2.0; ONNX Runtime 1.32.0; BLAS OpenBLAS 0.3.21 DYNAMIC_ARCH … |
+-----------------------------------------------------------------------------------------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OdisVersionFunc {
    signature: Signature,
}

impl Default for OdisVersionFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl OdisVersionFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

/// The text `odis_version()` returns.
pub fn version_string() -> String {
    let onnx = match runtime::onnx_runtime() {
        Ok(rt) => format!("ONNX Runtime {}", rt.version),
        Err(e) => format!("ONNX Runtime not loaded ({e})"),
    };
    let lapack = if blas::lapack_works() { "" } else { " (LAPACK check FAILED)" };
    format!(
        "odis {}; DataFusion {}; {onnx}; BLAS {}{lapack}",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION,
        blas::blas_description(),
    )
}

impl ScalarUDFImpl for OdisVersionFunc {
    fn name(&self) -> &str {
        "odis_version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !args.args.is_empty() {
            return exec_err!("odis_version() takes no arguments");
        }
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version_string()))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The function as DataFusion registers it.
pub fn odis_version_udf() -> Arc<datafusion::logical_expr::ScalarUDF> {
    Arc::new(OdisVersionFunc::new().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_library() {
        let v = version_string();
        assert!(v.starts_with(&format!("odis {}", env!("CARGO_PKG_VERSION"))), "{v}");
        assert!(v.contains(&format!("DataFusion {}", datafusion::DATAFUSION_VERSION)), "{v}");
        assert!(v.contains("ONNX Runtime"), "{v}");
        assert!(v.contains("BLAS OpenBLAS"), "{v}");
        assert!(!v.contains("FAILED"), "{v}");
    }
}
