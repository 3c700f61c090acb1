//! Ingest pipelines: the pipeline APIs, `_simulate`, processors with Elasticsearch's documented
//! examples, and pipelines on the write path (`_bulk`, index, `_update` upserts, default and final
//! pipelines), on the real embedded ClickHouse engine.

use crate::common::*;
use serde_json::{Value, json};

async fn put_pipeline(id: &str, body: &Value) {
    let r = json_req("PUT", &format!("/_ingest/pipeline/{id}"), body).await;
    assert_eq!(r.status, 200, "PUT pipeline {id}: {}", r.text);
    assert_eq!(r.json(), json!({"acknowledged": true}));
}

/// Runs `processors` on one `_source` through `POST /_ingest/pipeline/_simulate` and returns the
/// resulting `_source` (or panics with the answer).
async fn simulate(processors: Value, source: Value) -> Value {
    let r = json_req(
        "POST",
        "/_ingest/pipeline/_simulate",
        &json!({"pipeline": {"processors": processors}, "docs": [{"_source": source}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    v["docs"][0]["doc"]["_source"].clone()
}

/// The error of the first simulated document.
async fn simulate_error(processors: Value, source: Value) -> Value {
    let r = json_req(
        "POST",
        "/_ingest/pipeline/_simulate",
        &json!({"pipeline": {"processors": processors}, "docs": [{"_source": source}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert!(v["docs"][0]["error"].is_object(), "{}", r.text);
    v["docs"][0]["error"].clone()
}

/// PUT stores a pipeline with `version`, `_meta` and `description`; GET returns it as stored, by
/// id, by wildcard and all; DELETE accepts wildcards; a missing id answers 404 `{}` on GET and
/// `resource_not_found_exception` on DELETE
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/put-pipeline-api.html,
/// get-pipeline-api.html, delete-pipeline-api.html).
#[tokio::test]
async fn pipeline_crud_with_version_meta_and_wildcards() {
    let def = json!({
        "description": "My optional pipeline description",
        "processors": [{"set": {"description": "My optional processor description",
                                 "field": "my-keyword-field", "value": "foo"}}],
        "version": 123,
        "_meta": {"reason": "set my-keyword-field to foo", "serialization": {"class": "MyPipeline", "id": 10}}
    });
    put_pipeline("crud-a", &def).await;
    put_pipeline("crud-b", &json!({"processors": []})).await;

    let r = get("/_ingest/pipeline/crud-a").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"crud-a": def}));

    let r = get("/_ingest/pipeline/crud-*").await;
    let v = r.json();
    assert!(
        v.get("crud-a").is_some() && v.get("crud-b").is_some(),
        "{v}"
    );
    let all = get("/_ingest/pipeline").await.json();
    assert!(all.get("crud-a").is_some(), "{all}");

    let r = get("/_ingest/pipeline/crud-missing").await;
    assert_eq!((r.status, r.json()), (404, json!({})));

    // if_version: a conflict names the current version.
    let r = json_req("PUT", "/_ingest/pipeline/crud-a?if_version=1", &def).await;
    assert_es_error(&r, 400, "illegal_argument_exception");

    let r = req("DELETE", "/_ingest/pipeline/crud-*", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get("/_ingest/pipeline/crud-a").await;
    assert_eq!(r.status, 404);
    let r = req("DELETE", "/_ingest/pipeline/crud-a", None).await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}

/// An invalid definition is refused at PUT time with `parse_exception` naming the processor type
/// (ConfigurationUtils#newConfigurationException: `processor_type`, `property_name` headers); an
/// unknown processor says `No processor type exists with name [...]`.
#[tokio::test]
async fn invalid_definitions_are_refused() {
    let r = json_req(
        "PUT",
        "/_ingest/pipeline/bad-1",
        &json!({"processors": [{"set": {"value": 1}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "parse_exception");
    assert_eq!(e["reason"], "[field] required property is missing", "{e}");

    let r = json_req(
        "PUT",
        "/_ingest/pipeline/bad-2",
        &json!({"processors": [{"nope": {}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "parse_exception");
    assert_eq!(
        e["reason"], "No processor type exists with name [nope]",
        "{e}"
    );

    let r = json_req(
        "PUT",
        "/_ingest/pipeline/bad-3",
        &json!({"description": "x"}),
    )
    .await;
    assert_es_error(&r, 400, "parse_exception");
}

/// `_simulate` with a stored pipeline and with an inline one; `verbose` gives one result per
/// processor with its status and the document after it
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/simulate-pipeline-api.html).
#[tokio::test]
async fn simulate_both_forms_and_verbose() {
    put_pipeline(
        "sim-stored",
        &json!({"processors": [{"set": {"field": "field2", "value": "_value"}}]}),
    )
    .await;
    let docs = json!({"docs": [
        {"_index": "index", "_id": "id", "_source": {"foo": "bar"}},
        {"_index": "index", "_id": "id", "_source": {"foo": "rab"}}
    ]});
    let r = json_req("POST", "/_ingest/pipeline/sim-stored/_simulate", &docs).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["docs"][0]["doc"]["_source"],
        json!({"foo": "bar", "field2": "_value"})
    );
    assert_eq!(
        v["docs"][1]["doc"]["_source"],
        json!({"foo": "rab", "field2": "_value"})
    );
    assert_eq!(v["docs"][0]["doc"]["_index"], "index");
    assert_eq!(v["docs"][0]["doc"]["_id"], "id");
    assert!(
        v["docs"][0]["doc"]["_ingest"]["timestamp"].is_string(),
        "{v}"
    );

    let r = json_req(
        "POST",
        "/_ingest/pipeline/_simulate?verbose=true",
        &json!({
            "pipeline": {"processors": [
                {"set": {"field": "field2", "value": "_value2"}},
                {"set": {"field": "field3", "value": "_value3"}}
            ]},
            "docs": [{"_index": "index", "_id": "id", "_source": {"foo": "bar"}}]
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let results = &v["docs"][0]["processor_results"];
    assert_eq!(results[0]["processor_type"], "set");
    assert_eq!(results[0]["status"], "success");
    assert_eq!(
        results[0]["doc"]["_source"],
        json!({"foo": "bar", "field2": "_value2"})
    );
    assert_eq!(
        results[1]["doc"]["_source"],
        json!({"foo": "bar", "field2": "_value2", "field3": "_value3"})
    );

    let r = json_req("POST", "/_ingest/pipeline/sim-none/_simulate", &docs).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

/// `GET /_ingest/processor/grok` lists the built-in patterns
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/grok-processor.html,
/// "Retrieving patterns from REST endpoint").
#[tokio::test]
async fn grok_patterns_endpoint() {
    let r = get("/_ingest/processor/grok?s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    for p in [
        "IP",
        "IPV4",
        "NUMBER",
        "COMBINEDAPACHELOG",
        "WORD",
        "HTTPDATE",
    ] {
        assert!(v["patterns"][p].is_string(), "{p} missing");
    }
}

/// Field edits from the processor reference pages: set with a template and `copy_from`,
/// rename, lowercase, uppercase, trim, split, join, gsub, append, convert, remove with `keep`,
/// dot_expander (https://www.elastic.co/guide/en/elasticsearch/reference/current/set-processor.html,
/// rename-processor.html, split-processor.html, gsub-processor.html, convert-processor.html,
/// remove-processor.html, dot-expand-processor.html).
#[tokio::test]
async fn field_edit_processors() {
    let out = simulate(
        json!([{"set": {"field": "host.os.name", "value": "{{{os}}}"}}]),
        json!({"os": "Ubuntu"}),
    )
    .await;
    assert_eq!(
        out,
        json!({"os": "Ubuntu", "host": {"os": {"name": "Ubuntu"}}})
    );

    let out = simulate(
        json!([{"set": {"field": "copy", "copy_from": "orig"}}]),
        json!({"orig": [1, 2]}),
    )
    .await;
    assert_eq!(out, json!({"orig": [1, 2], "copy": [1, 2]}));

    let out = simulate(
        json!([{"rename": {"field": "provider", "target_field": "cloud.provider"}}]),
        json!({"provider": "aws"}),
    )
    .await;
    assert_eq!(out, json!({"cloud": {"provider": "aws"}}));

    let out = simulate(
        json!([
            {"lowercase": {"field": "a"}},
            {"uppercase": {"field": "b"}},
            {"trim": {"field": "c"}},
            {"split": {"field": "d", "separator": "\\s+"}},
            {"join": {"field": "e", "separator": "-"}},
            {"gsub": {"field": "f", "pattern": "\\.", "replacement": "-"}},
            {"append": {"field": "tags", "value": ["production", "{{{app}}}"]}},
            {"convert": {"field": "n", "type": "integer"}}
        ]),
        json!({"a": "FOO", "b": "foo", "c": "  x  ", "d": "a b  c", "e": ["x", "y"],
               "f": "127.0.0.1", "tags": "t", "app": "web", "n": "42"}),
    )
    .await;
    assert_eq!(out["a"], "foo");
    assert_eq!(out["b"], "FOO");
    assert_eq!(out["c"], "x");
    assert_eq!(out["d"], json!(["a", "b", "c"]));
    assert_eq!(out["e"], "x-y");
    assert_eq!(out["f"], "127-0-0-1");
    assert_eq!(out["tags"], json!(["t", "production", "web"]));
    assert_eq!(out["n"], 42);

    let out = simulate(
        json!([{"remove": {"keep": ["url"]}}]),
        json!({"url": "https://elastic.co", "other": 1}),
    )
    .await;
    assert_eq!(out, json!({"url": "https://elastic.co"}));

    let out = simulate(
        json!([{"dot_expander": {"field": "foo.bar"}}]),
        json!({"foo.bar": "value"}),
    )
    .await;
    assert_eq!(out, json!({"foo": {"bar": "value"}}));
}

/// A missing field fails the processor with `illegal_argument_exception`
/// `field [x] not present as part of path [x]`, unless `ignore_missing`; `ignore_failure` goes on;
/// `on_failure` sees `_ingest.on_failure_message` (https://www.elastic.co/guide/en/elasticsearch/reference/current/ingest.html#handling-pipeline-failures).
#[tokio::test]
async fn missing_fields_ignore_and_on_failure() {
    let e = simulate_error(json!([{"lowercase": {"field": "nope"}}]), json!({"a": 1})).await;
    assert_eq!(e["type"], "illegal_argument_exception", "{e}");
    assert_eq!(
        e["reason"], "field [nope] not present as part of path [nope]",
        "{e}"
    );

    let out = simulate(
        json!([{"lowercase": {"field": "nope", "ignore_missing": true}}]),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(out, json!({"a": 1}));

    let out = simulate(
        json!([{"lowercase": {"field": "nope", "ignore_failure": true}}, {"set": {"field": "b", "value": 2}}]),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(out, json!({"a": 1, "b": 2}));

    let out = simulate(
        json!([{"rename": {"field": "foo", "target_field": "bar", "tag": "t1", "on_failure": [
            {"set": {"field": "error.message", "value": "{{ _ingest.on_failure_message }}"}},
            {"set": {"field": "error.tag", "value": "{{ _ingest.on_failure_processor_tag }}"}}
        ]}}]),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(
        out["error"]["message"], "field [foo] doesn't exist",
        "{out}"
    );
    assert_eq!(out["error"]["tag"], "t1");
}

/// `if` conditions in Painless, `drop` and `fail` with a templated message
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/ingest.html#conditionally-run-processor,
/// drop-processor.html, fail-processor.html).
#[tokio::test]
async fn conditions_drop_and_fail() {
    let out = simulate(
        json!([{"set": {"field": "big", "value": true, "if": "ctx.size != null && ctx.size > 10"}}]),
        json!({"size": 20}),
    )
    .await;
    assert_eq!(out, json!({"size": 20, "big": true}));
    let out = simulate(
        json!([{"set": {"field": "big", "value": true, "if": "ctx.size != null && ctx.size > 10"}}]),
        json!({"size": 2}),
    )
    .await;
    assert_eq!(out, json!({"size": 2}));

    let r = json_req(
        "POST",
        "/_ingest/pipeline/_simulate",
        &json!({"pipeline": {"processors": [{"drop": {"if": "ctx.network?.name == 'Guest'"}}]},
                "docs": [{"_source": {"network": {"name": "Guest"}}}, {"_source": {"network": {"name": "Home"}}}]}),
    )
    .await;
    let v = r.json();
    assert!(v["docs"][0].is_null(), "{v}");
    assert_eq!(v["docs"][1]["doc"]["_source"]["network"]["name"], "Home");

    let e = simulate_error(
        json!([{"fail": {"message": "The production tag is not present, found tags: {{{tags}}}"}}]),
        json!({"tags": "dev"}),
    )
    .await;
    assert_eq!(e["type"], "fail_processor_exception", "{e}");
    assert_eq!(
        e["reason"],
        "The production tag is not present, found tags: dev"
    );
}

/// Parsing processors: dissect, grok (built-in and `pattern_definitions`), date, kv, json, csv
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/dissect-processor.html,
/// grok-processor.html, date-processor.html, kv-processor.html, json-processor.html,
/// csv-processor.html).
#[tokio::test]
async fn parsing_processors() {
    let out = simulate(
        json!([{"dissect": {"field": "message",
            "pattern": "%{clientip} %{ident} %{auth} [%{@timestamp}] \"%{verb} %{request} HTTP/%{httpversion}\" %{status} %{size}"}}]),
        json!({"message": "1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] \"GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0\" 200 3171"}),
    )
    .await;
    assert_eq!(out["clientip"], "1.2.3.4");
    assert_eq!(out["@timestamp"], "30/Apr/1998:22:00:52 +0000");
    assert_eq!(out["verb"], "GET");
    assert_eq!(out["httpversion"], "1.0");
    assert_eq!(out["size"], "3171");

    let out = simulate(
        json!([{"grok": {"field": "message",
            "patterns": ["%{IP:client} %{WORD:method} %{URIPATHPARAM:request} %{NUMBER:bytes:int} %{NUMBER:duration:double}"]}}]),
        json!({"message": "55.3.244.1 GET /index.html 15824 0.043"}),
    )
    .await;
    assert_eq!(out["client"], "55.3.244.1");
    assert_eq!(out["method"], "GET");
    assert_eq!(out["request"], "/index.html");
    assert_eq!(out["bytes"], 15824);
    assert_eq!(out["duration"], 0.043);

    let out = simulate(
        json!([{"grok": {"field": "message", "patterns": ["my %{FAVORITE_DOG:dog} is colored %{RGB:color}"],
            "pattern_definitions": {"FAVORITE_DOG": "beagle", "RGB": "RED|GREEN|BLUE"}}}]),
        json!({"message": "my beagle is colored RED"}),
    )
    .await;
    assert_eq!(out["dog"], "beagle");
    assert_eq!(out["color"], "RED");

    let e = simulate_error(
        json!([{"grok": {"field": "message", "patterns": ["%{IP:client}"]}}]),
        json!({"message": "no address here"}),
    )
    .await;
    assert_eq!(
        e["reason"], "Provided Grok expressions do not match field value: [no address here]",
        "{e}"
    );

    let out = simulate(
        json!([{"date": {"field": "initial_date", "target_field": "timestamp",
            "formats": ["dd/MM/yyyy HH:mm:ss"], "timezone": "Europe/Amsterdam"}}]),
        json!({"initial_date": "06/07/2020 12:00:00"}),
    )
    .await;
    assert_eq!(out["timestamp"], "2020-07-06T12:00:00.000+02:00", "{out}");

    let out = simulate(
        json!([{"kv": {"field": "message", "field_split": " ", "value_split": "="}}]),
        json!({"message": "ip=1.2.3.4 error=REFUSED"}),
    )
    .await;
    assert_eq!(out["ip"], "1.2.3.4");
    assert_eq!(out["error"], "REFUSED");

    let out = simulate(
        json!([{"json": {"field": "string_source", "target_field": "json_target"}}]),
        json!({"string_source": "{\"foo\": 2000}"}),
    )
    .await;
    assert_eq!(out["json_target"], json!({"foo": 2000}));

    let out = simulate(
        json!([{"csv": {"field": "my_field", "target_fields": ["field1", "field2"]}}]),
        json!({"my_field": "a,\"b,c\""}),
    )
    .await;
    assert_eq!(out["field1"], "a");
    assert_eq!(out["field2"], "b,c");
}

/// Logs helpers: uri_parts, registered_domain, community_id, network_direction
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/uri-parts-processor.html,
/// registered-domain-processor.html, community-id-processor.html, network-direction-processor.html).
#[tokio::test]
async fn logs_helpers() {
    let out = simulate(
        json!([{"uri_parts": {"field": "input_field", "target_field": "url", "keep_original": true}}]),
        json!({"input_field": "http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment"}),
    )
    .await;
    assert_eq!(out["url"]["domain"], "www.example.com", "{out}");
    assert_eq!(out["url"]["extension"], "gif");
    assert_eq!(out["url"]["fragment"], "fragment");
    assert_eq!(out["url"]["path"], "/foo.gif");
    assert_eq!(out["url"]["port"], 80);
    assert_eq!(out["url"]["query"], "key1=val1&key2=val2");
    assert_eq!(out["url"]["scheme"], "http");
    assert_eq!(out["url"]["username"], "myusername");
    assert_eq!(out["url"]["password"], "mypassword");

    let out = simulate(
        json!([{"registered_domain": {"field": "fqdn", "target_field": "url"}}]),
        json!({"fqdn": "www.example.ac.uk"}),
    )
    .await;
    assert_eq!(out["url"]["registered_domain"], "example.ac.uk", "{out}");
    assert_eq!(out["url"]["top_level_domain"], "ac.uk");
    assert_eq!(out["url"]["subdomain"], "www");

    let out = simulate(
        json!([{"community_id": {}}]),
        json!({"source": {"ip": "123.124.125.126", "port": 12345}, "destination": {"ip": "55.56.57.58", "port": 80},
               "network": {"transport": "TCP"}}),
    )
    .await;
    assert_eq!(
        out["network"]["community_id"], "1:9qr9Z1LViXcNwtLVOHZ3CL8MlyM=",
        "{out}"
    );

    let out = simulate(
        json!([{"network_direction": {"internal_networks": ["private"]}}]),
        json!({"source": {"ip": "128.232.110.120"}, "destination": {"ip": "192.168.1.1"}}),
    )
    .await;
    assert_eq!(out["network"]["direction"], "inbound", "{out}");
}

/// Anonymisation: fingerprint (SHA-1 default, salt) and redact (grok patterns, prefix/suffix)
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/fingerprint-processor.html,
/// redact-processor.html).
#[tokio::test]
async fn anonymisation_processors() {
    let out = simulate(
        json!([{"fingerprint": {"fields": ["user"]}}]),
        json!({"user": {"last_name": "Smith", "first_name": "John", "date_of_birth": "1980-01-15", "is_active": true}}),
    )
    .await;
    assert_eq!(out["fingerprint"], "WbSUPW4zY1PBPehh2AA/sSxiRjw=", "{out}");

    let a = simulate(
        json!([{"fingerprint": {"fields": ["ip"], "salt": "s1"}}]),
        json!({"ip": "1.2.3.4"}),
    )
    .await;
    let b = simulate(
        json!([{"fingerprint": {"fields": ["ip"], "salt": "s2"}}]),
        json!({"ip": "1.2.3.4"}),
    )
    .await;
    assert_ne!(a["fingerprint"], b["fingerprint"]);

    let out = simulate(
        json!([{"redact": {"field": "message", "patterns": ["%{IP:client}"]}}]),
        json!({"message": "55.3.244.1 GET /index.html 15824 0.043"}),
    )
    .await;
    assert_eq!(
        out["message"], "<client> GET /index.html 15824 0.043",
        "{out}"
    );

    let out = simulate(
        json!([{"redact": {"field": "message", "patterns": ["%{EMAILADDRESS:EMAIL}"], "prefix": "*", "suffix": "*"}}]),
        json!({"message": "mail john@example.com now"}),
    )
    .await;
    assert_eq!(out["message"], "mail *EMAIL* now", "{out}");
}

/// The `pipeline` parameter of `_bulk` (whole request and per item), the index API, `_none`,
/// `index.default_pipeline` / `index.final_pipeline`, a `drop` item answering `noop`, a failing
/// item reported with its error while the others are written, and `_update` upserts
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/ingest.html#add-pipeline-to-indexing-request,
/// index-modules.html#dynamic-index-settings `index.default_pipeline`, `index.final_pipeline`;
/// drop-processor.html).
#[tokio::test]
async fn pipelines_on_the_write_path() {
    put_pipeline(
        "wp-tag",
        &json!({"processors": [{"set": {"field": "tagged", "value": "yes"}}]}),
    )
    .await;
    put_pipeline(
        "wp-final",
        &json!({"processors": [{"set": {"field": "final", "value": true}}]}),
    )
    .await;
    put_pipeline(
        "wp-drop",
        &json!({"processors": [{"drop": {"if": "ctx.skip == true"}}, {"fail": {"message": "bad", "if": "ctx.bad == true"}}]}),
    )
    .await;
    let body = concat!(
        "{\"index\":{\"_index\":\"wp-a\",\"_id\":\"1\"}}\n{\"x\":1}\n",
        "{\"index\":{\"_index\":\"wp-a\",\"_id\":\"2\",\"pipeline\":\"wp-drop\"}}\n{\"skip\":true}\n",
        "{\"index\":{\"_index\":\"wp-a\",\"_id\":\"3\",\"pipeline\":\"wp-drop\"}}\n{\"bad\":true}\n",
        "{\"index\":{\"_index\":\"wp-a\",\"_id\":\"4\",\"pipeline\":\"_none\"}}\n{\"x\":4}\n",
    );
    let r = bulk("/_bulk?refresh=true&pipeline=wp-tag", body).await;
    let v = r.json();
    assert_eq!(v["errors"], true, "{v}");
    assert_eq!(v["items"][0]["index"]["status"], 201, "{v}");
    assert_eq!(v["items"][1]["index"]["result"], "noop", "{v}");
    assert_eq!(v["items"][1]["index"]["_version"], -3, "{v}");
    assert_eq!(
        v["items"][2]["index"]["error"]["type"], "fail_processor_exception",
        "{v}"
    );
    assert_eq!(v["items"][2]["index"]["status"], 500, "{v}");
    assert_eq!(v["items"][3]["index"]["status"], 201, "{v}");
    assert_eq!(
        get("/wp-a/_doc/1").await.json()["_source"],
        json!({"x": 1, "tagged": "yes"})
    );
    assert_eq!(get("/wp-a/_doc/2").await.status, 404);
    assert_eq!(get("/wp-a/_doc/3").await.status, 404);
    assert_eq!(get("/wp-a/_doc/4").await.json()["_source"], json!({"x": 4}));

    // A missing pipeline fails the item.
    let r = bulk(
        "/_bulk",
        "{\"index\":{\"_index\":\"wp-a\",\"pipeline\":\"wp-nope\"}}\n{}\n",
    )
    .await;
    let v = r.json();
    assert_eq!(
        v["items"][0]["index"]["error"]["reason"], "pipeline with id [wp-nope] does not exist",
        "{v}"
    );

    // Default and final pipelines from the index settings.
    let r = json_req(
        "PUT",
        "/wp-b",
        &json!({"settings": {"index.default_pipeline": "wp-tag", "index.final_pipeline": "wp-final"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req("PUT", "/wp-b/_doc/1?refresh=true", &json!({"x": 1})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        get("/wp-b/_doc/1").await.json()["_source"],
        json!({"x": 1, "tagged": "yes", "final": true})
    );
    // `_none` disables the default pipeline, not the final one.
    let r = json_req("PUT", "/wp-b/_doc/2?pipeline=_none", &json!({"x": 2})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        get("/wp-b/_doc/2").await.json()["_source"],
        json!({"x": 2, "final": true})
    );

    // `_update` with an upsert runs the pipelines on the upserted document.
    let r = json_req(
        "POST",
        "/wp-b/_update/3",
        &json!({"doc": {"x": 3}, "upsert": {"x": 0}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        get("/wp-b/_doc/3").await.json()["_source"],
        json!({"x": 0, "tagged": "yes", "final": true})
    );

    // Index API with a dropping pipeline: 200 noop.
    let r = json_req(
        "PUT",
        "/wp-a/_doc/9?pipeline=wp-drop",
        &json!({"skip": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "noop");
}

/// `_index` and `_id` set by a processor re-route the document (ctx metadata,
/// https://www.elastic.co/guide/en/elasticsearch/reference/current/ingest.html#access-source-fields,
/// "Access metadata fields in a processor").
#[tokio::test]
async fn metadata_reroutes() {
    put_pipeline(
        "meta-route",
        &json!({"processors": [
            {"set": {"field": "_index", "value": "meta-{{{kind}}}"}},
            {"set": {"field": "_id", "value": "{{{key}}}"}}
        ]}),
    )
    .await;
    let r = bulk(
        "/_bulk?refresh=true&pipeline=meta-route",
        "{\"index\":{\"_index\":\"meta-in\"}}\n{\"kind\":\"x\",\"key\":\"k1\"}\n",
    )
    .await;
    let v = r.json();
    assert_eq!(v["errors"], false, "{v}");
    assert_eq!(v["items"][0]["index"]["_index"], "meta-x", "{v}");
    assert_eq!(v["items"][0]["index"]["_id"], "k1", "{v}");
    assert_eq!(get("/meta-x/_doc/k1").await.status, 200);
}

fn access_log(i: usize) -> String {
    let ips = ["10.0.0.1", "192.168.1.20", "172.16.5.4", "8.8.8.8"];
    let paths = ["/", "/login", "/api/items", "/static/app.js"];
    let statuses = [200, 200, 404, 500, 301];
    format!(
        "{} - - [07/Dec/2026:10:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"-\" \"curl/8.0\"",
        ips[i % ips.len()],
        (i / 60) % 60,
        i % 60,
        paths[i % paths.len()],
        statuses[i % statuses.len()],
        100 + i
    )
}

/// End to end: generated nginx-style access logs through a grok → date → convert → fingerprint →
/// remove pipeline via `_bulk`, then `_search` on the parsed fields and a terms aggregation on the
/// status (grok-processor.html, date-processor.html, fingerprint-processor.html).
#[tokio::test]
async fn nginx_access_logs_end_to_end() {
    put_pipeline(
        "e2e-nginx",
        &json!({"processors": [
            {"grok": {"field": "message", "patterns": ["%{COMBINEDAPACHELOG}"]}},
            {"date": {"field": "timestamp", "formats": ["dd/MMM/yyyy:HH:mm:ss Z"]}},
            {"convert": {"field": "response", "type": "integer"}},
            {"fingerprint": {"fields": ["clientip"], "target_field": "client_hash", "salt": "pepper"}},
            {"remove": {"field": ["clientip", "timestamp"]}}
        ]}),
    )
    .await;
    let r = json_req(
        "PUT",
        "/e2e-logs",
        &json!({"mappings": {"properties": {"response": {"type": "integer"}, "verb": {"type": "keyword"},
                                             "client_hash": {"type": "keyword"}, "@timestamp": {"type": "date"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let n = 200;
    let mut body = String::new();
    for i in 0..n {
        body.push_str("{\"index\":{}}\n");
        body.push_str(&json!({"message": access_log(i)}).to_string());
        body.push('\n');
    }
    let r = bulk("/e2e-logs/_bulk?refresh=true&pipeline=e2e-nginx", &body).await;
    let v = r.json();
    assert_eq!(v["errors"], false, "{}", &r.text[..r.text.len().min(2000)]);

    let r = json_req(
        "POST",
        "/e2e-logs/_search",
        &json!({"size": 1, "query": {"term": {"response": 404}},
                "aggs": {"by_status": {"terms": {"field": "response"}},
                         "clients": {"cardinality": {"field": "client_hash"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["hits"]["total"]["value"], n / 5, "{v}");
    let hit = &v["hits"]["hits"][0]["_source"];
    assert!(hit.get("clientip").is_none(), "{hit}");
    assert_eq!(hit["verb"], "GET");
    assert!(
        hit["@timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-07T10:"),
        "{hit}"
    );
    let buckets = v["aggregations"]["by_status"]["buckets"]
        .as_array()
        .unwrap();
    assert_eq!(buckets.len(), 1, "{v}");
    assert_eq!(buckets[0]["key"], 404);
    assert_eq!(v["aggregations"]["clients"]["value"], 4);

    let r = json_req(
        "POST",
        "/e2e-logs/_search",
        &json!({"size": 0, "aggs": {"by_status": {"terms": {"field": "response"}}}}),
    )
    .await;
    let v = r.json();
    let buckets = v["aggregations"]["by_status"]["buckets"]
        .as_array()
        .unwrap();
    let total: u64 = buckets
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, n as u64);
    assert_eq!(buckets[0]["key"], 200);
    assert_eq!(buckets[0]["doc_count"], 80);
}

/// The anonymisation guide of docs/pipelines.md: an nginx access log line through grok → date →
/// fingerprint of the client IP with a salt → redact of e-mail addresses → removal of the raw IP
/// (grok-processor.html, date-processor.html, fingerprint-processor.html, redact-processor.html,
/// remove-processor.html). Run with `--nocapture` to print the `_simulate` answer the guide shows.
#[tokio::test]
async fn anonymisation_guide_pipeline() {
    let def: Value =
        serde_json::from_str(include_str!("../../docs/pipelines-anonymise.json")).expect("JSON");
    put_pipeline("guide-anonymise", &def).await;
    let line = "203.0.113.42 - jane.doe@example.com [07/Dec/2026:10:15:32 +0000] \"GET /account?id=7 HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\"";
    let r = json_req(
        "POST",
        "/_ingest/pipeline/guide-anonymise/_simulate",
        &json!({"docs": [{"_index": "logs-nginx", "_id": "1", "_source": {"message": line}}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    println!("{}", serde_json::to_string_pretty(&v).unwrap());
    let src = &v["docs"][0]["doc"]["_source"];
    assert!(
        src.get("source").and_then(|s| s.get("ip")).is_none(),
        "{src}"
    );
    assert!(!src.to_string().contains("203.0.113.42"), "{src}");
    assert!(!src.to_string().contains("jane.doe@example.com"), "{src}");
    assert!(
        src["message"].as_str().unwrap().contains("<EMAIL>"),
        "{src}"
    );
    assert_eq!(src["@timestamp"], "2026-12-07T10:15:32.000Z", "{src}");
    assert!(src["source"]["ip_hash"].is_string(), "{src}");
    assert_eq!(src["user_agent"]["name"], "Firefox", "{src}");
    assert_eq!(src["user_agent"]["version"], "133.0", "{src}");
    assert_eq!(src["user_agent"]["os"]["name"], "Linux", "{src}");
}

/// The user_agent processor's documented example (user-agent-processor.html: Chrome 51 on Mac OS X
/// 10.10.5, device Mac, fields in `user_agent`), `properties`, `target_field`,
/// `extract_device_type`, `ignore_missing`, an unknown agent ("Other"), and its errors
/// (UserAgentProcessor).
#[tokio::test]
async fn user_agent_processor() {
    let agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.103 Safari/537.36";
    let out = simulate(
        json!([{"user_agent": {"field": "agent"}}]),
        json!({"agent": agent}),
    )
    .await;
    assert_eq!(
        out,
        json!({"agent": agent, "user_agent": {
            "name": "Chrome",
            "original": agent,
            "version": "51.0.2704.103",
            "os": {"name": "Mac OS X", "version": "10.10.5", "full": "Mac OS X 10.10.5"},
            "device": {"name": "Mac"}
        }})
    );
    let out = simulate(
        json!([{"user_agent": {"field": "agent", "target_field": "ua", "properties": ["name", "device"], "extract_device_type": true}}]),
        json!({"agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}),
    )
    .await;
    assert_eq!(
        out["ua"],
        json!({"name": "Mobile Safari", "device": {"name": "iPhone", "type": "Phone"}}),
        "{out}"
    );
    let out = simulate(
        json!([{"user_agent": {"field": "agent", "properties": ["name", "device", "os"], "extract_device_type": true}}]),
        json!({"agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}),
    )
    .await;
    assert_eq!(out["user_agent"]["name"], "Googlebot", "{out}");
    assert_eq!(out["user_agent"]["device"]["name"], "Spider", "{out}");
    assert_eq!(out["user_agent"]["device"]["type"], "Robot", "{out}");
    let out = simulate(
        json!([{"user_agent": {"field": "agent"}}]),
        json!({"agent": "not a browser"}),
    )
    .await;
    assert_eq!(out["user_agent"]["name"], "Other", "{out}");
    assert_eq!(out["user_agent"]["device"]["name"], "Other", "{out}");
    assert!(out["user_agent"].get("version").is_none(), "{out}");
    let out = simulate(
        json!([{"user_agent": {"field": "agent", "ignore_missing": true}}]),
        json!({"other": 1}),
    )
    .await;
    assert_eq!(out, json!({"other": 1}));
    let e = simulate_error(
        json!([{"user_agent": {"field": "agent"}}]),
        json!({"other": 1}),
    )
    .await;
    assert_eq!(e["type"], "illegal_argument_exception", "{e}");
    let r = json_req(
        "PUT",
        "/_ingest/pipeline/ua-bad",
        &json!({"processors": [{"user_agent": {"field": "a", "properties": ["bogus"]}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "parse_exception");
    assert_eq!(
        e["reason"],
        "[properties] illegal property value [bogus]. valid values are [NAME, OS, DEVICE, ORIGINAL, VERSION]"
    );
}

/// More processors from the reference: foreach over an array with `_ingest._value`, sort, bytes,
/// html_strip, the `pipeline` processor calling a stored pipeline, date_index_name, and a Painless
/// `script` (https://www.elastic.co/guide/en/elasticsearch/reference/current/foreach-processor.html,
/// sort-processor.html, bytes-processor.html, htmlstrip-processor.html, pipeline-processor.html,
/// date-index-name-processor.html, script-processor.html).
#[tokio::test]
async fn control_and_misc_processors() {
    let out = simulate(
        json!([{"foreach": {"field": "values", "processor": {"uppercase": {"field": "_ingest._value"}}}}]),
        json!({"values": ["foo", "bar", "baz"]}),
    )
    .await;
    assert_eq!(out["values"], json!(["FOO", "BAR", "BAZ"]));

    let out = simulate(
        json!([{"sort": {"field": "a", "order": "desc"}}, {"bytes": {"field": "s"}}, {"html_strip": {"field": "h"}}]),
        json!({"a": [3, 1, 2], "s": "1kb", "h": "<p>hello <b>world</b></p>"}),
    )
    .await;
    assert_eq!(out["a"], json!([3, 2, 1]));
    assert_eq!(out["s"], 1024);
    assert_eq!(out["h"], "\nhello world\n", "{out}");

    put_pipeline(
        "misc-inner",
        &json!({"processors": [{"set": {"field": "inner_field", "value": "inner"}}]}),
    )
    .await;
    let out = simulate(
        json!([{"pipeline": {"name": "misc-inner"}}, {"set": {"field": "outer_field", "value": "outer"}}]),
        json!({}),
    )
    .await;
    assert_eq!(out, json!({"inner_field": "inner", "outer_field": "outer"}));

    let r = json_req(
        "POST",
        "/_ingest/pipeline/_simulate",
        &json!({"pipeline": {"processors": [{"date_index_name": {"field": "date1", "index_name_prefix": "my-index-", "date_rounding": "M"}}]},
                "docs": [{"_source": {"date1": "2016-04-25T12:02:01.789Z"}}]}),
    )
    .await;
    let v = r.json();
    // Elasticsearch shows the date-math name `<my-index-{2016-04-25||/M{yyyy-MM-dd|UTC}}>` here and
    // resolves it when indexing; elastichouse resolves it in the processor (docs/pipelines.md).
    assert_eq!(v["docs"][0]["doc"]["_index"], "my-index-2016-04-01", "{v}");

    let out = simulate(
        json!([{"script": {"source": "ctx.total = ctx.a * params.f", "params": {"f": 10}}}]),
        json!({"a": 4}),
    )
    .await;
    assert_eq!(out["total"], 40, "{out}");
}

/// `index.default_pipeline` from a composable index template applies to the index the first write
/// creates (https://www.elastic.co/guide/en/elasticsearch/reference/current/ingest.html#set-default-pipeline).
#[tokio::test]
async fn default_pipeline_from_a_template() {
    put_pipeline(
        "tpl-pipe",
        &json!({"processors": [{"set": {"field": "via", "value": "template"}}]}),
    )
    .await;
    let r = json_req(
        "PUT",
        "/_index_template/tpl-pipe-t",
        &json!({"index_patterns": ["tplpipe-*"], "template": {"settings": {"index.default_pipeline": "tpl-pipe"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req("PUT", "/tplpipe-1/_doc/1?refresh=true", &json!({"x": 1})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        get("/tplpipe-1/_doc/1").await.json()["_source"],
        json!({"x": 1, "via": "template"})
    );
}

/// Not a test: ingest throughput through `_bulk` without a pipeline and with a 4-processor one
/// (grok, date, fingerprint, remove). Prints docs/s; run with
/// `cargo test --test it pipelines::throughput -- --ignored --nocapture` (ELASTICHOUSE_BENCH_DOCS).
#[tokio::test]
#[ignore]
async fn throughput_with_and_without_a_pipeline() {
    let n: usize = std::env::var("ELASTICHOUSE_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    put_pipeline(
        "bench-4",
        &json!({"processors": [
            {"grok": {"field": "message", "patterns": ["%{COMBINEDAPACHELOG}"]}},
            {"date": {"field": "timestamp", "formats": ["dd/MMM/yyyy:HH:mm:ss Z"]}},
            {"fingerprint": {"fields": ["clientip"], "target_field": "client_hash", "salt": "s"}},
            {"remove": {"field": ["clientip", "timestamp"]}}
        ]}),
    )
    .await;
    let mut body = String::new();
    for i in 0..n {
        body.push_str("{\"index\":{}}\n");
        body.push_str(&json!({"message": access_log(i)}).to_string());
        body.push('\n');
    }
    for (index, q) in [("bench-none", ""), ("bench-pipe", "?pipeline=bench-4")] {
        let r = json_req("PUT", &format!("/{index}"), &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let t = std::time::Instant::now();
        let r = bulk(&format!("/{index}/_bulk{q}"), &body).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.json()["errors"], false);
        println!(
            "{index}: {n} docs in {secs:.2}s = {:.0} docs/s",
            n as f64 / secs
        );
    }
}
