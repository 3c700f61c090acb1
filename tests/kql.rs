//! KQL (Kibana Query Language) through `POST /api/kql` on the UI port, run against the real engine:
//! the examples of Kibana's KQL documentation (docs: "Kibana Query Language", kql.md / kuery-query)
//! translated as Kibana's kbn-es-query `kuery` functions translate them, and the documents each
//! matches. Errors carry the character position.

mod common;
use common::*;
use serde_json::json;
use tokio::sync::OnceCell;

const INDEX: &str = "kql-logs";
static LOADED: OnceCell<()> = OnceCell::const_new();

async fn load() {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "http": {"properties": {
                    "request": {"properties": {
                        "method": {"type": "keyword"},
                        "body": {"properties": {"content": {"type": "text"}}},
                        "referrer": {"type": "keyword"}
                    }},
                    "response": {"properties": {
                        "status_code": {"type": "long"},
                        "bytes": {"type": "long"}
                    }}
                }},
                "user": {"type": "nested", "properties": {
                    "first": {"type": "keyword"}, "last": {"type": "keyword"}
                }}
            }}});
            let docs = [
                json!({"@timestamp": "2024-05-01T00:00:00Z", "http": {"request": {"method": "GET",
                    "body": {"content": "null pointer exception"}, "referrer": "https://example.com"},
                    "response": {"status_code": 200, "bytes": 5000}},
                    "user": [{"first": "Alice", "last": "White"}, {"first": "John", "last": "Smith"}]}),
                json!({"@timestamp": "2024-05-02T00:00:00Z", "http": {"request": {"method": "POST",
                    "body": {"content": "pointer to null"}},
                    "response": {"status_code": 400, "bytes": 15000}},
                    "user": [{"first": "Alice", "last": "Smith"}]}),
                json!({"@timestamp": "2024-05-03T00:00:00Z", "http": {"request": {"method": "DELETE",
                    "body": {"content": "nothing here"}},
                    "response": {"status_code": 404, "bytes": 25000}}}),
                json!({"@timestamp": "2024-05-04T00:00:00Z", "http": {"response": {"status_code": 500}}}),
            ];
            load_docs(INDEX, Some(&mapping), &docs).await;
        })
        .await;
}

async fn kql(q: &str) -> Resp {
    let d = daemon();
    let r = client()
        .post(format!("http://{}/api/kql", d.ui))
        .header("content-type", "application/json")
        .body(json!({ "query": q }).to_string())
        .send()
        .await
        .unwrap();
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

/// The ids of the documents `q` matches, via the DSL the endpoint answers.
async fn matches(q: &str) -> Vec<String> {
    load().await;
    let r = kql(q).await;
    assert_eq!(r.status, 200, "{q}: {}", r.text);
    let dsl = r.json()["query"].clone();
    let body = json!({"query": dsl, "size": 100, "sort": ["_doc"]});
    let s = json_req("POST", &format!("/{INDEX}/_search"), &body).await;
    assert_eq!(s.status, 200, "{q} → {dsl}: {}", s.text);
    let mut out = ids(&s.json());
    out.sort();
    out
}

fn v(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The examples of Kibana's KQL documentation, each with the documents it must match.
#[tokio::test]
async fn kibana_documentation_examples() {
    // "Filter for documents where a field exists"
    assert_eq!(matches("http.request.method: *").await, v(&["0", "1", "2"]));
    // "Filter for documents that match a value"
    assert_eq!(matches("http.request.method: GET").await, v(&["0"]));
    // Any of the words (a match query), vs the exact phrase in quotes.
    assert_eq!(
        matches("http.request.body.content: null pointer").await,
        v(&["0", "1"])
    );
    assert_eq!(
        matches("http.request.body.content: \"null pointer\"").await,
        v(&["0"])
    );
    // Special characters are escaped or quoted.
    assert_eq!(
        matches("http.request.referrer: \"https://example.com\"").await,
        v(&["0"])
    );
    assert_eq!(
        matches("http.request.referrer: https\\://example.com").await,
        v(&["0"])
    );
    // "Filter for documents within a range"
    assert_eq!(matches("http.response.bytes < 10000").await, v(&["0"]));
    assert_eq!(
        matches("http.response.bytes > 10000 and http.response.bytes <= 20000").await,
        v(&["1"])
    );
    assert_eq!(matches("@timestamp < \"2024-05-02\"").await, v(&["0"]));
    // "Filter for documents using wildcards"
    // (On a keyword: on a long field Elasticsearch refuses the prefix query, as here.)
    assert_eq!(matches("http.request.method: DEL*").await, v(&["2"]));
    assert_eq!(matches("http.request.method: *T").await, v(&["0", "1"]));
    // "Negating a query"
    assert_eq!(
        matches("NOT http.request.method: GET").await,
        v(&["1", "2", "3"])
    );
    // "Combining multiple queries"
    assert_eq!(
        matches("http.request.method: GET OR http.response.status_code: 400").await,
        v(&["0", "1"])
    );
    assert_eq!(
        matches("http.request.method: GET AND http.response.status_code: 400").await,
        v(&[] as &[&str])
    );
    assert_eq!(
        matches("(http.request.method: GET AND http.response.status_code: 200) OR (http.request.method: POST AND http.response.status_code: 400)").await,
        v(&["0", "1"])
    );
    assert_eq!(
        matches("http.request.method: (GET OR POST OR DELETE)").await,
        v(&["0", "1", "2"])
    );
    // "Querying nested fields": both conditions on the same nested object.
    assert_eq!(
        matches("user:{ first: \"Alice\" and last: \"White\" }").await,
        v(&["0"])
    );
    assert_eq!(
        matches("user:{ first: \"Alice\" and last: \"Smith\" }").await,
        v(&["1"])
    );
    // Free text over all fields.
    assert_eq!(matches("\"nothing here\"").await, v(&["2"]));
}

/// A syntax error answers 400 `kql_syntax_error` with the offset of the character it stopped at.
#[tokio::test]
async fn syntax_errors_carry_the_position() {
    let r = kql("http.request.method: (GET or").await;
    let e = assert_es_error(&r, 400, "kql_syntax_error");
    assert_eq!(e["position"], 26, "{e}");
    let r = kql("message: \"unterminated").await;
    let e = assert_es_error(&r, 400, "kql_syntax_error");
    assert_eq!(e["position"], 9, "{e}");
    let r = kql("a:1 )").await;
    assert_eq!(assert_es_error(&r, 400, "kql_syntax_error")["position"], 4);
}
