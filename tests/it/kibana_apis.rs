//! The APIs Kibana calls at start-up and for data views / Discover, answered locally by the daemon
//! exactly as Elasticsearch answers them, over HTTP against the real embedded ClickHouse engine.

use crate::common::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Start-up, health, licence
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn nodes_info_answers_kibanas_version_check() {
    // Kibana's pollEsNodesVersion (elastic/kibana src/core/packages/elasticsearch/server-internal/src/
    // version_check/ensure_es_version.ts) calls nodes.info with
    // filter_path=nodes.*.version,nodes.*.http.publish_address,nodes.*.ip and requires every node's
    // version to have Kibana's major and a minor ≥ Kibana's (es_kibana_version_compatability.ts).
    let r =
        get("/_nodes?filter_path=nodes.*.version,nodes.*.http.publish_address,nodes.*.ip").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let nodes = v["nodes"].as_object().unwrap();
    assert_eq!(nodes.len(), 1);
    let (id, node) = nodes.iter().next().unwrap();
    assert_eq!(id.len(), 22, "node ids are 22-character UUIDs");
    // Only the three filtered paths remain.
    assert_eq!(node.as_object().unwrap().len(), 3, "{node}");
    assert_eq!(node["version"], "8.17.0");
    assert_eq!(node["ip"], "127.0.0.1");
    let publish = format!("127.0.0.1:{}", daemon().es.port());
    assert_eq!(node["http"]["publish_address"], publish.as_str());
    assert_eq!(node["http"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn nodes_info_full_shape_and_metric_selection() {
    // NodesInfoResponse#toXContent under RestActions.NodesResponseRestListener: `_nodes` header,
    // cluster_name, nodes.{id}.{name, transport_address, host, ip, version, build_*, roles, …}.
    let v = get("/_nodes").await.json();
    assert_eq!(
        v["_nodes"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    assert_eq!(v["cluster_name"], "elastichouse");
    let node = v["nodes"].as_object().unwrap().values().next().unwrap();
    for key in [
        "name",
        "transport_address",
        "host",
        "ip",
        "version",
        "build_flavor",
        "build_type",
        "build_hash",
        "roles",
        "settings",
        "os",
        "process",
        "http",
        "plugins",
        "modules",
        "ingest",
    ] {
        assert!(node.get(key).is_some(), "missing {key} in {node}");
    }
    assert!(node["roles"].as_array().unwrap().contains(&json!("data")));
    // RestNodesInfoAction: `/_nodes/http` names metrics only, so it means all nodes, metric http.
    let v = get("/_nodes/http").await.json();
    let node = v["nodes"].as_object().unwrap().values().next().unwrap();
    assert!(node.get("http").is_some());
    assert!(
        node.get("os").is_none() && node.get("settings").is_none(),
        "{node}"
    );
    assert!(
        node.get("version").is_some(),
        "the node header is always there"
    );
    // `/_nodes/_local/os`: node id then metrics.
    let v = get("/_nodes/_local/os").await.json();
    let node = v["nodes"].as_object().unwrap().values().next().unwrap();
    assert!(
        node.get("os").is_some() && node.get("http").is_none(),
        "{node}"
    );
    // An id that is no node selects nothing.
    let v = get("/_nodes/no-such-node").await.json();
    assert_eq!(v["_nodes"]["total"], 0);
    assert_eq!(v["nodes"], json!({}));
    // RestNodesInfoAction's fourth route: /_nodes/{nodeId}/info/{metrics}.
    let v = get("/_nodes/_all/info/http").await.json();
    let node = v["nodes"].as_object().unwrap().values().next().unwrap();
    assert!(
        node.get("http").is_some() && node.get("os").is_none(),
        "{node}"
    );
    // Node usage and hot threads share the path shape but are other APIs, passed to
    // Elasticsearch when one is configured (tests/it/proxy.rs); without one, a clear 400 naming the
    // API, not node info. (Node stats are answered here: tests/it/api_basics.rs.)
    for path in [
        "/_nodes/usage",
        "/_nodes/_local/usage",
        "/_nodes/hot_threads",
    ] {
        let r = get(path).await;
        let e = assert_es_error(&r, 400, "illegal_argument_exception");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("does not implement [GET {path}]"))
                && reason.contains("no elasticsearch_url is configured"),
            "{path}: {e}"
        );
    }
    // BaseRestHandler#unrecognized: unknown URL parameters are rejected.
    let r = get("/_nodes?bogus=1").await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

#[tokio::test]
async fn cluster_health_green_with_indices_and_shards_levels() {
    // ClusterHealthResponse#toXContent (elastic/elasticsearch server/.../cluster/health/
    // ClusterHealthResponse.java): one primary shard per index, no replicas → green.
    let r = json_req("PUT", "/kapi-health-a", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get("/_cluster/health").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["status"], "green");
    assert_eq!(v["timed_out"], false);
    assert_eq!(v["number_of_nodes"], 1);
    assert_eq!(v["active_shards_percent_as_number"], 100.0);
    assert_eq!(v["active_primary_shards"], v["active_shards"]);
    assert!(v.get("indices").is_none(), "level=cluster has no indices");
    let v = get("/_cluster/health/kapi-health-a?level=shards")
        .await
        .json();
    assert_eq!(v["active_primary_shards"], 1);
    let i = &v["indices"]["kapi-health-a"];
    assert_eq!(i["status"], "green");
    assert_eq!(i["number_of_shards"], 1);
    assert_eq!(i["number_of_replicas"], 0);
    assert_eq!(i["shards"]["0"]["primary_active"], true);
    let v =
        get("/_cluster/health/kapi-health-a?level=indices&wait_for_status=yellow&timeout=5s").await;
    assert_eq!(v.status, 200);
    assert!(v.json()["indices"]["kapi-health-a"].get("shards").is_none());
    let r = get("/_cluster/health?level=nodes").await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    // wait_for_nodes / wait_for_active_shards are evaluated against the one node and its shards
    // (TransportClusterHealthAction#prepareResponse): satisfied at once, or a timeout.
    let r = get("/_cluster/health?wait_for_nodes=>=1&wait_for_active_shards=1&timeout=5s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["timed_out"], false);
    let r = get("/_cluster/health?wait_for_nodes=ge(2)&timeout=0s").await;
    assert_eq!(r.status, 408, "{}", r.text);
    assert_eq!(r.json()["status"], "green", "the status itself stays green");
    let r = get("/_cluster/health?wait_for_nodes=many").await;
    assert_es_error(&r, 400, "number_format_exception");
}

#[tokio::test]
async fn cluster_health_of_a_missing_index_is_red_and_times_out_with_408() {
    // TransportClusterHealthAction: named indices must exist ("waitCount++"); a missing one makes the
    // status red and the request waits until `timeout`, then answers timed_out=true with 408
    // (ClusterHealthResponse#status) unless return_200_for_cluster_health_timeout.
    let started = std::time::Instant::now();
    let r = get("/_cluster/health/kapi-no-such-index?timeout=1s").await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(r.status, 408, "{}", r.text);
    let v = r.json();
    assert_eq!(v["status"], "red");
    assert_eq!(v["timed_out"], true);
    let r = get(
        "/_cluster/health/kapi-no-such-index?timeout=0s&return_200_for_cluster_health_timeout=true",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "red");
}

#[tokio::test]
async fn cluster_settings_with_defaults_flat_and_nested() {
    // RestClusterGetSettingsAction: persistent and transient always; defaults with include_defaults;
    // flat_settings renders dotted keys. script.allowed_types defaults to [] (all types allowed,
    // ScriptService.TYPES_ALLOWED_SETTING).
    let v = get("/_cluster/settings").await.json();
    assert_eq!(v, json!({"persistent": {}, "transient": {}}));
    let v = get("/_cluster/settings?include_defaults=true&flat_settings=true")
        .await
        .json();
    assert_eq!(v["defaults"]["script.allowed_types"], json!([]));
    assert_eq!(v["defaults"]["search.allow_expensive_queries"], "true");
    let v = get("/_cluster/settings?include_defaults").await.json();
    assert_eq!(v["defaults"]["script"]["allowed_types"], json!([]));
    // The form Kibana's scripting check uses: response filtering down to the one setting.
    let f = get("/_cluster/settings?include_defaults=true&filter_path=**.script.allowed_types")
        .await
        .json();
    assert_eq!(f, json!({"defaults": {"script": {"allowed_types": []}}}));
    assert_eq!(v["defaults"]["cluster"]["name"], "elastichouse");
}

#[tokio::test]
async fn xpack_info_and_license_are_a_basic_active_licence() {
    // XPackInfoResponse#toXContent (x-pack/plugin/core/.../protocol/xpack/XPackInfoResponse.java):
    // build, license {uid,type,mode,status} (no expiry for the self-generated basic licence),
    // features sorted by name with available/enabled, and the tagline. Kibana's licensing plugin
    // reads license.type/status and features.security.enabled.
    let v = get("/_xpack?accept_enterprise=true").await.json();
    assert_eq!(v["license"]["type"], "basic");
    assert_eq!(v["license"]["mode"], "basic");
    assert_eq!(v["license"]["status"], "active");
    assert!(v["license"].get("expiry_date_in_millis").is_none());
    assert_eq!(
        v["features"]["security"],
        json!({"available": true, "enabled": false})
    );
    let names: Vec<&String> = v["features"].as_object().unwrap().keys().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(v["tagline"], "You know, for X");
    let v = get("/_xpack?categories=license").await.json();
    assert!(v.get("features").is_none() && v.get("build").is_none());
    assert!(v.get("license").is_some());
    let r = get("/_xpack?categories=nope").await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    // License#toInnerXContent in REST view mode: status first, no signature, no expiry for basic.
    let v = get("/_license").await.json();
    let l = &v["license"];
    assert_eq!(l["status"], "active");
    assert_eq!(l["type"], "basic");
    assert_eq!(l["issuer"], "elasticsearch");
    assert_eq!(l["max_nodes"], 1000);
    assert!(l.get("signature").is_none() && l.get("expiry_date_in_millis").is_none());
    assert_eq!(l["uid"], get("/_xpack").await.json()["license"]["uid"]);
    assert!(get("/_xpack/usage").await.json()["security"]["enabled"] == json!(false));
}

#[tokio::test]
async fn security_apis_answer_as_a_cluster_with_security_disabled() {
    // A basic-licence cluster with xpack.security.enabled=false answers its security APIs with this
    // 500 (x-pack SecurityActionFilter).
    let r = get("/_security/_authenticate").await;
    let e = assert_es_error(&r, 500, "exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("Security must be explicitly enabled when using a [basic] license.")
    );
}

#[allow(dead_code)]
fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    &v["fields"][name]
}

// ---------------------------------------------------------------------------------------------
// _field_caps
// ---------------------------------------------------------------------------------------------

/// Two indices whose mappings overlap and conflict: `bytes` is long in one and keyword in the
/// other, `status` has doc values only in the first, `only_b` exists only in the second.
async fn field_caps_fixture() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let a = json!({"mappings": {"properties": {
            "@timestamp": {"type": "date"},
            "msg": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "bytes": {"type": "long", "meta": {"unit": "byte"}},
            "status": {"type": "keyword"},
            "never_set": {"type": "keyword"},
            "host": {"properties": {"name": {"type": "keyword"}}},
            "tags": {"type": "nested", "properties": {"name": {"type": "keyword"}}},
            "wild": {"type": "wildcard"}
        }}});
        let b = json!({"mappings": {"properties": {
            "@timestamp": {"type": "date"},
            "bytes": {"type": "keyword"},
            "status": {"type": "keyword", "doc_values": false},
            "only_b": {"type": "long"}
        }}});
        for (name, m) in [("kapi-fc-a", a), ("kapi-fc-b", b)] {
            let r = json_req("PUT", &format!("/{name}"), &m).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let nd = concat!(
            "{\"index\":{\"_index\":\"kapi-fc-a\",\"_id\":\"1\"}}\n",
            "{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"msg\":\"hello\",\"bytes\":1,\"status\":\"ok\",\"host\":{\"name\":\"h1\"},\"tags\":[{\"name\":\"t\"}],\"wild\":\"w\"}\n",
            "{\"index\":{\"_index\":\"kapi-fc-b\",\"_id\":\"1\"}}\n",
            "{\"@timestamp\":\"2025-06-01T00:00:00Z\",\"bytes\":\"many\",\"status\":\"ok\",\"only_b\":5}\n",
        );
        let r = bulk("/_bulk?refresh=true", nd).await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn field_caps_types_multifields_objects_and_conflicts() {
    // FieldCapabilitiesFetcher#retrieveFieldCaps + FieldCapabilities.Builder#build
    // (elastic/elasticsearch server/.../action/fieldcaps/): a text field with a keyword multi-field,
    // parent objects as `object`/`nested` (not searchable, not aggregatable), the type family
    // (wildcard → keyword), `indices` per type only when a field has several types,
    // non_aggregatable_indices only when mixed, meta merged into arrays.
    field_caps_fixture().await;
    let r = get("/kapi-fc-*/_field_caps?fields=*").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["indices"], json!(["kapi-fc-a", "kapi-fc-b"]));
    let f = &v["fields"];
    assert_eq!(
        f["msg"],
        json!({"text": {"type": "text", "metadata_field": false, "searchable": true, "aggregatable": false}})
    );
    assert_eq!(
        f["msg.keyword"]["keyword"],
        json!({"type": "keyword", "metadata_field": false, "searchable": true, "aggregatable": true})
    );
    assert_eq!(
        f["host"],
        json!({"object": {"type": "object", "metadata_field": false, "searchable": false, "aggregatable": false}})
    );
    assert_eq!(f["tags"]["nested"]["type"], "nested");
    assert_eq!(f["tags.name"]["keyword"]["aggregatable"], true);
    assert_eq!(
        f["wild"]["keyword"]["type"], "keyword",
        "wildcard's family is keyword"
    );
    // Conflict: one entry per type, each with its indices.
    assert_eq!(
        f["bytes"],
        json!({
            "long": {"type": "long", "metadata_field": false, "searchable": true, "aggregatable": true,
                     "indices": ["kapi-fc-a"], "meta": {"unit": ["byte"]}},
            "keyword": {"type": "keyword", "metadata_field": false, "searchable": true, "aggregatable": true,
                        "indices": ["kapi-fc-b"]}
        })
    );
    // Same type, aggregatable in one index only.
    assert_eq!(
        f["status"],
        json!({"keyword": {"type": "keyword", "metadata_field": false, "searchable": true, "aggregatable": false,
                           "non_aggregatable_indices": ["kapi-fc-b"]}})
    );
    // Without include_unmapped a field of one index is reported as is.
    assert_eq!(f["only_b"]["long"]["searchable"], true);
    assert!(f["only_b"]["long"].get("indices").is_none());
    // Metadata fields.
    assert_eq!(
        f["_id"],
        json!({"_id": {"type": "_id", "metadata_field": true, "searchable": true, "aggregatable": false}})
    );
    assert_eq!(f["_index"]["_index"]["aggregatable"], true);
    assert_eq!(f["_source"]["_source"]["searchable"], false);
}

#[tokio::test]
async fn field_caps_include_unmapped_filters_types_and_patterns() {
    field_caps_fixture().await;
    // TransportFieldCapabilitiesAction#addUnmappedFields: the indices lacking the field get type
    // `unmapped` (not searchable, not aggregatable), and every type then lists its indices.
    let v = get("/kapi-fc-a,kapi-fc-b/_field_caps?fields=only_b,msg&include_unmapped=true")
        .await
        .json();
    assert_eq!(
        v["fields"]["only_b"],
        json!({
            "long": {"type": "long", "metadata_field": false, "searchable": true, "aggregatable": true, "indices": ["kapi-fc-b"]},
            "unmapped": {"type": "unmapped", "metadata_field": false, "searchable": false, "aggregatable": false, "indices": ["kapi-fc-a"]}
        })
    );
    assert_eq!(
        v["fields"]["msg"]["unmapped"]["indices"],
        json!(["kapi-fc-b"])
    );
    // Patterns: wildcards and exclusions.
    let v = get("/kapi-fc-a/_field_caps?fields=msg*,-msg.keyword")
        .await
        .json();
    let names: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, vec!["msg"]);
    // filters: -metadata drops _id & co; +metadata keeps only them; -multifield; -parent; -nested.
    let v = get("/kapi-fc-a/_field_caps?fields=*&filters=-metadata,-multifield,-parent")
        .await
        .json();
    let f = v["fields"].as_object().unwrap();
    assert!(!f.keys().any(|k| k.starts_with('_')), "{f:?}");
    assert!(f.get("msg.keyword").is_none() && f.get("host").is_none() && f.get("tags").is_none());
    assert!(f.contains_key("host.name") && f.contains_key("tags.name"));
    let v = get("/kapi-fc-a/_field_caps?fields=*&filters=%2Bmetadata")
        .await
        .json();
    assert!(
        v["fields"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k.starts_with('_'))
    );
    let v = get("/kapi-fc-a/_field_caps?fields=*&filters=-nested")
        .await
        .json();
    assert!(v["fields"].get("tags.name").is_none() && v["fields"].get("tags").is_none());
    // types: only fields of those type families (parents of matched fields still listed).
    let v = get("/kapi-fc-a/_field_caps?fields=*&types=keyword")
        .await
        .json();
    let f = v["fields"].as_object().unwrap();
    assert!(f.contains_key("status") && f.contains_key("wild") && f.contains_key("host"));
    assert!(!f.contains_key("bytes") && !f.contains_key("msg") && !f.contains_key("_id"));
    let r = get("/kapi-fc-a/_field_caps?fields=*&filters=bogus").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "Unknown field caps filter [bogus]");
}

#[tokio::test]
async fn field_caps_body_index_filter_runtime_mappings_and_empty_fields() {
    field_caps_fixture().await;
    // POST body with fields, index_filter (indices whose documents cannot match are dropped) and
    // runtime_mappings (reported like mapped fields, searchable and aggregatable), as Kibana's
    // data views send it (elastic/kibana src/plugins/data_views/server/fetcher/lib/es_api.ts).
    let body = json!({
        "fields": ["*"],
        "index_filter": {"range": {"@timestamp": {"gte": "2025-01-01T00:00:00Z"}}},
        "runtime_mappings": {"rt_len": {"type": "long", "script": {"source": "emit(1)"}}}
    });
    let r = json_req("POST", "/kapi-fc-*/_field_caps", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["indices"], json!(["kapi-fc-b"]));
    assert!(
        v["fields"].get("msg").is_none(),
        "fields of dropped indices are gone"
    );
    assert_eq!(
        v["fields"]["rt_len"],
        json!({"long": {"type": "long", "metadata_field": false, "searchable": true, "aggregatable": true}})
    );
    // include_empty_fields=false: mapped fields without any value are left out.
    let v = get("/kapi-fc-a/_field_caps?fields=*&include_empty_fields=false")
        .await
        .json();
    assert!(v["fields"].get("never_set").is_none());
    assert!(v["fields"].get("status").is_some() && v["fields"].get("msg.keyword").is_some());
    let v = get("/kapi-fc-a/_field_caps?fields=never_set").await.json();
    assert_eq!(v["fields"]["never_set"]["keyword"]["searchable"], true);
    // URL fields with a body that has no fields (Kibana's form); both at once is an error
    // (RestFieldCapabilitiesAction#prepareRequest).
    let r = json_req(
        "POST",
        "/kapi-fc-a/_field_caps?fields=msg",
        &json!({"index_filter": {"match_all": {}}}),
    )
    .await;
    assert_eq!(
        r.json()["fields"].as_object().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let r = json_req(
        "POST",
        "/kapi-fc-a/_field_caps?fields=msg",
        &json!({"fields": ["msg"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("can't specify a request body and [fields] request parameter")
    );
    // fields is required (FieldCapabilitiesRequest#validate).
    let r = get("/kapi-fc-a/_field_caps").await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: specified fields can't be null or empty;"
    );
    // Index options: a missing concrete index is an error unless ignore_unavailable.
    let r = get("/kapi-fc-a,kapi-fc-missing/_field_caps?fields=*").await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let v = get("/kapi-fc-a,kapi-fc-missing/_field_caps?fields=msg&ignore_unavailable=true")
        .await
        .json();
    assert_eq!(v["indices"], json!(["kapi-fc-a"]));
    let v = get("/kapi-fc-nomatch-*/_field_caps?fields=*").await.json();
    assert_eq!(v, json!({"indices": [], "fields": {}}));
    let r = get("/kapi-fc-nomatch-*/_field_caps?fields=*&allow_no_indices=false").await;
    assert_es_error(&r, 404, "index_not_found_exception");
}

// ---------------------------------------------------------------------------------------------
// _terms_enum
// ---------------------------------------------------------------------------------------------

async fn terms_fixture() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let m = json!({"mappings": {"properties": {
            "@timestamp": {"type": "date"},
            "host": {"type": "keyword"},
            "tags": {"type": "keyword"},
            "short": {"type": "keyword", "ignore_above": 5},
            "n": {"type": "long"},
            "env": {"type": "constant_keyword", "value": "prod"}
        }}});
        let r = json_req("PUT", "/kapi-te-1", &m).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut m2 = m.clone();
        m2["mappings"]["properties"]["env"]["value"] = json!("dev");
        let r = json_req("PUT", "/kapi-te-2", &m2).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut nd = String::new();
        let hosts1 = ["alpha", "Alpine", "beta", "gamma", "alpha"];
        for (i, h) in hosts1.iter().enumerate() {
            nd.push_str(&format!("{{\"index\":{{\"_index\":\"kapi-te-1\",\"_id\":\"{i}\"}}}}\n"));
            nd.push_str(&json!({"@timestamp": "2024-01-01T00:00:00Z", "host": h, "tags": ["t1", "x2"], "short": if i == 0 { "toolongvalue" } else { "ok" }, "n": i}).to_string());
            nd.push('\n');
        }
        for (i, h) in ["alps", "delta"].iter().enumerate() {
            nd.push_str(&format!("{{\"index\":{{\"_index\":\"kapi-te-2\",\"_id\":\"{i}\"}}}}\n"));
            nd.push_str(&json!({"@timestamp": "2025-01-01T00:00:00Z", "host": h, "tags": "t9"}).to_string());
            nd.push('\n');
        }
        let r = bulk("/_bulk?refresh=true", &nd).await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    })
    .await;
}

async fn terms(index: &str, body: Value) -> Value {
    let r = json_req("POST", &format!("/{index}/_terms_enum"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn terms_enum_prefix_merge_sort_and_size() {
    // TermsEnumResponse (x-pack/plugin/core/.../termsenum/action/TermsEnumResponse.java): `_shards`,
    // `terms` (merged across shards, deduplicated, in term byte order, at most `size`) and
    // `complete`. Byte order puts upper case before lower case.
    terms_fixture().await;
    let mut all: Vec<&str> = vec!["alpha", "Alpine", "beta", "gamma", "alps", "delta"];
    all.sort();
    all.dedup();
    let v = terms("kapi-te-*", json!({"field": "host"})).await;
    assert_eq!(
        v["_shards"],
        json!({"total": 2, "successful": 2, "failed": 0})
    );
    assert_eq!(v["complete"], true);
    assert_eq!(v["terms"], json!(all));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["_shards", "terms", "complete"]);
    // Prefix (case sensitive by default), across both indices.
    let v = terms("kapi-te-*", json!({"field": "host", "string": "al"})).await;
    assert_eq!(v["terms"], json!(["alpha", "alps"]));
    let v = terms(
        "kapi-te-*",
        json!({"field": "host", "string": "al", "case_insensitive": true}),
    )
    .await;
    assert_eq!(v["terms"], json!(["Alpine", "alpha", "alps"]));
    // size and search_after (pagination after the last term seen).
    let v = terms("kapi-te-*", json!({"field": "host", "size": 2})).await;
    assert_eq!(v["terms"], json!(all[..2]));
    let v = terms(
        "kapi-te-*",
        json!({"field": "host", "size": 2, "search_after": all[1]}),
    )
    .await;
    assert_eq!(v["terms"], json!(all[2..4]));
    // Array values each count; ignore_above values were never indexed.
    let v = terms("kapi-te-*", json!({"field": "tags"})).await;
    assert_eq!(v["terms"], json!(["t1", "t9", "x2"]));
    let v = terms("kapi-te-1", json!({"field": "short"})).await;
    assert_eq!(v["terms"], json!(["ok"]));
}

#[tokio::test]
async fn terms_enum_index_filter_types_and_validation() {
    terms_fixture().await;
    // index_filter skips the indices that cannot match (TermsEnumRequest#indexFilter).
    let v = terms(
        "kapi-te-*",
        json!({"field": "host", "index_filter": {"range": {"@timestamp": {"gte": "2025-01-01"}}}}),
    )
    .await;
    assert_eq!(v["terms"], json!(["alps", "delta"]));
    // constant_keyword gives its value; numeric and unmapped fields give no terms.
    let v = terms("kapi-te-*", json!({"field": "env"})).await;
    assert_eq!(v["terms"], json!(["dev", "prod"]));
    let v = terms("kapi-te-*", json!({"field": "env", "string": "p"})).await;
    assert_eq!(v["terms"], json!(["prod"]));
    let v = terms("kapi-te-*", json!({"field": "n"})).await;
    assert_eq!(v["terms"], json!([]));
    // A dynamic string's keyword multi-field (shares the text field's column).
    async_fixture().await;
    let v = terms("kapi-async", json!({"field": "kind.keyword"})).await;
    assert_eq!(v["terms"], json!(["even", "odd"]));
    let v = terms("kapi-async", json!({"field": "kind"})).await;
    assert_eq!(v["terms"], json!([]), "text fields have no terms enum");
    let v = terms("kapi-te-*", json!({"field": "nope"})).await;
    assert_eq!(v["terms"], json!([]));
    assert_eq!(v["complete"], true);
    // TermsEnumRequest#validate.
    let r = json_req("POST", "/kapi-te-1/_terms_enum", &json!({"string": "a"})).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(e["reason"], "Validation Failed: 1: field cannot be null;");
    let r = json_req(
        "POST",
        "/kapi-te-1/_terms_enum",
        &json!({"field": "host", "timeout": "2m"}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: Timeout cannot be > 1 minute;"
    );
    let r = json_req(
        "POST",
        "/kapi-te-1/_terms_enum",
        &json!({"field": "host", "bogus": 1}),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    let r = json_req(
        "POST",
        "/kapi-te-missing/_terms_enum",
        &json!({"field": "host"}),
    )
    .await;
    assert_es_error(&r, 404, "index_not_found_exception");
}

// ---------------------------------------------------------------------------------------------
// _async_search
// ---------------------------------------------------------------------------------------------

async fn async_fixture() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let mut nd = String::new();
        for i in 0..20 {
            nd.push_str(&format!(
                "{{\"index\":{{\"_index\":\"kapi-async\",\"_id\":\"{i}\"}}}}\n"
            ));
            nd.push_str(
                &json!({"n": i, "kind": if i % 2 == 0 { "even" } else { "odd" }}).to_string(),
            );
            nd.push('\n');
        }
        let r = bulk("/_bulk?refresh=true", &nd).await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    })
    .await;
}

/// The parameters Kibana's search strategy sends with every submit (elastic/kibana
/// src/platform/plugins/shared/data/server/search/strategies/ese_search/request_utils.ts).
const KIBANA_SUBMIT: &str = "batched_reduce_size=64&max_concurrent_shard_requests=5&ccs_minimize_roundtrips=true&keep_alive=60000ms&ignore_unavailable=true&preference=1700000000000&track_total_hits=true&rest_total_hits_as_int=true";

#[tokio::test]
async fn async_search_completed_within_the_wait_is_returned_without_id() {
    // AsyncSearchResponse#toXContent (x-pack/plugin/core/.../search/action/AsyncSearchResponse.java):
    // a search that completes within wait_for_completion_timeout and is not kept has no `id`.
    async_fixture().await;
    let body = json!({"query": {"term": {"kind.keyword": "even"}}, "size": 3, "sort": [{"n": "asc"}],
                      "aggs": {"s": {"sum": {"field": "n"}}}});
    let before = chrono::Utc::now().timestamp_millis();
    let r = json_req("POST", &format!("/kapi-async/_async_search?wait_for_completion_timeout=30s&keep_on_completion=false&{KIBANA_SUBMIT}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert!(v.get("id").is_none(), "{v}");
    assert_eq!(v["is_running"], false);
    assert_eq!(v["is_partial"], false);
    let start = v["start_time_in_millis"].as_i64().unwrap();
    assert!(start >= before);
    // keep_alive=60000ms sets the expiration.
    assert_eq!(
        v["expiration_time_in_millis"].as_i64().unwrap(),
        start + 60_000
    );
    assert!(v["completion_time_in_millis"].as_i64().unwrap() >= start);
    // The response is the search response itself (rest_total_hits_as_int: a number).
    let resp = &v["response"];
    assert_eq!(resp["hits"]["total"], 10);
    assert_eq!(ids(resp), vec!["0", "2", "4"]);
    let expected_sum: i64 = (0..20).filter(|i| i % 2 == 0).sum();
    assert_eq!(resp["aggregations"]["s"]["value"], expected_sum as f64);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec![
            "is_partial",
            "is_running",
            "start_time_in_millis",
            "expiration_time_in_millis",
            "completion_time_in_millis",
            "response"
        ]
    );
}

#[tokio::test]
async fn async_search_kept_get_status_delete_and_404() {
    // keep_on_completion stores the result; GET returns it with its id, status reports
    // completion_status (AsyncStatusResponse), DELETE acknowledges and later GETs are a 404
    // resource_not_found_exception whose reason is the id (TransportGetAsyncResultAction).
    async_fixture().await;
    let body = json!({"query": {"range": {"n": {"gte": 15}}}, "size": 10, "sort": ["n"]});
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?keep_on_completion=true&wait_for_completion_timeout=30s",
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let id = v["id"]
        .as_str()
        .expect("kept searches have an id")
        .to_string();
    assert_eq!(v["is_running"], false);
    // Default keep_alive is 5 days.
    let start = v["start_time_in_millis"].as_i64().unwrap();
    assert_eq!(
        v["expiration_time_in_millis"].as_i64().unwrap(),
        start + 5 * 86_400_000
    );
    let got = get(&format!("/_async_search/{id}")).await.json();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(ids(&got["response"]), vec!["15", "16", "17", "18", "19"]);
    assert_eq!(
        got["response"]["hits"]["total"],
        json!({"value": 5, "relation": "eq"})
    );
    // keep_alive on GET moves the expiration.
    let got = get(&format!("/_async_search/{id}?keep_alive=2m"))
        .await
        .json();
    let exp = got["expiration_time_in_millis"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        exp > now + 100_000 && exp <= now + 120_000,
        "{exp} vs {now}"
    );
    let st = get(&format!("/_async_search/status/{id}")).await.json();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["is_running"], false);
    assert_eq!(st["is_partial"], false);
    assert_eq!(st["completion_status"], 200);
    assert_eq!(st["_shards"]["total"], 1);
    // Every ClickHouse statement of the search carries the search's tag at the end of its query_id
    // (what DELETE kills on a ClickHouse server): the id's 16 random bytes after the "EHas" marker,
    // in hex. The debug UI's SQL log shows the query ids.
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&id)
        .unwrap();
    assert_eq!(&raw[..4], b"EHas");
    let tag: String = raw[4..].iter().map(|b| format!("{b:02x}")).collect();
    let sql_page = ui_get("/sql").await.text;
    assert!(
        sql_page.contains(&format!("-{tag}")),
        "no query id ends with the tag {tag}"
    );
    let d = req("DELETE", &format!("/_async_search/{id}"), None).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.json(), json!({"acknowledged": true}));
    for path in [
        format!("/_async_search/{id}"),
        format!("/_async_search/status/{id}"),
    ] {
        let r = get(&path).await;
        let e = assert_es_error(&r, 404, "resource_not_found_exception");
        assert_eq!(e["reason"], id.as_str());
    }
    let r = req("DELETE", &format!("/_async_search/{id}"), None).await;
    assert_es_error(&r, 404, "resource_not_found_exception");
    // A malformed id (AsyncExecutionId#decode).
    let r = get("/_async_search/not-an-id").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "invalid id: [not-an-id]");
}

