//! Object stores, registered by URL scheme.
//!
//! Local paths need nothing. `s3://bucket/...` URLs get a store on first use,
//! configured from the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`),
//! and overridden per statement by `OPTIONS('aws.…' …)` on `CREATE EXTERNAL
//! TABLE` and `COPY`, as in datafusion-cli.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::ClientConfigKey;
use url::Url;

use crate::error::{OdisError, Result};
use crate::store_retries::{self, FirstContactStore};

/// The prefix of S3 options in `OPTIONS(...)`.
pub const AWS_PREFIX: &str = "aws";

/// S3 settings given in SQL `OPTIONS('aws.<key>' '<value>')`.
///
/// Secrets are kept out of `Debug` output and of `entries()`, which is what
/// DataFusion shows when it lists options.
#[derive(Clone, Default, PartialEq)]
pub struct AwsOptions {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub allow_http: Option<bool>,
    pub skip_signature: Option<bool>,
}

const AWS_KEYS: [(&str, &str); 7] = [
    ("access_key_id", "AWS access key id"),
    ("secret_access_key", "AWS secret access key"),
    ("session_token", "AWS session token"),
    ("region", "AWS region, e.g. us-east-1"),
    ("endpoint", "S3 endpoint URL, e.g. http://127.0.0.1:9000"),
    ("allow_http", "true to allow plain-HTTP endpoints"),
    ("skip_signature", "true to send unsigned requests (public buckets)"),
];

const REDACTED: &str = "***";

impl std::fmt::Debug for AwsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| REDACTED);
        f.debug_struct("AwsOptions")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redact(&self.secret_access_key))
            .field("session_token", &redact(&self.session_token))
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .field("skip_signature", &self.skip_signature)
            .finish()
    }
}

impl AwsOptions {
    /// The `aws.*` entries of a statement's `OPTIONS`, if any.
    pub fn from_statement_options(options: &HashMap<String, String>) -> Result<Option<Self>> {
        let mut aws = Self::default();
        let mut any = false;
        for (key, value) in options {
            if let Some(key) = key.strip_prefix("aws.") {
                aws.set(key, value).map_err(OdisError::from)?;
                any = true;
            }
        }
        Ok(any.then_some(aws))
    }

