//! Hostile inputs (issue 11): requests that once crashed, exhausted or slipped past the daemon.
//! Each test sends what a broken or malicious client would, asserts Elasticsearch's status and
//! error type for it, and then that the daemon still answers (`GET /` → 200). Each names the
//! Elasticsearch behaviour it reproduces and where that behaviour is defined.

mod common;
use common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

const INDEX: &str = "hostile";
static LOADED: OnceCell<()> = OnceCell::const_new();

async fn index() -> &'static str {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "msg": {"type": "text"},
                "tag": {"type": "keyword"},
                "d": {"type": "date"},
                "n": {"type": "long"}
            }}});
            let docs = [
                json!({"msg": "hello world", "tag": "a", "d": "2024-05-01T00:00:00Z", "n": 1}),
                json!({"msg": "goodbye world", "tag": "b", "d": "2024-05-02T00:00:00Z", "n": 2}),
            ];
            load_docs(INDEX, Some(&mapping), &docs).await;
        })
        .await;
    INDEX
}

/// The daemon survived: it still answers the root endpoint.
async fn alive() {
    let r = get("/").await;
    assert_eq!(r.status, 200, "the daemon no longer answers: {}", r.text);
}

async fn search(body: &Value) -> Resp {
    let i = index().await;
    json_req("POST", &format!("/{i}/_search"), body).await
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

#[tokio::test]
async fn probe() {
    let cases = vec![
        (
            "qs",
            json!({"query": {"query_string": {"query": nested("(", "a", ")", 20_000)}}}),
        ),
        (
            "sqs",
            json!({"query": {"simple_query_string": {"query": nested("(", "a", ")", 20_000)}}}),
        ),
        (
            "regexp",
            json!({"query": {"regexp": {"tag": nested("(", "a", ")", 20_000)}}}),
        ),
        (
            "painless",
            json!({"runtime_mappings": {"x": {"type": "long", "script": {"source": format!("emit({})", nested("(", "1", ")", 20_000))}}},
                   "fields": ["x"]}),
        ),
        (
            "get",
            json!({"runtime_mappings": {"x": {"type": "long", "script": {"source": "emit(doc['d'].value.get())"}}},
                   "fields": ["x"]}),
        ),
        ("size", json!({"from": 1, "size": 18446744073709551615u64})),
    ];
    for (name, body) in cases {
        let r = search(&body).await;
        println!("{name}: {} {}", r.status, &r.text[..r.text.len().min(600)]);
        alive().await;
    }
}