#[tokio::test]
async fn async_search_running_then_polled_and_cancelled() {
    // wait_for_completion_timeout=0: the submit returns at once with the search still running, an id
    // and a partial response; polling with a wait gets the final result. DELETE of a running search
    // cancels it.
    async_fixture().await;
    let body = json!({"query": {"match_all": {}}, "size": 1, "sort": [{"n": "desc"}]});
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?wait_for_completion_timeout=0ms",
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let id = v["id"]
        .as_str()
        .expect("running searches have an id")
        .to_string();
    assert_eq!(v["is_running"], true);
    assert_eq!(v["is_partial"], true);
    assert!(v.get("completion_time_in_millis").is_none());
    assert_eq!(v["response"]["_shards"]["total"], 1);
    assert_eq!(v["response"]["hits"]["hits"], json!([]));
    let got = get(&format!(
        "/_async_search/{id}?wait_for_completion_timeout=30s"
    ))
    .await
    .json();
    assert_eq!(got["is_running"], false);
    assert_eq!(ids(&got["response"]), vec!["19"]);
    // Cancel a running one.
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?wait_for_completion_timeout=0ms",
        &body,
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let d = req("DELETE", &format!("/_async_search/{id}"), None).await;
    assert_eq!(d.json(), json!({"acknowledged": true}));
    assert_es_error(
        &get(&format!("/_async_search/{id}")).await,
        404,
        "resource_not_found_exception",
    );
}

