//! Parquet over S3, against a real S3 server on 127.0.0.1 (moto, with
//! request signing enforced) that the test starts and stops.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy};
use common::{AWS_VARS, MotoS3, ObjectStoreServer, odis, run};

/// `odis` with the AWS environment of `server` (and nothing from the shell).
fn odis_s3(dir: &std::path::Path, server: &impl ObjectStoreServer) -> Command {
    let mut command = odis(dir);
    for var in AWS_VARS {
        command.env_remove(var);
    }
    command.envs(server.env());
    command
}

#[test]
fn parquet_round_trip_through_s3() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("local.sql"), "COPY (SELECT x AS id, x * 2 AS twice FROM generate_series(1, 1000) t(x)) TO 'local.parquet';").unwrap();
    let remote = s3.url("corpus/part-0.parquet");
    let out = run(odis_s3(dir.path(), &s3).args([
        "--format",
        "csv",
        "-f",
        "local.sql",
        // local Parquet -> S3
        "-c",
        &format!("COPY (SELECT * FROM 'local.parquet') TO '{remote}'"),
        // read it back with SQL, by URL and as an external table
        "-c",
        &format!("SELECT count(*) AS n, sum(twice) AS s FROM '{remote}'"),
        "-c",
        &format!("CREATE EXTERNAL TABLE corpus STORED AS PARQUET LOCATION '{}'", s3.url("corpus/")),
        "-c",
        "SELECT max(id) AS m FROM corpus",
        // a query result to an S3 directory
        "-c",
        &format!("COPY (SELECT id FROM corpus WHERE id <= 10) TO '{}' STORED AS PARQUET", s3.url("small/")),
        "-c",
        &format!("SELECT sum(id) AS s FROM '{}'", s3.url("small/")),
    ]));
    out.ok();
    assert_eq!(out.stdout, "count\n1000\ncount\n1000\nn,s\n1000,1001000\nm\n1000\ncount\n10\ns\n55\n");
}

#[test]
fn statement_options_configure_s3_without_environment() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let options = s3.sql_options();
    let script = format!(
        "\\format csv\n\
         COPY (SELECT 'a' AS k UNION ALL SELECT 'b') TO '{dir}' STORED AS PARQUET OPTIONS ({options});\n\
         CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{dir}' OPTIONS ({options});\n\
         SELECT count(*) AS n FROM t;\n\
         \\d\n\
         \\d t\n\
         SHOW ALL;\n",
        dir = s3.url("opts/")
    );
    let mut command = odis(dir.path());
    for var in AWS_VARS {
        command.env_remove(var);
    }
    let out = common::shell(&mut command, &script);
    out.ok();
    assert!(out.stdout.starts_with("count\n2\nn\n2\n"), "{}", out.stdout);
    assert!(out.stdout.contains("public,t,BASE TABLE"), "{}", out.stdout);
    assert!(out.stdout.contains("k,Utf8"), "{}", out.stdout);
    assert!(!out.stdout.contains(&s3.secret_access_key), "the secret was printed:\n{}", out.stdout);
    assert!(!out.stderr.contains(&s3.secret_access_key));
}

#[test]
fn secrets_stay_out_of_descriptions_and_errors() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cr3t-never-printed";
    let mut command = odis(dir.path());
    for var in AWS_VARS {
        command.env_remove(var);
    }
    let options = format!(
        "'aws.access_key_id' '{}', 'aws.secret_access_key' '{secret}', 'aws.endpoint' '{}', 'aws.allow_http' 'true', 'aws.region' 'us-east-1'",
        s3.access_key_id, s3.endpoint
    );
    let out = run(command.args([
        "-c",
        &format!("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}' OPTIONS ({options})", s3.url("x/")),
    ]));
    assert_ne!(out.code, Some(0));
    assert!(!out.stderr.contains(secret), "{}", out.stderr);
    assert!(out.stderr.contains("check the credentials"), "{}", out.stderr);

    // EXPLAIN prints a COPY's options, at every level of detail: not its secrets.
    for explain in ["EXPLAIN", "EXPLAIN VERBOSE"] {
        let mut command = odis(dir.path());
        let out = run(command.args([
            "-q",
            "--format",
            "csv",
            "-c",
            &format!("{explain} COPY (SELECT 1 AS x) TO '{}' STORED AS PARQUET OPTIONS ({options})", s3.url("e.parquet")),
        ]));
        out.ok();
        assert!(out.stdout.contains("aws.secret_access_key ***"), "{explain}: {}", out.stdout);
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{explain}: {}", out.stdout);
    }
}

