//! Failure stores of data streams (Elasticsearch 8.19 / 9.1): documents that fail their ingest
//! pipeline or their mapping are written to the stream's failure store with Elasticsearch's
//! failure document shape, the `_bulk` item answers `failure_store: used`, and `::failures`
//! searches them; on the real embedded ClickHouse engine.
//! (elastic/elasticsearch: modules/data-streams/src/yamlRestTest/resources/rest-api-spec/test/
//! data_stream/190_failure_store_redirection.yml, 240_failure_store_info.yml,
//! 230_data_stream_options.yml; server/.../action/bulk/FailureStoreDocumentConverter.java;
//! https://www.elastic.co/docs/manage-data/data-store/data-streams/failure-store)

use crate::common::*;
use serde_json::{Value, json};

async fn put(path: &str, body: Value) {
    let r = json_req("PUT", path, &body).await;
    assert_eq!(r.status, 200, "PUT {path}: {}", r.text);
}

/// An index template making data streams of `pattern`, with `template` as its `template`.
async fn template(name: &str, pattern: &str, template: Value) {
    put(
        &format!("/_index_template/{name}"),
        json!({"index_patterns": [pattern], "data_stream": {}, "priority": 100, "template": template}),
    )
    .await;
}

fn fs_enabled() -> Value {
    json!({"failure_store": {"enabled": true}})
}

