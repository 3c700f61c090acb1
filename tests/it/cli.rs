//! The command line: `config check` validates and explains; bad configuration is a clear error.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_elastichouse"));
    // The environment of the test run must not leak into these checks.
    for (k, _) in std::env::vars() {
        if k.starts_with("ELASTICHOUSE_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn config_check_prints_the_resolved_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("eh.toml");
    std::fs::write(&f, "listen = \"127.0.0.1:9400\"\nes_version = \"8.15.1\"\n").unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&f)
        .env("ELASTICHOUSE_CLUSTER_NAME", "from-env")
        .args(["--ui-listen", "127.0.0.1:9998"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("configuration OK"));
    assert!(text.contains("listen = \"127.0.0.1:9400\""), "{text}");
    assert!(text.contains("ui_listen = \"127.0.0.1:9998\""), "{text}");
    assert!(text.contains("cluster_name = \"from-env\""), "{text}");
    assert!(text.contains("es_version = \"8.15.1\""), "{text}");
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "lisen = \"127.0.0.1:9400\"\n").unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `lisen`"), "{err}");
    let out = bin()
        .args(["config", "check", "--listen", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen: [nope] is not an address"));
}

#[test]
fn help_lists_every_option() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--config",
        "--listen",
        "--ui-listen",
        "--data-dir",
        "--clickhouse-url",
        "--elasticsearch-url",
    ] {
        assert!(text.contains(opt), "{opt} missing from --help");
    }
}
