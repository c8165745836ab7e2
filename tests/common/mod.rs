//! What the integration tests share: the built `odis` binary, the Python
//! environment made by `scripts/setup.sh`, and local object-store servers.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod fixtures;
pub mod function_queries;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// `odis select`'s defaults, as the binary has them, for `input` into
/// `out`; no HTML report.
pub fn select_options(input: &str, out: &Path) -> odis::select::SelectOptions {
    odis::select::SelectOptions::new(input, out)
}

/// The Python of the environment `scripts/setup.sh` made (or `$ODIS_PYTHON`).
pub fn python() -> PathBuf {
    let python = match std::env::var_os("ODIS_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => odis::udfs::score::runtime::odis_home().join("venv/bin/python"),
    };
    assert!(
        python.exists(),
        "{} not found: run scripts/setup.sh first (or set ODIS_PYTHON)",
        python.display()
    );
    python
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A command that runs the `odis` binary built for these tests, with a
/// private history directory.
pub fn odis(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_odis"));
    command.env("ODIS_HISTORY", home.join("history"));
    command.current_dir(home);
    command
}

/// Output of a finished command, with its streams as text.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts a failure reported as exactly one `Error: ...` line on stderr
    /// (after any progress lines of `odis select`) that contains every one
    /// of `needles`.
    pub fn fails_with(&self, needles: &[&str]) -> &Self {
        assert_ne!(self.code, Some(0), "expected failure; stdout:\n{}", self.stdout);
        let lines: Vec<&str> =
            self.stderr.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("odis select: ")).collect();
        assert_eq!(lines.len(), 1, "expected one error line, got:\n{}", self.stderr);
        assert!(lines[0].starts_with("Error: "), "{}", lines[0]);
        for needle in needles {
            assert!(lines[0].contains(needle), "'{needle}' not in: {}", lines[0]);
        }
        self
    }
}

pub fn run(command: &mut Command) -> Run {
    command.output().expect("odis binary runs").into()
}

/// Runs `command` with `input` piped to its standard input.
pub fn shell(command: &mut Command, input: &str) -> Run {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("odis binary runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}

/// A local server that speaks an object-store protocol, started by the test
/// and stopped when dropped.
pub trait ObjectStoreServer {
    /// The URL of `key` in the server's test bucket.
    fn url(&self, key: &str) -> String;
    /// The environment variables that point a client at the server.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// The same settings as SQL `OPTIONS(...)` entries.
    fn sql_options(&self) -> String;
}

/// moto's S3 server on 127.0.0.1, with request signing enforced.
pub struct MotoS3 {
    child: Child,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub bucket: String,
}

impl MotoS3 {
    pub fn start() -> Self {
        let script = repo_root().join("tests/support/s3_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the S3 test server");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("read the S3 server's settings");
        let field = |name: &str| -> String {
            let key = format!("\"{name}\": \"");
            let start = line.find(&key).unwrap_or_else(|| panic!("no {name} in {line}")) + key.len();
            line[start..].split('"').next().unwrap().to_string()
        };
        MotoS3 {
            endpoint: field("endpoint"),
            access_key_id: field("access_key_id"),
            secret_access_key: field("secret_access_key"),
            region: field("region"),
            bucket: field("bucket"),
            child,
        }
    }
}

impl ObjectStoreServer for MotoS3 {
    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    fn sql_options(&self) -> String {
        format!(
            "'aws.access_key_id' '{}', 'aws.secret_access_key' '{}', 'aws.region' '{}', \
             'aws.endpoint' '{}', 'aws.allow_http' 'true'",
            self.access_key_id, self.secret_access_key, self.region, self.endpoint
        )
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop; kill it if it lingers.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// AWS variables that must not leak from the developer's shell into a test.
pub const AWS_VARS: [&str; 8] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_ALLOW_HTTP",
];
