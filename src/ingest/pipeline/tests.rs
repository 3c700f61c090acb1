//! Unit tests of the processors that need no engine (the rest run through the daemon in
//! tests/it/pipelines.rs).

use super::*;

fn run_on(processors: Value, source: Value) -> EsResult<IngestDoc> {
    let p = Pipeline::compile("t", &json!({ "processors": processors }))?;
    let mut doc = IngestDoc::new("i", Some("1"), None, source.as_object().unwrap().clone());
    let reg = Registry::new();
    p.run(&mut doc, &Env::new(&reg))?;
    Ok(doc)
}

/// A pattern that backtracks exponentially on a long line is abandoned after
/// GROK_BACKTRACK_LIMIT steps with the error of Elasticsearch's grok watchdog
/// (Grok#match: "grok pattern matching was interrupted after [...]"), where it used to run for
/// seconds; an ordinary line still matches.
#[test]
fn grok_stops_backtracking_at_its_limit() {
    let grok = json!([{"grok": {"field": "m", "patterns": ["^(%{NUMBER}\\s?)*$"]}}]);
    let line = "1 ".repeat(18_500) + "x";
    let e = run_on(grok.clone(), json!({ "m": line })).unwrap_err();
    assert_eq!(e.kind, "runtime_exception");
    assert_eq!(e.status, 500);
    assert!(
        e.reason
            .starts_with("grok pattern matching was interrupted after ["),
        "{}",
        e.reason
    );
    let ok = run_on(
        json!([{"grok": {"field": "m", "patterns": ["%{NUMBER:n:int} %{WORD:w}"]}}]),
        json!({"m": "42 apples"}),
    )
    .unwrap();
    assert_eq!(ok.get("n").unwrap(), &json!(42));
    assert_eq!(ok.get("w").unwrap(), &json!("apples"));
}
