//! KQL → query DSL, run against the real engine: the examples of Kibana's KQL documentation
//! ("Kibana Query Language", docs/reference/query-languages/kql.md, formerly kuery-query.asciidoc)
//! translated by `POST /api/kql` on the UI port and searched with `_search`; each test checks which
//! documents match.

use crate::common::*;
use serde_json::{Value, json};

async fn kql(query: &str, index: Option<&str>) -> Resp {
    let d = daemon();
    let mut body = json!({"query": query});
    if let Some(i) = index {
        body["index"] = json!(i);
    }
    let resp = client()
        .post(format!("http://{}/api/kql", d.ui))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("kql request");
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

/// The ids (sorted) that the KQL query matches in `index`.
async fn matching(index: &str, query: &str) -> Vec<String> {
    let r = kql(query, Some(index)).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    let dsl = r.json()["query"].clone();
    let s = json_req(
        "POST",
        &format!("/{index}/_search"),
        &json!({"query": dsl, "size": 100}),
    )
    .await;
    assert_eq!(s.status, 200, "{query} → {dsl}: {}", s.text);
    let mut got = ids(&s.json());
    got.sort();
    got
}

fn v(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn http_logs(index: &str) {
    let mapping = json!({"mappings": {"properties": {
        "@timestamp": {"type": "date"},
        "http": {"properties": {
            "request": {"properties": {
                "method": {"type": "keyword"},
                "referrer": {"type": "keyword"},
                "body": {"properties": {"content": {"type": "text"}}}
            }},
            "response": {"properties": {
                "status_code": {"type": "long"},
                "bytes": {"type": "long"}
            }}
        }},
        "datastream": {"properties": {"type": {"type": "keyword"}, "dataset": {"type": "keyword"}}}
    }}});
    let docs = [
        json!({"@timestamp": "2026-01-01T00:00:00Z", "http": {"request": {"method": "GET", "referrer": "https://example.com", "body": {"content": "null pointer exception"}}, "response": {"status_code": 200, "bytes": 500}}, "datastream": {"type": "logs"}}),
        json!({"@timestamp": "2026-01-02T00:00:00Z", "http": {"request": {"method": "POST", "body": {"content": "pointer to null"}}, "response": {"status_code": 400, "bytes": 15000}}, "datastream": {"dataset": "logs"}}),
        json!({"@timestamp": "2026-01-03T00:00:00Z", "http": {"request": {"method": "DELETE", "body": {"content": "the null value"}}, "response": {"status_code": 404, "bytes": 30000}}, "datastream": {"type": "metrics"}}),
        json!({"@timestamp": "2026-01-04T00:00:00Z", "http": {"response": {"status_code": 200, "bytes": 20000}}}),
    ];
    load_docs(index, Some(&mapping), &docs).await;
}

/// "Filter for documents where a field exists": `http.request.method: *` matches every document
/// with a value in the field.
#[tokio::test]
async fn exists_and_match_a_value() {
    let i = "kql-doc-basic";
    http_logs(i).await;
    assert_eq!(
        matching(i, "http.request.method: *").await,
        v(&["0", "1", "2"])
    );
    assert_eq!(matching(i, "http.request.method: GET").await, v(&["0"]));
    // "The field parameter is optional": a free value searches all fields.
    assert_eq!(matching(i, "DELETE").await, v(&["2"]));
    // Unquoted words match any of the terms; quoted, the phrase.
    assert_eq!(
        matching(i, "http.request.body.content: null pointer").await,
        v(&["0", "1", "2"])
    );
    assert_eq!(
        matching(i, "http.request.body.content: \"null pointer\"").await,
        v(&["0"])
    );
    // Special characters are quoted or escaped.
    assert_eq!(
        matching(i, "http.request.referrer: \"https://example.com\"").await,
        v(&["0"])
    );
    assert_eq!(
        matching(i, "http.request.referrer: https\\://example.com").await,
        v(&["0"])
    );
}

/// "Filter for documents within a range": `<`, `<=`, `>`, `>=` on numbers and dates (date math).
#[tokio::test]
async fn ranges() {
    let i = "kql-doc-range";
    http_logs(i).await;
    assert_eq!(matching(i, "http.response.bytes < 10000").await, v(&["0"]));
    assert_eq!(
        matching(
            i,
            "http.response.bytes > 10000 and http.response.bytes <= 20000"
        )
        .await,
        v(&["1", "3"])
    );
    assert_eq!(
        matching(i, "@timestamp < now-2w").await,
        v(&["0", "1", "2", "3"])
    );
    assert_eq!(
        matching(i, "@timestamp >= \"2026-01-03\"").await,
        v(&["2", "3"])
    );
}

/// "Filter for documents using wildcards": in values (`GE*`) and in field names
/// (`datastream.*: logs`, expanded to the index's fields).
#[tokio::test]
async fn wildcards() {
    let i = "kql-doc-wild";
    http_logs(i).await;
    assert_eq!(matching(i, "http.request.method: GE*").await, v(&["0"]));
    assert_eq!(
        matching(i, "http.request.method: *E*").await,
        v(&["0", "2"])
    );
    assert_eq!(matching(i, "datastream.*: logs").await, v(&["0", "1"]));
}

/// "Negating a query", "Combining multiple queries", grouping: `and` binds tighter than `or`,
/// keywords are case-insensitive, `field:(a or b)` applies the field to each value.
#[tokio::test]
async fn boolean_operators_and_groups() {
    let i = "kql-doc-bool";
    http_logs(i).await;
    assert_eq!(
        matching(i, "NOT http.request.method: GET").await,
        v(&["1", "2", "3"])
    );
    assert_eq!(
        matching(
            i,
            "http.request.method: GET OR http.response.status_code: 400"
        )
        .await,
        v(&["0", "1"])
    );
    assert_eq!(
        matching(
            i,
            "http.request.method: GET AND http.response.status_code: 400"
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        matching(
            i,
            "(http.request.method: GET AND http.response.status_code: 200) OR \
             (http.request.method: POST AND http.response.status_code: 400)"
        )
        .await,
        v(&["0", "1"])
    );
    assert_eq!(
        matching(i, "http.request.method: (GET OR POST OR DELETE)").await,
        v(&["0", "1", "2"])
    );
    assert_eq!(
        matching(
            i,
            "http.request.method: GET and (http.response.status_code: 200 or http.response.status_code: 400)"
        )
        .await,
        v(&["0"])
    );
    assert_eq!(
        matching(
            i,
            "http.response.status_code: 200 and not http.request.method: *"
        )
        .await,
        v(&["3"])
    );
}

/// "Querying nested fields": `user:{ first: "Alice" and last: "White" }` matches only when one
/// nested object satisfies both conditions.
#[tokio::test]
async fn nested_field_queries() {
    let i = "kql-doc-nested";
    let mapping = json!({"mappings": {"properties": {
        "user": {"type": "nested", "properties": {
            "first": {"type": "keyword"}, "last": {"type": "keyword"}
        }},
        "items": {"type": "nested", "properties": {
            "name": {"type": "keyword"}, "stock": {"type": "long"}
        }}
    }}});
    let docs = [
        json!({"user": [{"first": "Alice", "last": "White"}], "items": [{"name": "banana", "stock": 12}]}),
        json!({"user": [{"first": "Alice", "last": "Smith"}, {"first": "John", "last": "White"}], "items": [{"name": "banana", "stock": 5}, {"name": "apple", "stock": 20}]}),
    ];
    load_docs(i, Some(&mapping), &docs).await;
    assert_eq!(
        matching(i, "user:{ first: \"Alice\" and last: \"White\" }").await,
        v(&["0"])
    );
    assert_eq!(
        matching(i, "items:{ name:banana and stock > 10 }").await,
        v(&["0"])
    );
    assert_eq!(
        matching(i, "items:{ name:banana } and items:{ stock > 10 }").await,
        v(&["0", "1"])
    );
}

/// The endpoint: the DSL for a query without an index, and an Elasticsearch-shaped 400 with the
/// position of a syntax error.
#[tokio::test]
async fn endpoint_shape_and_errors() {
    let r = kql("response:200 or extension:php", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"query": {"bool": {"should": [
            {"match": {"response": "200"}}, {"match": {"extension": "php"}}
        ], "minimum_should_match": 1}}})
    );
    let r = kql("response:(200 or", None).await;
    let e: Value = assert_es_error(&r, 400, "kql_syntax_exception");
    assert_eq!(e["position"], 16, "{e}");
    let r = kql("a:b", Some("kql-no-such-index")).await;
    assert_es_error(&r, 404, "index_not_found_exception");
}
