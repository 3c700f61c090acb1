//! `GET /`, headers, media types, errors and index management, over HTTP against the daemon on
//! the real embedded ClickHouse engine.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn root_reports_an_elasticsearch_8_identity() {
    // RestMainAction / MainResponse: name, cluster_name, cluster_uuid, version{…}, tagline.
    let r = get("/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-elastic-product"], "Elasticsearch");
    let v = r.json();
    assert_eq!(v["version"]["number"], "8.17.0");
    assert_eq!(v["version"]["build_flavor"], "default");
    assert!(v["version"]["lucene_version"].is_string());
    assert_eq!(v["version"]["minimum_wire_compatibility_version"], "7.17.0");
    assert_eq!(v["version"]["minimum_index_compatibility_version"], "7.0.0");
    assert_eq!(v["tagline"], "You Know, for Search");
    assert!(v["cluster_uuid"].as_str().unwrap().len() >= 20);
    let head = req("HEAD", "/", None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["x-elastic-product"], "Elasticsearch");
}

#[tokio::test]
async fn every_response_carries_x_elastic_product_even_errors() {
    // Elasticsearch 7.14+ sends X-Elastic-Product on every response; the official clients check it.
    let r = get("/no-such-index-xyz/_search").await;
    assert_eq!(r.headers["x-elastic-product"], "Elasticsearch");
    assert_es_error(&r, 404, "index_not_found_exception");
    let r = get("/_nonexistent_endpoint/foo/bar").await;
    assert_eq!(r.headers["x-elastic-product"], "Elasticsearch");
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn compatible_media_types_are_accepted_and_echoed() {
    // REST API compatibility: `application/vnd.elasticsearch+json; compatible-with=8` (rest-api-compatibility.html).
    let url = format!("http://{}/", daemon().es);
    let r = client()
        .get(url)
        .header(
            "accept",
            "application/vnd.elasticsearch+json; compatible-with=8",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.elasticsearch+json;compatible-with=8"
    );
    let body = "{\"index\":{\"_index\":\"mt-compat\",\"_id\":\"1\"}}\n{\"a\":1}\n";
    let r = req(
        "POST",
        "/_bulk",
        Some((
            "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
            body,
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["errors"], false);
}

#[tokio::test]
async fn unsupported_content_type_is_406() {
    // RestController: a body with an unsupported Content-Type gets 406 and this exact body.
    let r = req("POST", "/ct-test/_doc", Some(("text/plain", "{\"a\":1}"))).await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.json(),
        json!({"error": "Content-Type header [text/plain] is not supported", "status": 406})
    );
}

#[tokio::test]
async fn gzip_request_bodies_are_accepted() {
    // http.compression: Elasticsearch accepts Content-Encoding: gzip request bodies.
    use std::io::Write;
    let body = "{\"index\":{\"_index\":\"gz-test\",\"_id\":\"1\"}}\n{\"msg\":\"zipped\"}\n";
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let r = client()
        .post(format!("http://{}/_bulk?refresh=true", daemon().es))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"], false, "{v}");
    let g = get("/gz-test/_doc/1").await;
    assert_eq!(g.json()["_source"]["msg"], "zipped");
}

#[tokio::test]
async fn pretty_parameter_indents() {
    let r = get("/?pretty").await;
    assert!(r.text.contains("\n  \"name\""), "{}", r.text);
}

#[tokio::test]
async fn create_get_exists_delete_index() {
    // indices-create-index.html, indices-get-index.html, indices-exists.html, indices-delete-index.html
    let body = json!({
        "settings": {"number_of_shards": 1},
        "mappings": {"properties": {"msg": {"type": "text"}, "status": {"type": "keyword"}, "bytes": {"type": "long"}}}
    });
    let r = json_req("PUT", "/idx-lifecycle", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"acknowledged": true, "shards_acknowledged": true, "index": "idx-lifecycle"})
    );

    let r = json_req("PUT", "/idx-lifecycle", &body).await;
    let e = assert_es_error(&r, 400, "resource_already_exists_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("index [idx-lifecycle/"),
        "{e}"
    );
    assert_eq!(e["index"], "idx-lifecycle");

    assert_eq!(req("HEAD", "/idx-lifecycle", None).await.status, 200);
    assert_eq!(req("HEAD", "/idx-missing-x", None).await.status, 404);

    let r = get("/idx-lifecycle").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let idx = &v["idx-lifecycle"];
    assert_eq!(idx["mappings"]["properties"]["status"]["type"], "keyword");
    assert_eq!(idx["settings"]["index"]["number_of_shards"], "1");
    assert_eq!(idx["settings"]["index"]["provided_name"], "idx-lifecycle");
    assert!(idx["aliases"].is_object());

    let r = get("/idx-lifecycle/_mapping").await;
    assert_eq!(
        r.json()["idx-lifecycle"]["mappings"]["properties"]["bytes"]["type"],
        "long"
    );

    let r = req("DELETE", "/idx-lifecycle", None).await;
    assert_eq!(r.json(), json!({"acknowledged": true}));
    assert_eq!(req("HEAD", "/idx-lifecycle", None).await.status, 404);
    let r = req("DELETE", "/idx-lifecycle", None).await;
    assert_es_error(&r, 404, "index_not_found_exception");
}

#[tokio::test]
async fn delete_lists_and_refuses_wildcards() {
    // action.destructive_requires_name defaults to true in 8.x: wildcards are refused on delete.
    for i in ["del-a", "del-b"] {
        assert_eq!(req("PUT", &format!("/{i}"), None).await.status, 200);
    }
    let r = req("DELETE", "/del-*", None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "Wildcard expressions or all indices are not allowed"
    );
    let r = req("DELETE", "/del-a,del-b", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(req("HEAD", "/del-a", None).await.status, 404);
    assert_eq!(req("HEAD", "/del-b", None).await.status, 404);
}

#[tokio::test]
async fn invalid_index_names_are_rejected_like_elasticsearch() {
    // MetadataCreateIndexService#validateIndexOrAliasName and #validateIndexName.
    for (name, why) in [
        ("UPPER", "must be lowercase"),
        ("_under", "must not start with '_', '-', or '+'"),
        ("a%23b", "must not contain '#'"),
        ("a:b", "must not contain ':'"),
    ] {
        let r = req("PUT", &format!("/{name}"), None).await;
        let e = assert_es_error(&r, 400, "invalid_index_name_exception");
        assert!(e["reason"].as_str().unwrap().ends_with(why), "{name}: {e}");
        assert_eq!(e["index_uuid"], "_na_");
    }
}

#[tokio::test]
async fn bad_mappings_are_mapper_parsing_exceptions() {
    // A create-index request with an unknown field type fails with mapper_parsing_exception.
    let r = json_req(
        "PUT",
        "/bad-mapping",
        &json!({"mappings": {"properties": {"a": {"type": "nope"}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "mapper_parsing_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("No handler for type [nope] declared on field [a]"),
        "{e}"
    );
    assert_eq!(req("HEAD", "/bad-mapping", None).await.status, 404);
    let r = json_req("PUT", "/bad-body", &json!({"setings": {}})).await;
    assert_es_error(&r, 400, "parsing_exception");
}

#[tokio::test]
async fn put_mapping_adds_fields_and_rejects_type_changes() {
    // indices-put-mapping.html: new fields can be added; an existing field's type cannot change.
    assert_eq!(
        json_req(
            "PUT",
            "/pm-test",
            &json!({"mappings": {"properties": {"a": {"type": "long"}}}})
        )
        .await
        .status,
        200
    );
    let r = json_req(
        "PUT",
        "/pm-test/_mapping",
        &json!({"properties": {"b": {"type": "keyword"}}}),
    )
    .await;
    assert_eq!(r.json(), json!({"acknowledged": true}), "{}", r.text);
    let m = get("/pm-test/_mapping").await.json();
    assert_eq!(
        m["pm-test"]["mappings"]["properties"]["b"]["type"],
        "keyword"
    );
    let r = json_req(
        "PUT",
        "/pm-test/_mapping",
        &json!({"properties": {"a": {"type": "text"}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "mapper [a] cannot be changed from type [long] to [text]"
    );
    // GET /_mapping lists every index.
    let all = get("/_mapping").await.json();
    assert!(all.get("pm-test").is_some());
}

#[tokio::test]
async fn refresh_answers_shards() {
    assert_eq!(req("PUT", "/refresh-test", None).await.status, 200);
    let r = req("POST", "/refresh-test/_refresh", None).await;
    assert_eq!(
        r.json(),
        json!({"_shards": {"total": 1, "successful": 1, "failed": 0}})
    );
    let r = req("POST", "/_refresh", None).await;
    assert_eq!(r.status, 200);
    assert_es_error(
        &req("POST", "/refresh-missing-x/_refresh", None).await,
        404,
        "index_not_found_exception",
    );
}

#[tokio::test]
async fn cat_indices_and_count() {
    // cat-indices.html / cat-count.html: text with v and h, and format=json.
    let docs = "{\"index\":{}}\n{\"a\":1}\n{\"index\":{}}\n{\"a\":2}\n";
    assert_eq!(bulk("/cat-test/_bulk?refresh=true", docs).await.status, 200);
    let r = get("/_cat/indices/cat-test?format=json").await;
    let v = r.json();
    assert_eq!(v[0]["index"], "cat-test");
    assert_eq!(v[0]["docs.count"], "2");
    assert_eq!(v[0]["health"], "green");
    assert_eq!(v[0]["status"], "open");
    let r = get("/_cat/indices/cat-test?v&h=index,docs.count").await;
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["index", "docs.count"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["cat-test", "2"]
    );
    let r = get("/_cat/count/cat-test").await;
    assert_eq!(r.text.split_whitespace().last(), Some("2"), "{}", r.text);
    let r = get("/_cat/count/cat-test?format=json").await;
    assert_eq!(r.json()[0]["count"], "2");
}

#[tokio::test]
async fn debug_ui_pages_answer() {
    let _ = get("/").await;
    for p in ["/", "/requests", "/sql", "/unsupported", "/indices"] {
        let r = ui_get(p).await;
        assert_eq!(r.status, 200, "{p}");
        assert!(r.text.contains("<html>"), "{p}");
    }
}

#[tokio::test]
async fn unsupported_features_are_400_and_show_on_the_debug_ui() {
    let r = json_req(
        "POST",
        "/_search",
        &json!({"query": {"script_score": {"query": {"match_all": {}}, "script": "1"}}}),
    )
    .await;
    assert_es_error(&r, 400, "parsing_exception");
    let page = ui_get("/unsupported").await;
    assert!(page.text.contains("query [script_score]"), "{}", page.text);
}

/// APIs tools call at start: esrally reads `GET /_nodes/stats/jvm` and `/_nodes/stats/_all`
/// (RestNodesStatsAction: `_nodes`, `cluster_name`, `nodes.{id}.jvm.mem`, `…gc.collectors`);
/// `GET /_cat/health` (RestHealthAction columns); `GET /{index}/_mappings` is the plural of
/// `_mapping` (RestGetMappingAction); Kibana 8.1/8.2 send `enable_fields_emulation` on every
/// search, which Elasticsearch 8 consumes as a no-op (RestSearchAction).
#[tokio::test]
async fn apis_tools_call_at_start() {
    let r = get("/_nodes/stats/jvm").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["_nodes"]["total"], 1);
    let node = v["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(
        node["jvm"]["mem"]["heap_used_in_bytes"].as_u64().unwrap() > 0,
        "{node}"
    );
    assert!(node["jvm"]["gc"]["collectors"]["old"]["collection_count"].is_u64());
    assert!(
        node.get("indices").is_none(),
        "only the metric asked for: {node}"
    );
    let r = get("/_nodes/stats/_all").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let node = r.json()["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(node["indices"]["docs"]["count"].is_u64(), "{node}");
    assert!(node["process"]["cpu"]["total_in_millis"].is_u64());
    let r = get("/_nodes/_local/stats/os,process").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get("/_nodes/stats/nonsense").await;
    assert_es_error(&r, 400, "illegal_argument_exception");

    let r = get("/_cat/health?format=json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = r.json()[0].clone();
    assert_eq!(row["status"], "green");
    assert_eq!(row["node.total"], "1");
    let r = get("/_cat/health?v").await;
    assert!(r.text.starts_with("epoch"), "{}", r.text);

    load_docs("plural-mappings", None, &[json!({"a": 1})]).await;
    let r = get("/plural-mappings/_mappings").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["plural-mappings"]["mappings"]["properties"]["a"]["type"],
        "long"
    );
    let r = get("/plural-mappings/_search?enable_fields_emulation=true").await;
    assert_eq!(r.status, 200, "{}", r.text);
}