#[test]
fn wrong_credentials_are_one_clear_error() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    run(odis_s3(dir.path(), &s3).args(["-c", &format!("COPY (SELECT 1 AS x) TO '{}'", s3.url("ok.parquet"))])).ok();
    run(odis_s3(dir.path(), &s3)
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        .args(["-c", &format!("SELECT * FROM '{}'", s3.url("ok.parquet"))]))
    .fails_with(&["cannot read 's3://", "403", "check the credentials"]);
    run(odis_s3(dir.path(), &s3)
        .env("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
        .args(["-c", &format!("COPY (SELECT 1 AS x) TO '{}'", s3.url("denied.parquet"))]))
    .fails_with(&["check the credentials"]);
}

#[test]
fn unreachable_endpoint_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    let mut command = odis(dir.path());
    for var in AWS_VARS {
        command.env_remove(var);
    }
    let started = std::time::Instant::now();
    run(command
        .envs([
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
        ])
        .args(["-c", "SELECT * FROM 's3://bucket/data.parquet'"]))
    .fails_with(&["cannot read 's3://bucket/data.parquet'", "check that the endpoint is reachable"]);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
}

#[test]
fn missing_object_is_one_clear_error() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    run(odis_s3(dir.path(), &s3).args(["-c", &format!("SELECT * FROM '{}'", s3.url("nothing-here.parquet"))]))
        .fails_with(&["cannot read 's3://odis-test/nothing-here.parquet'"]);
}

/// 8 Parquet files of 5,000 rows under `scan/`, written straight to the
/// server; the expected `count(*), sum(id)`.
fn scan_corpus(dir: &std::path::Path, s3: &MotoS3) -> &'static str {
    let mut command = odis_s3(dir, s3);
    for part in 0..8 {
        command.args([
            "-c",
            &format!(
                "COPY (SELECT x AS id, repeat('text ', 20) AS text FROM generate_series({}, {}) t(x)) TO '{}'",
                part * 5000 + 1,
                (part + 1) * 5000,
                s3.url(&format!("scan/part-{part}.parquet"))
            ),
        ]);
    }
    run(&mut command).ok();
    "n,s\n40000,800020000\n"
}

/// `odis` pointed at `proxy` instead of the server behind it.
fn through(dir: &std::path::Path, s3: &MotoS3, proxy: &FaultProxy) -> Command {
    let mut command = odis_s3(dir, s3);
    command.env("AWS_ENDPOINT_URL", proxy.endpoint());
    command
}

fn upstream(s3: &MotoS3) -> String {
    s3.endpoint.trim_start_matches("http://").to_string()
}

#[test]
fn a_scan_rides_out_slowdowns_a_slow_server_and_a_restart() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    let expected = scan_corpus(dir.path(), &s3);
    let query = format!("SELECT count(*) AS n, sum(id) AS s FROM '{}'", s3.url("scan/"));
    let scan = |proxy: &FaultProxy| run(through(dir.path(), &s3, proxy).args(["-q", "--format", "csv", "-c", &query]));
    for (what, fault) in [
        ("503 SlowDown on the first 5 requests", Fault::SlowDown(5)),
        ("250 ms per request", Fault::Delay(Duration::from_millis(250))),
        // The first answered requests make the store patient; then the
        // server is away for 2 s in the middle of the scan.
        ("away for 2 s after 6 requests", Fault::OutageAfter { after: 6, outage: Duration::from_secs(2) }),
    ] {
        let proxy = FaultProxy::start(&upstream(&s3), fault);
        let out = scan(&proxy);
        assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
        assert_eq!(out.stdout, expected, "{what}");
        let (forwarded, faulted) = proxy.counts();
        assert!(forwarded >= 9, "{what}: only {forwarded} requests reached the server");
        if what.contains("SlowDown") {
            assert_eq!(faulted, 5, "{what}");
        }
        if what.contains("away") {
            assert!(faulted >= 1, "{what}: the outage met no request");
        }
    }
}

#[test]
fn access_denied_fails_fast_without_retries() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    scan_corpus(dir.path(), &s3);
    let proxy = FaultProxy::start(&upstream(&s3), Fault::Forbidden);
    let started = Instant::now();
    run(through(dir.path(), &s3, &proxy).args(["-c", &format!("SELECT count(*) FROM '{}'", s3.url("scan/"))]))
        .fails_with(&["403", "check the credentials"]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let (_, faulted) = proxy.counts();
    assert!(faulted <= 2, "403 was retried: {faulted} requests");
}

#[test]
fn a_server_that_never_answers_fails_fast_one_that_answered_gets_retries() {
    let s3 = MotoS3::start();
    let dir = tempfile::tempdir().unwrap();
    scan_corpus(dir.path(), &s3);
    // Down from the first request: the quick policy gives up in seconds.
    let proxy = FaultProxy::start(&upstream(&s3), Fault::OutageAfter { after: 0, outage: Duration::from_secs(600) });
    let started = Instant::now();
    run(through(dir.path(), &s3, &proxy).args(["-c", &format!("SELECT count(*) FROM '{}'", s3.url("scan/"))]))
        .fails_with(&["cannot read 's3://"]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}