    fn secrets(&self) -> impl Iterator<Item = &str> {
        [&self.secret_access_key, &self.session_token]
            .into_iter()
            .filter_map(|s| s.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// `text` with every secret value replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        self.secrets()
            .fold(text.to_string(), |text, secret| text.replace(secret, REDACTED))
    }
}

/// The option keys whose values are secrets.
const SECRET_KEYS: [&str; 2] = ["aws.secret_access_key", "aws.session_token"];

/// `sql` with the value of every secret option (`'aws.secret_access_key'
/// '...'` in OPTIONS(...)) replaced by `***`, for text that is kept, such as
/// the shell's history. Works on the text alone, before any parsing, so a
/// statement that fails to parse is redacted too.
pub fn redact_secret_options(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    while let Some(found) = SECRET_KEYS
        .iter()
        .filter_map(|key| lower[at..].find(key).map(|i| (at + i, key.len())))
        .min()
    {
        let (start, len) = found;
        // Past the key and its closing quote, then spaces, then the value's quote.
        let mut i = start + len;
        let bytes = sql.as_bytes();
        if i < bytes.len() && (bytes[i] == b'\'' || bytes[i] == b'"') {
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        out.push_str(&sql[at..i]);
        at = i;
        if i < bytes.len() && bytes[i] == b'\'' {
            // The value: up to the closing quote ('' is an escaped quote).
            let mut j = i + 1;
            while j < bytes.len() {
                if bytes[j] == b'\'' {
                    if bytes.get(j + 1) == Some(&b'\'') {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            out.push('\'');
            out.push_str(REDACTED);
            out.push('\'');
            at = (j + 1).min(sql.len());
        }
    }
    out.push_str(&sql[at..]);
    out
}

fn parse_bool(key: &str, value: &str) -> DFResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(DataFusionError::Configuration(format!(
            "option 'aws.{key}' must be 'true' or 'false', got '{value}'"
        ))),
    }
}

impl ExtensionOptions for AwsOptions {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> DFResult<()> {
        let key = key.strip_prefix("aws.").unwrap_or(key);
        let value_string = Some(value.to_string());
        match key {
            "access_key_id" => self.access_key_id = value_string,
            "secret_access_key" => self.secret_access_key = value_string,
            "session_token" => self.session_token = value_string,
            "region" => self.region = value_string,
            "endpoint" => self.endpoint = value_string,
            "allow_http" => self.allow_http = Some(parse_bool(key, value)?),
            "skip_signature" => self.skip_signature = Some(parse_bool(key, value)?),
            _ => {
                let known: Vec<_> = AWS_KEYS.iter().map(|(k, _)| format!("aws.{k}")).collect();
                return Err(DataFusionError::Configuration(format!(
                    "unknown S3 option 'aws.{key}'; known options: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let value = |key: &str| -> Option<String> {
            match key {
                "access_key_id" => self.access_key_id.clone(),
                "secret_access_key" => self.secret_access_key.as_ref().map(|_| REDACTED.into()),
                "session_token" => self.session_token.as_ref().map(|_| REDACTED.into()),
                "region" => self.region.clone(),
                "endpoint" => self.endpoint.clone(),
                "allow_http" => self.allow_http.map(|b| b.to_string()),
                "skip_signature" => self.skip_signature.map(|b| b.to_string()),
                _ => None,
            }
        };
        AWS_KEYS
            .iter()
            .map(|(key, description)| ConfigEntry {
                key: format!("aws.{key}"),
                value: value(key),
                description,
            })
            .collect()
    }
}

impl ConfigExtension for AwsOptions {
    const PREFIX: &'static str = AWS_PREFIX;
}

/// An S3 store for `url`'s bucket: the AWS environment variables, then
/// `overrides` on top.
///
/// Retries are bounded (a few attempts, 15 s in all) so that an unreachable
/// endpoint is an error within seconds, not after object_store's default
/// three minutes.
pub fn s3_store(url: &Url, overrides: Option<&AwsOptions>) -> Result<Arc<dyn ObjectStore>> {
    let store_error = |message: String| OdisError::ObjectStore {
        url: url.to_string(),
        message,
    };
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| store_error("an S3 URL needs a bucket: s3://BUCKET/KEY".into()))?;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "5s");
    if let Some(o) = overrides {
        let settings = [
            (AmazonS3ConfigKey::AccessKeyId, o.access_key_id.clone()),
            (AmazonS3ConfigKey::SecretAccessKey, o.secret_access_key.clone()),
            (AmazonS3ConfigKey::Token, o.session_token.clone()),
            (AmazonS3ConfigKey::Region, o.region.clone()),
            (AmazonS3ConfigKey::Endpoint, o.endpoint.clone()),
            (AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp), o.allow_http.map(|b| b.to_string())),
            (AmazonS3ConfigKey::SkipSignature, o.skip_signature.map(|b| b.to_string())),
        ];
        for (key, value) in settings {
            if let Some(value) = value {
                builder = builder.with_config(key, value);
            }
        }
    }
    // Quick retries until the endpoint first answers, patient ones after.
    let quick = builder.clone().with_retry(store_retries::quick()).build().map_err(|e| store_error(e.to_string()))?;
    let patient = builder.with_retry(store_retries::patient()).build().map_err(|e| store_error(e.to_string()))?;
    Ok(Arc::new(FirstContactStore::new(Arc::new(quick), Arc::new(patient))))
}

/// Whether odis can create a store for this URL scheme on demand.
pub fn is_remote_scheme(scheme: &str) -> bool {
    matches!(scheme, "s3" | "s3a")
}

/// The object store registry odis builds its engine with: DataFusion's own,
/// plus S3 stores created on first use of a bucket.
#[derive(Debug, Default)]
pub struct OdisObjectStoreRegistry {
    inner: DefaultObjectStoreRegistry,
}

impl OdisObjectStoreRegistry {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ObjectStoreRegistry for OdisObjectStoreRegistry {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Ok(store) => Ok(store),
            Err(_) if is_remote_scheme(url.scheme()) => {
                let store = s3_store(url, None).map_err(|e| DataFusionError::External(Box::new(e)))?;
                self.inner.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_option_values_are_redacted_from_statement_text() {
        let sql = "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/' OPTIONS ('aws.access_key_id' 'AKIA', \
                   'AWS.SECRET_ACCESS_KEY'   'it''s-s3cr3t', 'aws.session_token' 'tok3n', 'aws.region' 'us-east-1')";
        let redacted = redact_secret_options(sql);
        assert!(!redacted.contains("s3cr3t") && !redacted.contains("tok3n"), "{redacted}");
        assert!(redacted.contains("'AKIA'") && redacted.contains("'us-east-1'"), "{redacted}");
        assert!(redacted.contains("'AWS.SECRET_ACCESS_KEY'   '***'"), "{redacted}");
        // Unterminated values are cut at the end of the text.
        assert_eq!(redact_secret_options("OPTIONS('aws.secret_access_key' 'abc"), "OPTIONS('aws.secret_access_key' '***'");
        assert_eq!(redact_secret_options("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn debug_and_entries_hide_secrets() {
        let mut o = AwsOptions::default();
        o.set("secret_access_key", "s3cr3t-value").unwrap();
        o.set("aws.session_token", "t0ken-value").unwrap();
        o.set("access_key_id", "AKIDPUBLIC").unwrap();
        let debug = format!("{o:?}");
        assert!(!debug.contains("s3cr3t-value") && !debug.contains("t0ken-value"), "{debug}");
        assert!(debug.contains("AKIDPUBLIC"));
        let entries = format!("{:?}", o.entries());
        assert!(!entries.contains("s3cr3t-value") && !entries.contains("t0ken-value"), "{entries}");
        assert_eq!(
            o.redact("OPTIONS('aws.secret_access_key' 's3cr3t-value')"),
            "OPTIONS('aws.secret_access_key' '***')"
        );
    }

    #[test]
    fn unknown_and_malformed_options_are_errors_that_name_the_key() {
        let mut o = AwsOptions::default();
        let e = o.set("endpoit", "x").unwrap_err().to_string();
        assert!(e.contains("aws.endpoit") && e.contains("aws.endpoint"), "{e}");
        let e = o.set("allow_http", "yes").unwrap_err().to_string();
        assert!(e.contains("aws.allow_http") && e.contains("'true' or 'false'"), "{e}");
    }

    #[test]
    fn statement_options_without_aws_keys_give_none() {
        let options = HashMap::from([("format.compression".to_string(), "zstd".to_string())]);
        assert!(AwsOptions::from_statement_options(&options).unwrap().is_none());
        let options = HashMap::from([("aws.region".to_string(), "eu-west-1".to_string())]);
        let aws = AwsOptions::from_statement_options(&options).unwrap().unwrap();
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn s3_url_without_bucket_is_an_error() {
        let e = s3_store(&Url::parse("s3:///key").unwrap(), None).unwrap_err().to_string();
        assert!(e.contains("needs a bucket"), "{e}");
    }
}
