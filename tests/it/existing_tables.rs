//! ClickHouse tables that elastichouse did not create are served as (read-only) indices, with a
//! mapping derived from their column types.

use crate::common::*;
use serde_json::json;

// Its own daemon, as when this was a binary of its own: the table is created behind the daemon's
// back and must be listed at once, before a catalog loaded by other modules' requests would see it
// (the catalog notices outside changes within its check interval, `catalog::CHECK_INTERVAL`).
crate::common::own_daemon!();

async fn setup() {
    clickhouse_sql(
        "CREATE TABLE IF NOT EXISTS weblogs (ts DateTime, host LowCardinality(String), status UInt16, \
         bytes Int64, client_ip IPv4, tags Array(String), `geo.country` String) ENGINE = MergeTree ORDER BY ts",
    )
    .await;
    clickhouse_sql("TRUNCATE TABLE weblogs").await;
    clickhouse_sql(
        "INSERT INTO weblogs VALUES ('2024-01-01 00:00:00','a',200,100,'10.0.0.1',['x'],'DE'), \
         ('2024-01-01 01:00:00','b',404,0,'10.0.0.2',['x','y'],'FR'), ('2024-01-02 00:00:00','a',500,7,'10.0.0.3',[],'DE')",
    )
    .await;
}

#[tokio::test]
async fn existing_table_is_listed_mapped_searchable_and_read_only() {
    setup().await;
    let v = get("/_cat/indices?format=json").await.json();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|i| i["index"] == "weblogs"),
        "{v}"
    );
    let m = get("/weblogs/_mapping").await.json();
    let p = &m["weblogs"]["mappings"]["properties"];
    assert_eq!(p["ts"]["type"], "date");
    assert_eq!(p["host"]["type"], "keyword");
    assert_eq!(p["bytes"]["type"], "long");
    assert_eq!(p["client_ip"]["type"], "ip");
    assert_eq!(p["tags"]["type"], "keyword");
    assert_eq!(p["geo"]["properties"]["country"]["type"], "keyword");

    let v = json_req(
        "POST",
        "/weblogs/_search",
        &json!({"query": {"term": {"host": "a"}}, "sort": [{"ts": "desc"}]}),
    )
    .await
    .json();
    assert_eq!(v["hits"]["total"]["value"], 2, "{v}");
    assert_eq!(v["hits"]["hits"][0]["sort"], json!([1704153600000i64]));
    assert_eq!(v["hits"]["hits"][0]["_source"]["status"], 500);
    assert_eq!(v["hits"]["hits"][0]["_id"].as_str().unwrap().len(), 32);
    let v = json_req(
        "POST",
        "/weblogs/_count",
        &json!({"query": {"bool": {"filter": [
        {"range": {"ts": {"gte": "2024-01-01", "lt": "2024-01-02"}}}, {"term": {"tags": "x"}}]}}}),
    )
    .await
    .json();
    assert_eq!(v["count"], 2);
    let v = json_req(
        "POST",
        "/weblogs/_count",
        &json!({"query": {"term": {"client_ip": "10.0.0.0/30"}}}),
    )
    .await
    .json();
    assert_eq!(v["count"], 3);

    let r = json_req("PUT", "/weblogs/_doc/1", &json!({"host": "c"})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e["reason"].as_str().unwrap().contains("read-only"), "{e}");
    let r = req("DELETE", "/weblogs", None).await;
    assert_eq!(r.status, 400);
    clickhouse_sql("SELECT count() FROM weblogs").await;
}