/// The hits of `GET {target}/_search`.
async fn hits(target: &str) -> Vec<Value> {
    let r = json_req(
        "POST",
        &format!("/{target}/_search"),
        &json!({"size": 100, "sort": [{"@timestamp": "asc"}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["hits"]["hits"].as_array().unwrap().clone()
}

async fn count(target: &str) -> u64 {
    let r = get(&format!("/{target}/_count")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["count"].as_u64().unwrap()
}

fn is_failure_index(name: &Value, stream: &str, generation: u32) -> bool {
    let n = name.as_str().unwrap_or_default();
    n.starts_with(&format!(".fs-{stream}-")) && n.ends_with(&format!("-{generation:06}"))
}

/// "Redirect shard failure in data stream to failure store" and "Test failure store status with
/// bulk request failing on mappings" (190_failure_store_redirection.yml): a string into a `long`
/// field goes to the failure store (generation 2: the stream exists, its failure store is rolled
/// over on first write), answering 201 `failure_store: used`; a version conflict is not
/// redirected; the accepted document is in the stream; `::failures` and `GET _data_stream` show
/// the failure store (240_failure_store_info.yml).
#[tokio::test]
async fn mapping_conflict_lands_in_the_failure_store() {
    template(
        "fs-map",
        "fs-map-*",
        json!({"mappings": {"properties": {"@timestamp": {"type": "date"}, "count": {"type": "long"}}},
               "data_stream_options": fs_enabled()}),
    )
    .await;
    let r = bulk(
        "/_bulk?refresh=true",
        concat!(
            "{\"create\":{\"_index\":\"fs-map-a\",\"_id\":\"1\"}}\n",
            "{\"@timestamp\":\"2022-01-01\",\"baz\":\"quick\",\"count\":1}\n",
            "{\"create\":{\"_index\":\"fs-map-a\",\"_id\":\"1\"}}\n",
            "{\"@timestamp\":\"2022-01-01\",\"baz\":\"lazy\"}\n",
            "{\"create\":{\"_index\":\"fs-map-a\",\"_id\":\"2\"}}\n",
            "{\"@timestamp\":\"2022-01-02\",\"count\":\"invalid value\"}\n",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["errors"], true, "{}", r.text);
    let items = &v["items"];
    assert_eq!(items[0]["create"]["status"], 201, "{}", r.text);
    assert!(
        items[0]["create"].get("failure_store").is_none(),
        "{}",
        r.text
    );
    assert_eq!(items[1]["create"]["status"], 409, "{}", r.text);
    assert_eq!(
        items[1]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    assert!(
        items[1]["create"].get("failure_store").is_none(),
        "{}",
        r.text
    );
    let used = &items[2]["create"];
    assert_eq!(used["status"], 201, "{}", r.text);
    assert_eq!(used["result"], "created", "{}", r.text);
    assert_eq!(used["failure_store"], "used", "{}", r.text);
    assert!(
        is_failure_index(&used["_index"], "fs-map-a", 2),
        "{}",
        r.text
    );
    // Key order of IndexResponse: failure_store after _primary_term, then status.
    let keys: Vec<&String> = used.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[keys.len() - 3..],
        ["_primary_term", "failure_store", "status"]
    );

    // The stream has the accepted document only; the failure store the failed one.
    assert_eq!(count("fs-map-a").await, 1);
    assert_eq!(count("fs-map-a::failures").await, 1);
    assert_eq!(count("fs-map-a::data").await, 1);
    let f = hits("fs-map-a::failures").await;
    assert_eq!(f.len(), 1);
    assert!(is_failure_index(&f[0]["_index"], "fs-map-a", 2));
    let src = &f[0]["_source"];
    assert!(src["@timestamp"].is_string());
    assert!(src.get("count").is_none());
    assert_eq!(src["document"]["index"], "fs-map-a");
    assert_eq!(src["document"]["id"], "2");
    assert_eq!(
        src["document"]["source"],
        json!({"@timestamp": "2022-01-02", "count": "invalid value"})
    );
    assert_eq!(src["error"]["type"], "document_parsing_exception");
    let msg = src["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("failed to parse field [count] of type [long]"),
        "{msg}"
    );
    assert!(
        src["error"]["stack_trace"]
            .as_str()
            .unwrap()
            .contains("failed to parse field [count] of type [long]")
    );
    // Searchable by its fields (document.index is a keyword, error.message text).
    let r = json_req(
        "POST",
        "/fs-map-a::failures/_search",
        &json!({"query": {"bool": {"filter": [{"term": {"document.index": "fs-map-a"}},
                                              {"term": {"error.type": "document_parsing_exception"}}]}}}),
    )
    .await;
    assert_eq!(r.json()["hits"]["total"]["value"], 1, "{}", r.text);
    // The failure index is also reachable by name.
    let fs_index = used["_index"].as_str().unwrap().to_string();
    assert_eq!(count(&fs_index).await, 1);

    let r = get("/_data_stream/fs-map-a").await;
    let ds = &r.json()["data_streams"][0];
    assert_eq!(ds["generation"], 2, "{}", r.text);
    assert_eq!(ds["indices"].as_array().unwrap().len(), 1);
    assert_eq!(ds["failure_store"]["enabled"], true, "{}", r.text);
    assert_eq!(ds["failure_store"]["rollover_on_write"], false);
    let fi = ds["failure_store"]["indices"].as_array().unwrap();
    assert_eq!(fi.len(), 1);
    assert!(is_failure_index(&fi[0]["index_name"], "fs-map-a", 2));

    // Rollover of the data stream continues the shared generation; deleting it drops both.
    let r = req("POST", "/fs-map-a/_rollover", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["new_index"].as_str().unwrap().ends_with("-000003"));
    let r = req("DELETE", "/_data_stream/fs-map-a", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get(&format!("/{fs_index}/_count")).await;
    assert_es_error(&r, 404, "index_not_found_exception");
}

/// "Redirect ingest failure in data stream to failure store" (190_failure_store_redirection.yml):
/// a `fail` processor (tag `foo-tag`) in a pipeline called by the default pipeline sends the
/// document, as it came, to the failure store of a stream created by this write (both
/// generation 1), with the pipeline trace, the failing pipeline and processor.
#[tokio::test]
async fn fail_processor_lands_in_the_failure_store() {
    put(
        "/_ingest/pipeline/fs-failing",
        json!({"processors": [{"fail": {"message": "error_message", "tag": "foo-tag"}}]}),
    )
    .await;
    put(
        "/_ingest/pipeline/fs-parent-failing",
        json!({"processors": [{"pipeline": {"name": "fs-failing"}}]}),
    )
    .await;
    template(
        "fs-fail",
        "fs-fail-*",
        json!({"settings": {"index": {"default_pipeline": "fs-parent-failing"}},
               "data_stream_options": fs_enabled()}),
    )
    .await;
    let r = json_req(
        "POST",
        "/fs-fail-a/_doc?refresh=true",
        &json!({"@timestamp": "2020-12-12", "foo": "bar"}),
    )
    .await;
    // The single-document API reports the same.
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["failure_store"], "used", "{}", r.text);
    assert!(is_failure_index(&v["_index"], "fs-fail-a", 1), "{}", r.text);

    let r = get("/_data_stream/fs-fail-a").await;
    let ds = &r.json()["data_streams"][0];
    assert!(
        ds["indices"][0]["index_name"]
            .as_str()
            .unwrap()
            .ends_with("-000001")
    );
    assert!(is_failure_index(
        &ds["failure_store"]["indices"][0]["index_name"],
        "fs-fail-a",
        1
    ));
    assert_eq!(count("fs-fail-a").await, 0);
    let f = hits("fs-fail-a::failures").await;
    assert_eq!(f.len(), 1);
    let src = &f[0]["_source"];
    assert!(src.get("foo").is_none());
    assert!(src["document"].get("id").is_none(), "{src}");
    assert_eq!(src["document"]["index"], "fs-fail-a");
    assert_eq!(
        src["document"]["source"],
        json!({"@timestamp": "2020-12-12", "foo": "bar"})
    );
    let e = &src["error"];
    assert_eq!(e["type"], "fail_processor_exception");
    assert_eq!(e["message"], "error_message");
    assert!(e["stack_trace"].as_str().unwrap().contains("error_message"));
    assert_eq!(
        e["pipeline_trace"],
        json!(["fs-parent-failing", "fs-failing"])
    );
    assert_eq!(e["pipeline"], "fs-failing");
    assert_eq!(e["processor_tag"], "foo-tag");
    assert_eq!(e["processor_type"], "fail");
}

/// A grok miss (GrokProcessor: "Provided Grok expressions do not match field value") goes to the
/// failure store through `_bulk`, while the lines that parse are written to the stream: nothing
/// accepted is lost (stream + failure store = every item).
#[tokio::test]
async fn grok_miss_lands_in_the_failure_store_and_nothing_is_lost() {
    put(
        "/_ingest/pipeline/fs-grok",
        json!({"processors": [
            {"grok": {"field": "message", "patterns": ["%{IP:client.ip} %{WORD:http.method} %{URIPATHPARAM:url.path}"], "tag": "parse"}},
            {"remove": {"field": "message"}}
        ]}),
    )
    .await;
    template(
        "fs-grok",
        "fs-grok-*",
        json!({"settings": {"index.default_pipeline": "fs-grok"}, "data_stream_options": fs_enabled()}),
    )
    .await;
    let mut body = String::new();
    for i in 0..10 {
        let msg = if i % 3 == 0 {
            format!("garbage line {i}")
        } else {
            format!("10.0.0.{i} GET /p/{i}")
        };
        body.push_str(&format!(
            "{{\"create\":{{}}}}\n{{\"@timestamp\":\"2024-05-01T10:00:0{i}Z\",\"message\":\"{msg}\"}}\n"
        ));
    }
    let r = bulk("/fs-grok-a/_bulk?refresh=true", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let items = v["items"].as_array().unwrap();
    for (i, it) in items.iter().enumerate() {
        assert_eq!(it["create"]["status"], 201, "{}", r.text);
        if i % 3 == 0 {
            assert_eq!(it["create"]["failure_store"], "used", "{}", r.text);
        } else {
            assert!(it["create"].get("failure_store").is_none(), "{}", r.text);
        }
    }
    assert_eq!(count("fs-grok-a").await, 6);
    assert_eq!(count("fs-grok-a::failures").await, 4);
    assert_eq!(count("fs-grok-a,fs-grok-a::failures").await, 10);
    let f = hits("fs-grok-a::failures").await;
    let src = &f[0]["_source"];
    assert_eq!(src["document"]["source"]["message"], "garbage line 0");
    assert_eq!(src["error"]["type"], "illegal_argument_exception");
    assert_eq!(
        src["error"]["message"],
        "Provided Grok expressions do not match field value: [garbage line 0]"
    );
    assert_eq!(src["error"]["processor_type"], "grok");
    assert_eq!(src["error"]["processor_tag"], "parse");
    assert_eq!(src["error"]["pipeline_trace"], json!(["fs-grok"]));
    assert_eq!(src["error"]["pipeline"], "fs-grok");
    // An aggregation over the failure store.
    let r = json_req(
        "POST",
        "/fs-grok-a::failures/_search",
        &json!({"size": 0, "aggs": {"t": {"terms": {"field": "error.type"}}}}),
    )
    .await;
    assert_eq!(
        r.json()["aggregations"]["t"]["buckets"],
        json!([{"key": "illegal_argument_exception", "doc_count": 4}]),
        "{}",
        r.text
    );
}

/// "Test failure store status with bulk request failing in ingest / on mappings": a data stream
/// whose failure store is disabled answers the error as before plus `failure_store:
/// not_enabled`; a plain index answers it without any `failure_store`. Enabling it with
/// `PUT /_data_stream/{name}/_options` (230_data_stream_options.yml) redirects the next failures.
#[tokio::test]
async fn without_a_failure_store_errors_stay_and_options_enable_it() {
    put(
        "/_ingest/pipeline/fs-no-failing",
        json!({"processors": [{"fail": {"message": "error_message"}}]}),
    )
    .await;
    template(
        "fs-no",
        "fs-no-*",
        json!({"mappings": {"properties": {"count": {"type": "long"}}},
               "data_stream_options": {"failure_store": {"enabled": false}}}),
    )
    .await;
    let r = bulk(
        "/_bulk",
        concat!(
            "{\"create\":{\"_index\":\"fs-no-a\"}}\n",
            "{\"@timestamp\":\"2022-01-01\",\"count\":1}\n",
            "{\"create\":{\"_index\":\"fs-no-a\"}}\n",
            "{\"@timestamp\":\"2022-01-01\",\"count\":\"invalid\"}\n",
            "{\"create\":{\"_index\":\"fs-no-a\",\"pipeline\":\"fs-no-failing\"}}\n",
            "{\"@timestamp\":\"2022-01-01\",\"count\":2}\n",
            "{\"index\":{\"_index\":\"fs-plain-index\",\"pipeline\":\"fs-no-failing\"}}\n",
            "{\"count\":2}\n",
        ),
    )
    .await;
    let v = r.json();
    let items = &v["items"];
    assert_eq!(items[0]["create"]["status"], 201, "{}", r.text);
    assert!(items[0]["create"].get("failure_store").is_none());
    assert_eq!(items[1]["create"]["status"], 400, "{}", r.text);
    assert_eq!(
        items[1]["create"]["error"]["type"],
        "document_parsing_exception"
    );
    assert_eq!(items[1]["create"]["failure_store"], "not_enabled");
    let keys: Vec<&String> = items[1]["create"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["_index", "_id", "status", "failure_store", "error"]);
    assert_eq!(items[2]["create"]["status"], 500, "{}", r.text);
    assert_eq!(items[2]["create"]["_index"], "fs-no-a");
    assert_eq!(items[2]["create"]["failure_store"], "not_enabled");
    assert_eq!(
        items[2]["create"]["error"]["type"],
        "fail_processor_exception"
    );
    assert_eq!(items[3]["index"]["status"], 500, "{}", r.text);
    assert!(
        items[3]["index"].get("failure_store").is_none(),
        "{}",
        r.text
    );

    let r = get("/_data_stream/fs-no-a").await;
    let fs = &r.json()["data_streams"][0]["failure_store"];
    assert_eq!(fs["enabled"], false, "{}", r.text);
    assert_eq!(fs["indices"], json!([]));

    // Options on the stream.
    let r = get("/_data_stream/fs-no-a/_options").await;
    assert_eq!(
        r.json(),
        json!({"data_streams": [{"name": "fs-no-a", "options": {"failure_store": {"enabled": false}}}]})
    );
    put("/_data_stream/fs-no-a/_options", fs_enabled()).await;
    let r = bulk(
        "/_bulk?refresh=true",
        "{\"create\":{\"_index\":\"fs-no-a\"}}\n{\"@timestamp\":\"2022-01-01\",\"count\":\"invalid\"}\n",
    )
    .await;
    assert_eq!(
        r.json()["items"][0]["create"]["failure_store"],
        "used",
        "{}",
        r.text
    );
    assert!(is_failure_index(
        &r.json()["items"][0]["create"]["_index"],
        "fs-no-a",
        2
    ));
    assert_eq!(count("fs-no-a::failures").await, 1);
    let r = req("DELETE", "/_data_stream/fs-no-a/_options", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get("/_data_stream/fs-no-a/_options").await;
    assert_eq!(r.json(), json!({"data_streams": [{"name": "fs-no-a"}]}));
}

/// Errors of the options: data stream options need a data stream template
/// (MetadataIndexTemplateService#validateDataStreamOptions); an unknown selector is an invalid
/// index name (IndexNameExpressionResolver); `::failures` of a missing stream is a 404.
#[tokio::test]
async fn option_and_selector_errors() {
    let r = json_req(
        "PUT",
        "/_index_template/fs-bad",
        &json!({"index_patterns": ["fs-bad-*"], "template": {"data_stream_options": fs_enabled()}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "index template [fs-bad] specifies data stream options that can only be used in combination with a data stream"
    );
    let r = json_req(
        "PUT",
        "/_index_template/fs-bad",
        &json!({"index_patterns": ["fs-bad-*"], "data_stream": {},
                "template": {"data_stream_options": {"failure_store": {"enabled": true, "bogus": 1}}}}),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    let r = get("/fs-nothing/_search").await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let r = get("/fs-nothing::failures/_search").await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let r = get("/fs-nothing::bogus/_search").await;
    let e = assert_es_error(&r, 400, "invalid_index_name_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("[bogus] is not a recognized selector"),
        "{e}"
    );
}

/// The `data_streams_failure_store_enabled` patterns (the cluster setting
/// `data_streams.failure_store.enabled`) enable the failure store of streams without options
/// ("Get failure store info from cluster setting enabled failure store", 240_failure_store_info.yml).
#[tokio::test]
async fn configured_patterns_enable_the_failure_store() {
    let d = start_daemon(|c| c.data_streams_failure_store_enabled = vec!["fsdef-*".into()]);
    let client = client();
    let base = format!("http://{}", d.es);
    let r = client
        .put(format!("{base}/_index_template/fsdef"))
        .json(
            &json!({"index_patterns": ["fsdef-*", "fsother-*"], "data_stream": {},
                      "template": {"mappings": {"properties": {"count": {"type": "long"}}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (stream, want) in [
        ("fsdef-a", Some("used")),
        ("fsother-a", Some("not_enabled")),
    ] {
        let r = client
            .post(format!("{base}/_bulk"))
            .header("content-type", "application/x-ndjson")
            .body(format!(
                "{{\"create\":{{\"_index\":\"{stream}\"}}}}\n{{\"@timestamp\":\"2020-12-12\",\"count\":\"invalid value\"}}\n"
            ))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["items"][0]["create"]["failure_store"].as_str(),
            want,
            "{v}"
        );
    }
}