#[tokio::test]
async fn async_search_errors_and_validation() {
    // A failed search: the error in the async response, with the error's status
    // (AsyncSearchResponse#status).
    async_fixture().await;
    let r = json_req("POST", "/kapi-async-missing/_async_search", &json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let v = r.json();
    assert_eq!(v["is_running"], false);
    assert_eq!(v["error"]["type"], "index_not_found_exception");
    assert!(v.get("response").is_none());
    // SubmitAsyncSearchRequest#validate: no scroll, keep_alive at least 1s.
    let r = json_req("POST", "/kapi-async/_async_search?scroll=1m", &json!({})).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("[scroll] not allowed"),
        "{e}"
    );
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?keep_alive=500ms",
        &json!({}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("[keep_alive] must be greater or equal than 1 second"),
        "{e}"
    );
    // Body errors are the search's own, before anything runs.
    let r = json_req(
        "POST",
        "/kapi-async/_async_search",
        &json!({"query": {"nope": {}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // /_async_search over every index.
    let r = json_req(
        "POST",
        "/_async_search?wait_for_completion_timeout=30s",
        &json!({"size": 0, "query": {"term": {"kind.keyword": "odd"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json()["response"]["hits"]["total"]["value"]
            .as_u64()
            .unwrap()
            >= 10
    );
}

#[tokio::test]
async fn field_caps_and_terms_enum_on_a_table_elastichouse_did_not_create() {
    // Existing ClickHouse tables are served as indices with a mapping derived from their columns
    // (docs/schema.md); data views and autocomplete work on them like on any index.
    clickhouse_sql(
        "CREATE TABLE IF NOT EXISTS kapi_ext (ts DateTime64(3), host LowCardinality(String), \
         bytes UInt32, tags Array(String), `geo.country` String, empty Nullable(String)) \
         ENGINE = MergeTree ORDER BY ts",
    )
    .await;
    clickhouse_sql("TRUNCATE TABLE kapi_ext").await;
    clickhouse_sql(
        "INSERT INTO kapi_ext VALUES ('2024-01-01 00:00:00','web-2',10,['b','a'],'DE',NULL), \
         ('2024-01-02 00:00:00','web-1',20,[],'FR',NULL)",
    )
    .await;
    let v = get("/kapi_ext/_field_caps?fields=*&filters=-metadata&include_empty_fields=false")
        .await
        .json();
    let f = &v["fields"];
    assert_eq!(f["ts"]["date"]["aggregatable"], true);
    assert_eq!(f["host"]["keyword"]["searchable"], true);
    assert_eq!(f["bytes"]["long"]["aggregatable"], true);
    assert_eq!(f["tags"]["keyword"]["type"], "keyword");
    assert_eq!(f["geo"]["object"]["searchable"], false);
    assert_eq!(f["geo.country"]["keyword"]["aggregatable"], true);
    assert!(f.get("empty").is_none(), "only NULLs: no value");
    let v = terms("kapi_ext", json!({"field": "tags"})).await;
    assert_eq!(v["terms"], json!(["a", "b"]));
    let v = terms("kapi_ext", json!({"field": "host", "string": "web-"})).await;
    assert_eq!(v["terms"], json!(["web-1", "web-2"]));
}

#[tokio::test]
async fn async_search_ids_work_on_another_daemon_of_the_same_clickhouse() {
    // DESIGN "stateless daemons": a second daemon on the same ClickHouse answers GET, status and
    // DELETE for ids the first handed out (their state is kept in ClickHouse), and waits for a
    // search the first is still running.
    async_fixture().await;
    let d = daemon();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), None);
    cfg.clickhouse_url = Some(d.clickhouse.clone());
    cfg.clickhouse_database = d.database.clone();
    let second = elastichouse::server::start(cfg)
        .await
        .expect("second daemon");
    let on_b = |path: &str| format!("http://{}{}", second.es_addr, path);
    let body = json!({"query": {"range": {"n": {"lt": 3}}}, "sort": ["n"]});
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?keep_on_completion=true&wait_for_completion_timeout=30s",
        &body,
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let got: Value = client()
        .get(on_b(&format!("/_async_search/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["is_running"], false);
    assert_eq!(ids(&got["response"]), vec!["0", "1", "2"]);
    let st: Value = client()
        .get(on_b(&format!("/_async_search/status/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["completion_status"], 200);
    let del = client()
        .delete(on_b(&format!("/_async_search/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let gone = client()
        .get(on_b(&format!("/_async_search/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    // Running on the first daemon, awaited on the second.
    let r = json_req(
        "POST",
        "/kapi-async/_async_search?wait_for_completion_timeout=0ms",
        &body,
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let got: Value = client()
        .get(on_b(&format!(
            "/_async_search/{id}?wait_for_completion_timeout=30s"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["is_running"], false, "{got}");
    assert_eq!(ids(&got["response"]), vec!["0", "1", "2"]);
    // An id nobody handed out is unknown everywhere.
    let unknown = "RUhhcwAAAAAAAAAAAAAAAAAAAAA";
    let r = client()
        .get(on_b(&format!("/_async_search/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    second.stop().await;
}
