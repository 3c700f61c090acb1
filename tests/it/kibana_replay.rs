//! Replays every request in `kibana-fixtures/` (requests as Kibana 8.x/9.x builds them; each fixture
//! names the Kibana source file it is modelled on) against the daemon on generated data shaped like
//! Kibana's sample data sets, and checks the whole answer: Elasticsearch's response structure and
//! values computed here, independently, from the generated documents.
//!
//! One test per Kibana app; a test collects every failing fixture of its app before failing, so one
//! run shows all of them. `every_fixture_is_checked` makes sure no fixture is replayed without a
//! check of its own.

use crate::common::*;
use crate::kibana;
use crate::kibana::data::{self, FROM_MS, TO_MS, in_range, keywords, num};
use crate::kibana::{Fixture, fixtures, get, load, search_response, send};
use serde_json::{Value, json};
use std::collections::BTreeMap;

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        {
            let ok: bool = $cond;
            if !ok {
                return Err(format!($($fmt)+));
            }
        }
    };
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    ensure!(got == want, "{what}: got {got:?}, want {want:?}");
    Ok(())
}

fn close(what: &str, got: &Value, want: Option<f64>) -> Check {
    match want {
        None => ensure!(got.is_null(), "{what}: got {got}, want null"),
        Some(w) => {
            let g = got
                .as_f64()
                .ok_or_else(|| format!("{what}: got {got}, want {w}"))?;
            ensure!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{what}: got {g}, want {w}"
            );
        }
    }
    Ok(())
}

fn sources(index: &str) -> Vec<Value> {
    let (_, docs) = match index {
        data::LOGS => data::logs(),
        data::FLIGHTS => data::flights(),
        _ => data::ecommerce(),
    };
    docs.into_iter().map(|d| d.src).collect()
}

/// Documents of an index inside the fixtures' time range (on its time field).
fn in_time(index: &str) -> Vec<Value> {
    let field = if index == data::ECOMMERCE {
        "order_date"
    } else {
        "timestamp"
    };
    sources(index)
        .into_iter()
        .filter(|d| in_range(d, field))
        .collect()
}

fn with_ids(index: &str) -> Vec<(String, Value)> {
    let (_, docs) = match index {
        data::LOGS => data::logs(),
        data::FLIGHTS => data::flights(),
        _ => data::ecommerce(),
    };
    docs.into_iter().map(|d| (d.id, d.src)).collect()
}

/// Terms buckets as Elasticsearch orders them by default: doc_count desc, then key asc.
fn term_counts<'a>(docs: impl Iterator<Item = &'a Value>, field: &str) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for d in docs {
        for k in keywords(d, field) {
            *m.entry(k).or_default() += 1;
        }
    }
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn buckets<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v["buckets"]
        .as_array()
        .ok_or_else(|| format!("{what}: no buckets array in {v}"))
}

fn key_str(b: &Value) -> String {
    match &b["key"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fixed-interval date histogram keys from `lo` to `hi` (both floored to the interval).
fn fixed_keys(lo: i64, hi: i64, interval: i64) -> Vec<i64> {
    let (a, b) = (lo.div_euclid(interval), hi.div_euclid(interval));
    (a..=b).map(|k| k * interval).collect()
}

fn in_bucket(d: &Value, field: &str, key: i64, interval: i64) -> bool {
    let t = data::ms(d, field);
    t >= key && t < key + interval
}

fn avg(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn nums(docs: &[&Value], field: &str) -> Vec<f64> {
    docs.iter().filter_map(|d| num(d, field)).collect()
}

fn distinct(docs: &[&Value], field: &str) -> usize {
    let mut s: Vec<String> = docs.iter().flat_map(|d| keywords(d, field)).collect();
    s.sort();
    s.dedup();
    s.len()
}

/// Checks a fixed-interval histogram with extended bounds over the fixtures' range, calling `per`
/// for each bucket with its documents.
fn check_fixed_histogram(
    agg: &Value,
    docs: &[&Value],
    field: &str,
    interval: i64,
    mut per: impl FnMut(&Value, &[&Value]) -> Check,
) -> Check {
    let bs = buckets(agg, "date_histogram")?;
    let keys = fixed_keys(FROM_MS, TO_MS, interval);
    eq("bucket count", bs.len(), keys.len())?;
    for (b, k) in bs.iter().zip(&keys) {
        eq("key", b["key"].as_i64(), Some(*k))?;
        eq(
            "key_as_string",
            b["key_as_string"].as_str().map(str::to_string),
            Some(data::iso(*k)),
        )?;
        let inb: Vec<&Value> = docs
            .iter()
            .copied()
            .filter(|d| in_bucket(d, field, *k, interval))
            .collect();
        eq(
            &format!("doc_count of {}", data::iso(*k)),
            b["doc_count"].as_u64(),
            Some(inb.len() as u64),
        )?;
        per(b, &inb)?;
    }
    Ok(())
}

/// A hit's `fields` values, as the fields API returns them (arrays).
fn fields_eq(hit: &Value, want: &[(&str, Value)]) -> Check {
    for (name, v) in want {
        eq(&format!("fields.{name}"), &hit["fields"][*name], v)?;
    }
    Ok(())
}

/// The documents among `docs` with `key` among the keyword values of `field`.
fn sel<'a>(docs: &[&'a Value], field: &str, key: &str) -> Vec<&'a Value> {
    docs.iter()
        .copied()
        .filter(|d| keywords(d, field).iter().any(|k| k == key))
        .collect()
}

fn aggs(v: &Value) -> Result<&Value, String> {
    v.get("aggregations")
        .ok_or_else(|| format!("no aggregations in {v}"))
}

/// Hits of a Discover-like request: ids in order, sorted by time desc.
fn newest_first(docs: &[(String, Value)], keep: impl Fn(&Value) -> bool) -> Vec<&str> {
    let mut v: Vec<(&str, i64)> = docs
        .iter()
        .filter(|(_, d)| keep(d))
        .map(|(id, d)| (id.as_str(), data::ms(d, "timestamp")))
        .collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    v.into_iter().map(|(id, _)| id).collect()
}

fn hit_ids(v: &Value) -> Result<Vec<String>, String> {
    Ok(v["hits"]["hits"]
        .as_array()
        .ok_or_else(|| format!("no hits.hits in {v}"))?
        .iter()
        .map(|h| h["_id"].as_str().unwrap_or("?").to_string())
        .collect())
}

fn logs_in_time() -> Vec<Value> {
    in_time(data::LOGS)
}

fn refs(v: &[Value]) -> Vec<&Value> {
    v.iter().collect()
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

// ---------------------------------------------------------------------------------------------
// The checks, one per fixture.

async fn check(f: &Fixture) -> Check {
    let r = send(f, None).await;
    let key = f.key.as_str();
    match key {
        // GET / (RestMainAction): version.number is the configured version; X-Elastic-Product is
        // what elasticsearch-js's product check requires.
        "startup/root" => {
            eq("status", r.status, 200)?;
            eq(
                "x-elastic-product",
                r.headers
                    .get("x-elastic-product")
                    .map(|h| h.to_str().unwrap()),
                Some("Elasticsearch"),
            )?;
            let v = r.json();
            ensure!(
                v["version"]["number"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("8.") || s.starts_with("9.")),
                "version: {v}"
            );
            eq(
                "tagline",
                v["tagline"].as_str(),
                Some("You Know, for Search"),
            )
        }
        // RestNodesInfoAction with filter_path: only version, ip and http.publish_address remain.
        "startup/nodes_version" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            let nodes = v["nodes"].as_object().ok_or(format!("no nodes: {v}"))?;
            eq("node count", nodes.len(), 1)?;
            let n = nodes.values().next().unwrap();
            let mut keys: Vec<&String> = n.as_object().unwrap().keys().collect();
            keys.sort();
            eq(
                "node keys",
                keys,
                vec![
                    &"http".to_string(),
                    &"ip".to_string(),
                    &"version".to_string(),
                ],
            )?;
            ensure!(
                n["http"]["publish_address"].is_string(),
                "publish_address: {n}"
            );
            let root = get("/").await.json();
            eq("version", &n["version"], &root["version"]["number"])
        }
        // XPackInfoResponse: build, license (basic, active), features.
        "startup/xpack_info" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq(
                "license.status",
                v["license"]["status"].as_str(),
                Some("active"),
            )?;
            eq("license.type", v["license"]["type"].as_str(), Some("basic"))?;
            ensure!(v["license"]["uid"].is_string(), "license.uid: {v}");
            ensure!(v["build"]["hash"].is_string(), "build: {v}");
            ensure!(
                v["features"]["security"]["available"].is_boolean(),
                "features.security: {v}"
            );
            ensure!(
                v["features"]["security"]["enabled"].is_boolean(),
                "features.security: {v}"
            );
            Ok(())
        }
        // GET /_license (RestGetLicenseAction): {"license": {status, uid, type, issue_date, ...}}.
        "startup/license" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq("status", v["license"]["status"].as_str(), Some("active"))?;
            eq("type", v["license"]["type"].as_str(), Some("basic"))?;
            ensure!(
                v["license"]["issue_date_in_millis"].is_number(),
                "issue_date_in_millis: {v}"
            );
            Ok(())
        }
        // ClusterHealthResponse: one node, all shards active.
        // For one index with wait_for_status=yellow: reached at once (green), its one primary active.
        "startup/cluster_health" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq(
                "active_primary_shards",
                v["active_primary_shards"].as_u64(),
                Some(1),
            )?;
            ensure!(matches!(v["status"].as_str(), Some("green")), "status: {v}");
            eq("number_of_nodes", v["number_of_nodes"].as_u64(), Some(1))?;
            eq("timed_out", v["timed_out"].as_bool(), Some(false))?;
            ensure!(v["cluster_name"].is_string(), "cluster_name: {v}");
            eq(
                "unassigned_shards",
                v["unassigned_shards"].as_u64(),
                Some(0),
            )
        }
        // Kibana reads `script.allowed_types` from persistent/transient/defaults (flat settings);
        // a missing value means every type is allowed.
        // Kibana reads `script.allowed_types` from transient, then persistent, then defaults (flat
        // settings, is_scripting_enabled.ts), so all three objects must be there.
        "startup/cluster_settings" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            for s in ["persistent", "transient", "defaults"] {
                ensure!(v[s].is_object(), "{s} missing: {v}");
            }
            let found = ["persistent", "transient", "defaults"]
                .iter()
                .filter_map(|s| v.get(*s).and_then(|o| o.get("script.allowed_types")))
                .next();
            ensure!(
                found.is_none() || found.unwrap().is_array() || found.unwrap().is_string(),
                "script.allowed_types: {v}"
            );
            Ok(())
        }
        // ResolveIndexAction: indices sorted by name with attributes; no aliases/data streams here.
        "data_views/resolve_index" | "data_views/has_data" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            let names: Vec<&str> = v["indices"]
                .as_array()
                .ok_or(format!("indices: {v}"))?
                .iter()
                .map(|i| i["name"].as_str().unwrap_or("?"))
                .collect();
            eq(
                "indices",
                names,
                vec![data::ECOMMERCE, data::FLIGHTS, data::LOGS],
            )?;
            for i in v["indices"].as_array().unwrap() {
                ensure!(
                    i["attributes"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!("open"))),
                    "attributes: {i}"
                );
            }
            eq("aliases", &v["aliases"], &json!([]))?;
            eq("data_streams", &v["data_streams"], &json!([]))
        }
        // FieldCapabilitiesResponse: per field, per type: type, metadata_field, searchable,
        // aggregatable; text not aggregatable, its keyword multi-field aggregatable; an alias takes
        // its target's type; object parents are listed as type object.
        "data_views/field_caps_logs" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq("indices", &v["indices"], &json!([data::LOGS]))?;
            let f = &v["fields"];
            let cap = |name: &str, ty: &str| f[name][ty].clone();
            for (name, ty, searchable, aggregatable) in [
                ("bytes", "long", true, true),
                ("message", "text", true, false),
                ("message.keyword", "keyword", true, true),
                ("timestamp", "date", true, true),
                ("@timestamp", "date", true, true),
                ("clientip", "ip", true, true),
                ("geo.coordinates", "geo_point", true, true),
                ("machine.os.keyword", "keyword", true, true),
                ("machine", "object", false, false),
                ("_id", "_id", true, false),
                ("_index", "_index", true, true),
            ] {
                let c = cap(name, ty);
                ensure!(c.is_object(), "field {name} as {ty} missing: {}", f[name]);
                eq(&format!("{name}.type"), c["type"].as_str(), Some(ty))?;
                eq(
                    &format!("{name}.searchable"),
                    c["searchable"].as_bool(),
                    Some(searchable),
                )?;
                eq(
                    &format!("{name}.aggregatable"),
                    c["aggregatable"].as_bool(),
                    Some(aggregatable),
                )?;
                eq(
                    &format!("{name}.metadata_field"),
                    c["metadata_field"].as_bool(),
                    Some(name.starts_with('_')),
                )?;
            }
            Ok(())
        }
        // index_filter drops indices where the filter cannot match: ecommerce has no `timestamp`.
        "data_views/field_caps_pattern" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq(
                "indices",
                &v["indices"],
                &json!([data::FLIGHTS, data::LOGS]),
            )?;
            ensure!(
                v["fields"]["Carrier"]["keyword"].is_object(),
                "Carrier: {v}"
            );
            ensure!(v["fields"]["bytes"]["long"].is_object(), "bytes");
            ensure!(
                v["fields"].get("taxful_total_price").is_none(),
                "taxful_total_price present"
            );
            // A field in only some of the indices is not a conflict: no `indices` list.
            ensure!(
                v["fields"]["bytes"]["long"].get("indices").is_none(),
                "bytes.indices present"
            );
            Ok(())
        }
        // TermsEnumResponse: terms with the prefix, sorted, complete.
        "unified_search/terms_enum" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            let mut want: Vec<String> = logs_in_time()
                .iter()
                .flat_map(|d| keywords(d, "machine.os.keyword"))
                .filter(|k| k.starts_with("win"))
                .collect();
            want.sort();
            want.dedup();
            eq("terms", &v["terms"], &json!(want))?;
            eq("complete", v["complete"].as_bool(), Some(true))
        }
        "unified_search/terms_enum_flights" => {
            eq("status", r.status, 200)?;
            let v = r.json();
            eq("terms", &v["terms"], &json!(["JetBeats"]))?;
            eq("complete", v["complete"].as_bool(), Some(true))
        }
        // terms with an `include` regex: only matching keys (IncludeExclude).
        "unified_search/terms_agg_suggestions" => {
            let v = search_response(f, &r).await?;
            let docs = logs_in_time();
            let want: Vec<(String, u64)> = term_counts(docs.iter(), "extension.keyword")
                .into_iter()
                .filter(|(k, _)| k.starts_with('g'))
                .collect();
            let bs = buckets(&aggs(&v)?["suggestions"], "suggestions")?;
            let got: Vec<(String, u64)> = bs
                .iter()
                .map(|b| (key_str(b), b["doc_count"].as_u64().unwrap_or(0)))
                .collect();
            eq("suggestions", got, want)
        }
        k if k.starts_with("discover/") => check_discover(f, &r).await,
        k if k.starts_with("lens/") || k.starts_with("dashboards/") => {
            check_aggs(f, &search_response(f, &r).await?)
        }
        k if k.starts_with("tsvb/") => check_tsvb(f, &search_response(f, &r).await?),
        "vega/composite" => check_composite(&search_response(f, &r).await?),
        k if k.starts_with("maps/") => check_maps(f, &search_response(f, &r).await?),
        k if k.starts_with("async_search/") => check_async(f, r).await,
        other => Err(format!("no check written for fixture {other}")),
    }
}

async fn check_discover(f: &Fixture, r: &Resp) -> Check {
    let key = f.key.as_str();
    if key == "discover/pit_open" {
        eq("status", r.status, 200)?;
        ensure!(r.json()["id"].is_string(), "no pit id: {}", r.text);
        return Ok(());
    }
    let v = search_response(f, r).await?;
    let all = with_ids(data::LOGS);
    let in_t = |d: &Value| in_range(d, "timestamp");
    match key {
        // Discover's table: newest 500, `fields` with the date formatted as asked, sort values
        // formatted with the sort's `format`, `_version` with version: true, no total.
        "discover/document_table" => {
            let want = newest_first(&all, in_t);
            let got = hit_ids(&v)?;
            eq("hit count", got.len(), 500.min(want.len()))?;
            eq(
                "ids",
                got.as_slice(),
                &want[..got.len()]
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()[..],
            )?;
            ensure!(
                v["hits"].get("total").is_none(),
                "hits.total with track_total_hits false: {}",
                v["hits"]["total"]
            );
            let h = &v["hits"]["hits"][0];
            let src = &all.iter().find(|(id, _)| id == &got[0]).unwrap().1;
            eq("_version", h["_version"].as_i64(), Some(1))?;
            ensure!(h.get("_source").is_none(), "_source with _source: false");
            fields_eq(
                h,
                &[
                    ("timestamp", json!([src["timestamp"]])),
                    ("machine.os", json!([src["machine"]["os"]])),
                    ("machine.os.keyword", json!([src["machine"]["os"]])),
                    ("response.keyword", json!([src["response"].to_string()])),
                ],
            )?;
            eq("sort", &h["sort"], &json!([src["timestamp"], h["sort"][1]]))?;
            ensure!(h["sort"][1].is_number(), "_doc sort value: {}", h["sort"]);
            Ok(())
        }
        "discover/document_table_kql" => {
            let want = newest_first(&all, |d| {
                in_t(d) && d["extension"] == "css" && d["response"] != 503
            });
            let got = hit_ids(&v)?;
            eq(
                "ids",
                got,
                want.iter().take(500).map(|s| s.to_string()).collect(),
            )
        }
        // query_string on a text field matches tokens (standard analyzer); the highlight wraps the
        // matching token in Kibana's tags with the whole value as one fragment.
        "discover/document_table_lucene" => {
            let want = newest_first(&all, |d| {
                in_t(d)
                    && d["agent"].as_str().unwrap().contains("Firefox")
                    && d["bytes"].as_i64().is_some_and(|b| b > 5000)
            });
            let got = hit_ids(&v)?;
            eq(
                "ids",
                got,
                want.iter().take(500).map(|s| s.to_string()).collect(),
            )?;
            let h = &v["hits"]["hits"][0];
            let frag = h["highlight"]["message"][0].as_str().unwrap_or("");
            ensure!(
                frag.contains("@kibana-highlighted-field@Firefox@/kibana-highlighted-field@"),
                "highlight.message: {}",
                h["highlight"]
            );
            Ok(())
        }
        // search_after with the formatted sort value of the previous page's last hit.
        "discover/load_more" => {
            let cut = chrono::DateTime::parse_from_rfc3339("2026-11-19T12:00:00Z")
                .unwrap()
                .timestamp_millis();
            let want = newest_first(&all, |d| in_t(d) && data::ms(d, "timestamp") < cut);
            let got = hit_ids(&v)?;
            eq(
                "ids",
                got,
                want.iter().take(100).map(|s| s.to_string()).collect(),
            )
        }
        "discover/total_hits" => {
            let n = all.iter().filter(|(_, d)| in_t(d)).count();
            eq(
                "hits.total",
                &v["hits"]["total"],
                &json!({"value": n, "relation": "eq"}),
            )?;
            eq("hits", &v["hits"]["hits"], &json!([]))
        }
        "discover/histogram" => {
            let docs = logs_in_time();
            check_fixed_histogram(
                &aggs(&v)?["0"],
                &refs(&docs),
                "timestamp",
                3 * HOUR,
                |_, _| Ok(()),
            )
        }
        // calendar_interval 1d in Europe/Berlin: buckets start at local midnight (UTC+1 in November),
        // extended to the range's bounds; key_as_string carries the offset.
        "discover/histogram_berlin" => {
            let docs = logs_in_time();
            let bs = buckets(&aggs(&v)?["0"], "histogram")?;
            let first = FROM_MS - HOUR; // 2026-11-16T00:00+01:00 is 2026-11-15T23:00Z
            let keys: Vec<i64> = (0..)
                .map(|i| first + i * DAY)
                .take_while(|k| *k <= TO_MS)
                .collect();
            eq("bucket count", bs.len(), keys.len())?;
            for (b, k) in bs.iter().zip(keys) {
                eq("key", b["key"].as_i64(), Some(k))?;
                let local = chrono::DateTime::from_timestamp_millis(k + HOUR).unwrap();
                eq(
                    "key_as_string",
                    b["key_as_string"].as_str().map(str::to_string),
                    Some(local.format("%Y-%m-%dT%H:%M:%S%.3f+01:00").to_string()),
                )?;
                let n = docs
                    .iter()
                    .filter(|d| in_bucket(d, "timestamp", k, DAY))
                    .count();
                eq("doc_count", b["doc_count"].as_u64(), Some(n as u64))?;
            }
            Ok(())
        }
        // Sampler with shard_size 5000 over fewer documents samples them all.
        "discover/field_stats_keyword" => {
            let docs = logs_in_time();
            eq(
                "total",
                &v["hits"]["total"],
                &json!({"value": docs.len(), "relation": "eq"}),
            )?;
            let s = &aggs(&v)?["sample"];
            eq(
                "sample.doc_count",
                s["doc_count"].as_u64(),
                Some(docs.len() as u64),
            )?;
            let with = docs
                .iter()
                .filter(|d| !keywords(d, "extension").is_empty())
                .count();
            close(
                "sample_count",
                &s["sample_count"]["value"],
                Some(with as f64),
            )?;
            let want = term_counts(docs.iter(), "extension.keyword");
            let got: Vec<(String, u64)> = buckets(&s["top_values"], "top_values")?
                .iter()
                .map(|b| (key_str(b), b["doc_count"].as_u64().unwrap_or(0)))
                .collect();
            eq("top_values", got, want.into_iter().take(10).collect())
        }
        "discover/field_stats_number" => {
            let docs = logs_in_time();
            let s = &aggs(&v)?["sample"];
            let b = nums(&refs(&docs), "bytes");
            close(
                "min",
                &s["min_value"]["value"],
                b.iter().cloned().reduce(f64::min),
            )?;
            close(
                "max",
                &s["max_value"]["value"],
                b.iter().cloned().reduce(f64::max),
            )?;
            close(
                "sample_count",
                &s["sample_count"]["value"],
                Some(b.len() as f64),
            )?;
            let mut m: BTreeMap<i64, u64> = BTreeMap::new();
            for x in &b {
                *m.entry(*x as i64).or_default() += 1;
            }
            let mut want: Vec<(i64, u64)> = m.into_iter().collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(i64, u64)> = buckets(&s["top_values"], "top_values")?
                .iter()
                .map(|b| {
                    (
                        b["key"].as_i64().unwrap_or(-1),
                        b["doc_count"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            eq("top_values", got, want.into_iter().take(10).collect())
        }
        // A date_histogram without extended bounds spans first to last non-empty bucket; keys are
        // multiples of the fixed interval since the epoch.
        "discover/field_stats_date" => {
            let docs = logs_in_time();
            let iv = 60_480_000;
            let ts: Vec<i64> = docs.iter().map(|d| data::ms(d, "timestamp")).collect();
            let keys = fixed_keys(*ts.iter().min().unwrap(), *ts.iter().max().unwrap(), iv);
            let bs = buckets(&aggs(&v)?["histo"], "histo")?;
            let got: Vec<(i64, u64)> = bs
                .iter()
                .map(|b| {
                    (
                        b["key"].as_i64().unwrap_or(-1),
                        b["doc_count"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            let want: Vec<(i64, u64)> = keys
                .iter()
                .map(|k| {
                    (
                        *k,
                        ts.iter().filter(|t| **t >= *k && **t < k + iv).count() as u64,
                    )
                })
                .collect();
            eq("buckets", got, want)
        }
        "discover/field_examples_text" => {
            let docs = logs_in_time();
            eq(
                "total",
                &v["hits"]["total"],
                &json!({"value": docs.len(), "relation": "eq"}),
            )?;
            let hits = v["hits"]["hits"].as_array().ok_or("no hits")?;
            eq("hit count", hits.len(), 100.min(docs.len()))?;
            for h in hits {
                let id = h["_id"].as_str().unwrap();
                let src = &all.iter().find(|(i, _)| i == id).unwrap().1;
                eq(
                    "fields.message",
                    &h["fields"]["message"],
                    &json!([src["message"]]),
                )?;
                ensure!(h.get("_source").is_none(), "_source present");
            }
            Ok(())
        }
        "discover/single_document" => {
            let hits = v["hits"]["hits"].as_array().ok_or("no hits")?;
            eq("hit count", hits.len(), 1)?;
            let h = &hits[0];
            let src = &all.iter().find(|(i, _)| i == "log-42").unwrap().1;
            eq("_id", h["_id"].as_str(), Some("log-42"))?;
            eq("_index", h["_index"].as_str(), Some(data::LOGS))?;
            eq("_version", h["_version"].as_i64(), Some(1))?;
            eq("_source", &h["_source"], src)?;
            fields_eq(
                h,
                &[
                    ("bytes", json!([src["bytes"]])),
                    ("geo.src", json!([src["geo"]["src"]])),
                    ("tags.keyword", src["tags"].clone()),
                ],
            )
        }
        "discover/surrounding_successors" => {
            let lo = chrono::DateTime::parse_from_rfc3339("2026-11-18T12:00:00Z")
                .unwrap()
                .timestamp_millis();
            let hi = lo + DAY;
            // search_after the anchor's time (the range's end); the anchor excluded by id.
            let want = newest_first(&all, |d| {
                let t = data::ms(d, "timestamp");
                t >= lo && t < hi
            });
            let want: Vec<&str> = want.into_iter().filter(|id| *id != "log-404").collect();
            let got = hit_ids(&v)?;
            eq(
                "ids",
                got,
                want.iter().take(5).map(|s| s.to_string()).collect(),
            )
        }
        other => Err(format!("no check written for fixture {other}")),
    }
}

/// Lens and sample-dashboard panels: aggregation trees under the fixtures' time filter.
fn check_aggs(f: &Fixture, v: &Value) -> Check {
    let a = aggs(v)?;
    let logs = logs_in_time();
    let logs = refs(&logs);
    let flights = in_time(data::FLIGHTS);
    let flights = refs(&flights);
    let orders = in_time(data::ECOMMERCE);
    let orders = refs(&orders);
    let terms_of = |agg: &Value, docs: &[&Value], field: &str, size: usize| -> Check {
        let want: Vec<(String, u64)> = term_counts(docs.iter().copied(), field)
            .into_iter()
            .take(size)
            .collect();
        let got: Vec<(String, u64)> = buckets(agg, field)?
            .iter()
            .map(|b| (key_str(b), b["doc_count"].as_u64().unwrap_or(0)))
            .collect();
        eq(field, got, want)
    };
    match f.key.as_str() {
        "lens/date_histogram_terms_count" => {
            terms_of(&a["0"], &logs, "extension.keyword", 3)?;
            for b in buckets(&a["0"], "0")? {
                let docs = sel(&logs, "extension.keyword", &key_str(b));
                check_fixed_histogram(&b["1"], &docs, "timestamp", 12 * HOUR, |_, _| Ok(()))?;
            }
            Ok(())
        }
        // terms ordered by a sub-aggregation (avg desc); empty date buckets: avg/min/max null,
        // sum 0, cardinality 0 (InternalAvg/InternalMin/InternalSum/InternalCardinality).
        "lens/date_histogram_terms_metrics" => {
            let mut hosts: Vec<(String, f64)> = data::HOSTS
                .iter()
                .map(|h| {
                    (
                        h.to_string(),
                        avg(&nums(&sel(&logs, "host.keyword", h), "bytes")).unwrap(),
                    )
                })
                .collect();
            hosts.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
            let bs = buckets(&a["0"], "0")?;
            eq(
                "hosts",
                bs.iter().map(key_str).collect::<Vec<_>>(),
                hosts.iter().take(3).map(|h| h.0.clone()).collect(),
            )?;
            for b in bs {
                let docs = sel(&logs, "host.keyword", &key_str(b));
                close("avg", &b["2"]["value"], avg(&nums(&docs, "bytes")))?;
                check_fixed_histogram(&b["1"], &docs, "timestamp", 12 * HOUR, |hb, ds| {
                    let xs = nums(ds, "bytes");
                    close("avg", &hb["2"]["value"], avg(&xs))?;
                    close("sum", &hb["3"]["value"], Some(xs.iter().sum()))?;
                    close(
                        "min",
                        &hb["4"]["value"],
                        xs.iter().cloned().reduce(f64::min),
                    )?;
                    close(
                        "max",
                        &hb["5"]["value"],
                        xs.iter().cloned().reduce(f64::max),
                    )?;
                    eq(
                        "cardinality",
                        hb["6"]["value"].as_u64(),
                        Some(distinct(ds, "clientip") as u64),
                    )
                })?;
            }
            Ok(())
        }
        // percentiles: with few values per bucket Elasticsearch's t-digest is exact at the
        // values; we accept a value between the neighbouring order statistics.
        // Two columns give two aggs; merged columns one agg with both percents.
        "lens/percentiles_median" | "lens/percentiles_grouped" => {
            let grouped = f.key.ends_with("grouped");
            check_fixed_histogram(&a["0"], &logs, "timestamp", DAY, |b, ds| {
                let mut xs = nums(ds, "bytes");
                xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
                let aggs = if grouped {
                    [("1", 50.0), ("1", 95.0)]
                } else {
                    [("1", 50.0), ("2", 95.0)]
                };
                for (agg, p) in aggs {
                    let got = &b[agg]["values"][format!("{p:.1}")];
                    if xs.is_empty() {
                        eq("empty percentile", got, &Value::Null)?;
                        continue;
                    }
                    let pos = p / 100.0 * (xs.len() - 1) as f64;
                    let (lo, hi) = (
                        xs[pos.floor() as usize],
                        xs[(pos.ceil() as usize).min(xs.len() - 1)],
                    );
                    let g = got.as_f64().ok_or(format!("percentile {p}: {}", b[agg]))?;
                    let slack = (xs[xs.len() - 1] - xs[0]) * 0.05;
                    ensure!(
                        g >= lo - slack && g <= hi + slack,
                        "percentile {p}: {g} not in [{lo}, {hi}]"
                    );
                }
                Ok(())
            })
        }
        // percentile_ranks: share of values <= 5000, in percent.
        "lens/percentile_ranks" => {
            let xs = nums(&logs, "bytes");
            let want = 100.0 * xs.iter().filter(|x| **x <= 5000.0).count() as f64 / xs.len() as f64;
            let g = a["1"]["values"]["5000.0"]
                .as_f64()
                .ok_or(format!("percentile_ranks: {}", a["1"]))?;
            ensure!(
                (g - want).abs() < 1.0,
                "percentile rank: {g}, want about {want}"
            );
            Ok(())
        }
        // top_metrics sorted by time desc: the newest document's value (InternalTopMetrics).
        "lens/last_value" => {
            let bs = buckets(&a["0"], "0")?;
            let mut hosts: Vec<&str> = data::HOSTS.to_vec();
            hosts.sort();
            eq(
                "hosts",
                bs.iter().map(key_str).collect::<Vec<_>>(),
                hosts.iter().map(|s| s.to_string()).collect(),
            )?;
            for b in bs {
                let docs: Vec<&Value> = sel(&logs, "host.keyword", &key_str(b))
                    .into_iter()
                    .filter(|d| d.get("bytes").is_some())
                    .collect();
                eq(
                    "filter doc_count",
                    b["1-bucket"]["doc_count"].as_u64(),
                    Some(docs.len() as u64),
                )?;
                let newest = docs
                    .iter()
                    .max_by_key(|d| data::ms(d, "timestamp"))
                    .unwrap();
                let top = &b["1-bucket"]["1-metric"]["top"];
                eq("top length", top.as_array().map(Vec::len), Some(1))?;
                close(
                    "last bytes",
                    &top[0]["metrics"]["bytes"],
                    num(newest, "bytes"),
                )?;
                ensure!(
                    top[0]["sort"].as_array().is_some_and(|s| s.len() == 1),
                    "sort: {top}"
                );
            }
            Ok(())
        }
        // A reference line: one avg over every document in range (InternalAvg).
        "lens/reference_line" => close("avg", &a["1"]["value"], avg(&nums(&logs, "bytes"))),
        // extended_stats: population variance and std deviation, bounds at 2 sigma.
        "lens/standard_deviation" => {
            let xs = nums(&logs, "bytes");
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let sq: f64 = xs.iter().map(|x| x * x).sum();
            let var = sq / n - mean * mean;
            let s = &a["1"];
            eq("count", s["count"].as_u64(), Some(xs.len() as u64))?;
            close("avg", &s["avg"], Some(mean))?;
            close("sum_of_squares", &s["sum_of_squares"], Some(sq))?;
            ensure!(
                (s["variance"].as_f64().unwrap_or(-1.0) - var).abs() < 1e-6 * var,
                "variance {}",
                s["variance"]
            );
            ensure!(
                (s["std_deviation"].as_f64().unwrap_or(-1.0) - var.sqrt()).abs()
                    < 1e-6 * var.sqrt(),
                "std {}",
                s["std_deviation"]
            );
            ensure!(
                (s["std_deviation_bounds"]["upper"].as_f64().unwrap_or(0.0)
                    - (mean + 2.0 * var.sqrt()))
                .abs()
                    < 1e-6 * mean,
                "bounds {}",
                s["std_deviation_bounds"]
            );
            Ok(())
        }
        "lens/formula_filter" => {
            check_fixed_histogram(&a["0"], &logs, "timestamp", DAY, |b, ds| {
                let n = ds.iter().filter(|d| d["response"] == 404).count();
                eq(
                    "404 count",
                    b["1-bucket"]["doc_count"].as_u64(),
                    Some(n as u64),
                )
            })
        }
        // filters: buckets keyed by name in request order (keyed object by default).
        "lens/filters_breakdown" => {
            let bs = &a["0"]["buckets"];
            let errors = logs
                .iter()
                .filter(|d| d.get("bytes").is_some() && d["response"].as_i64().unwrap() >= 400)
                .count();
            let success = logs
                .iter()
                .filter(|d| d["response"].as_i64().unwrap() < 400)
                .count();
            eq(
                "Errors",
                bs["Errors"]["doc_count"].as_u64(),
                Some(errors as u64),
            )?;
            eq(
                "Success",
                bs["Success"]["doc_count"].as_u64(),
                Some(success as u64),
            )?;
            eq(
                "order",
                bs.as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>()),
                Some(vec!["Errors".to_string(), "Success".to_string()]),
            )
        }
        // multi_terms: key is the array of values, key_as_string joins them with '|'.
        "lens/multi_terms" => {
            let mut m: BTreeMap<(String, String), u64> = BTreeMap::new();
            for d in &logs {
                *m.entry((
                    d["geo"]["src"].as_str().unwrap().into(),
                    d["machine"]["os"].as_str().unwrap().into(),
                ))
                .or_default() += 1;
            }
            let mut want: Vec<((String, String), u64)> = m.into_iter().collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let bs = buckets(&a["0"], "0")?;
            eq("bucket count", bs.len(), 5)?;
            for (b, ((s, o), n)) in bs.iter().zip(want) {
                eq("key", &b["key"], &json!([s, o]))?;
                eq(
                    "key_as_string",
                    b["key_as_string"].as_str().map(str::to_string),
                    Some(format!("{s}|{o}")),
                )?;
                eq("doc_count", b["doc_count"].as_u64(), Some(n))?;
            }
            Ok(())
        }
        // histogram with extended_bounds 0..20000 and min_doc_count 0: every bucket in the bounds.
        "lens/range_histogram" => {
            let xs = nums(&logs, "bytes");
            let bs = buckets(&a["0"], "0")?;
            eq("bucket count", bs.len(), 11)?;
            for (i, b) in bs.iter().enumerate() {
                let k = i as f64 * 2000.0;
                close("key", &b["key"], Some(k))?;
                let n = xs.iter().filter(|x| **x >= k && **x < k + 2000.0).count();
                eq("doc_count", b["doc_count"].as_u64(), Some(n as u64))?;
            }
            Ok(())
        }
        // cumulative_sum from the first bucket; derivative absent on the first bucket.
        "lens/cumulative_sum_differences" => {
            let mut total = 0u64;
            let mut prev: Option<u64> = None;
            check_fixed_histogram(&a["0"], &logs, "timestamp", DAY, |b, ds| {
                total += ds.len() as u64;
                close("cumulative_sum", &b["1"]["value"], Some(total as f64))?;
                match prev {
                    None => ensure!(b.get("2").is_none(), "derivative on the first bucket: {b}"),
                    Some(p) => close(
                        "derivative",
                        &b["2"]["value"],
                        Some(ds.len() as f64 - p as f64),
                    )?,
                }
                prev = Some(ds.len() as u64);
                Ok(())
            })
        }
        // moving_fn: the window holds the previous `window` buckets (shift 0), not the current one;
        // unweightedAvg of no values is NaN, rendered as null.
        "lens/moving_average" => {
            let mut seen: Vec<f64> = Vec::new();
            check_fixed_histogram(&a["0"], &logs, "timestamp", DAY, |b, ds| {
                let w: Vec<f64> = seen.iter().rev().take(3).cloned().collect();
                close("moving_fn", &b["1"]["value"], avg(&w))?;
                seen.push(ds.len() as f64);
                Ok(())
            })
        }
        "dashboards/logs_unique_visitors_vs_bytes" => {
            check_fixed_histogram(&a["0"], &logs, "timestamp", HOUR, |b, ds| {
                eq(
                    "cardinality",
                    b["1"]["value"].as_u64(),
                    Some(distinct(ds, "clientip") as u64),
                )?;
                close("avg", &b["2"]["value"], avg(&nums(ds, "bytes")))
            })
        }
        // filters with keyword ranges compare strings: "200" <= response < "300".
        "dashboards/logs_response_codes_over_time" => {
            check_fixed_histogram(&a["0"], &logs, "timestamp", 3 * HOUR, |b, ds| {
                for (name, lo) in [("2xx", 200), ("4xx", 400), ("5xx", 500)] {
                    let n = ds
                        .iter()
                        .filter(|d| {
                            let r = d["response"].as_i64().unwrap();
                            r >= lo && r < lo + 100
                        })
                        .count();
                    eq(
                        name,
                        b["1"]["buckets"][name]["doc_count"].as_u64(),
                        Some(n as u64),
                    )?;
                }
                Ok(())
            })
        }
        "dashboards/logs_visitors_by_os" => {
            terms_of(&a["0"], &logs, "machine.os.keyword", 5)?;
            eq(
                "sum_other_doc_count",
                a["0"]["sum_other_doc_count"].as_u64(),
                Some(0),
            )?;
            eq(
                "doc_count_error_upper_bound",
                a["0"]["doc_count_error_upper_bound"].as_u64(),
                Some(0),
            )
        }
        "dashboards/logs_bytes_by_extension_table" => {
            let mut exts: Vec<(String, usize)> = data::EXTENSIONS
                .iter()
                .map(|e| {
                    (
                        e.to_string(),
                        distinct(&sel(&logs, "extension.keyword", e), "clientip"),
                    )
                })
                .collect();
            exts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let bs = buckets(&a["0"], "0")?;
            eq(
                "keys",
                bs.iter().map(key_str).collect::<Vec<_>>(),
                exts.iter().map(|e| e.0.clone()).collect(),
            )?;
            for b in bs {
                let docs = sel(&logs, "extension.keyword", &key_str(b));
                eq(
                    "doc_count",
                    b["doc_count"].as_u64(),
                    Some(docs.len() as u64),
                )?;
                eq(
                    "cardinality",
                    b["1"]["value"].as_u64(),
                    Some(distinct(&docs, "clientip") as u64),
                )?;
                close("avg", &b["2"]["value"], avg(&nums(&docs, "bytes")))?;
            }
            Ok(())
        }
        "dashboards/logs_geo_src_dest" => {
            terms_of(&a["0"], &logs, "geo.src", 5)?;
            for b in buckets(&a["0"], "0")? {
                terms_of(&b["1"], &sel(&logs, "geo.src", &key_str(b)), "geo.dest", 3)?;
            }
            Ok(())
        }
        "dashboards/flights_carrier_share" => terms_of(&a["0"], &flights, "Carrier", 5),
        "dashboards/flights_ticket_price_over_time" => {
            check_fixed_histogram(&a["0"], &flights, "timestamp", 3 * HOUR, |b, ds| {
                close(
                    "avg price",
                    &b["1"]["value"],
                    avg(&nums(ds, "AvgTicketPrice")),
                )
            })
        }
        "dashboards/flights_delays_cancellations" => {
            let bs = &a["0"]["buckets"];
            eq(
                "Delayed",
                bs["Delayed"]["doc_count"].as_u64(),
                Some(flights.iter().filter(|d| d["FlightDelay"] == true).count() as u64),
            )?;
            eq(
                "Cancelled",
                bs["Cancelled"]["doc_count"].as_u64(),
                Some(flights.iter().filter(|d| d["Cancelled"] == true).count() as u64),
            )
        }
        // range: keys "0.0-1.0", "240.0-*" (InternalRange with double bounds), from/to echoed.
        "dashboards/flights_delay_buckets" => {
            let bs = buckets(&a["0"], "0")?;
            let ranges = [
                (0.0, Some(1.0)),
                (1.0, Some(60.0)),
                (60.0, Some(240.0)),
                (240.0, None),
            ];
            eq("bucket count", bs.len(), 4)?;
            for (b, (from, to)) in bs.iter().zip(ranges) {
                let key = match to {
                    Some(t) => format!("{from:.1}-{t:.1}"),
                    None => format!("{from:.1}-*"),
                };
                eq("key", b["key"].as_str().map(str::to_string), Some(key))?;
                close("from", &b["from"], Some(from))?;
                if let Some(t) = to {
                    close("to", &b["to"], Some(t))?;
                } else {
                    ensure!(b.get("to").is_none(), "to on an open range");
                }
                let n = flights
                    .iter()
                    .filter(|d| {
                        let x = d["FlightDelayMin"].as_f64().unwrap();
                        x >= from && to.is_none_or(|t| x < t)
                    })
                    .count();
                eq("doc_count", b["doc_count"].as_u64(), Some(n as u64))?;
            }
            Ok(())
        }
        "dashboards/flights_destination_weather" => {
            let mut w: Vec<(String, f64)> = data::WEATHER
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        nums(&sel(&flights, "DestWeather", k), "FlightDelayMin")
                            .iter()
                            .sum(),
                    )
                })
                .collect();
            w.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
            let bs = buckets(&a["0"], "0")?;
            eq(
                "keys",
                bs.iter().map(key_str).collect::<Vec<_>>(),
                w.iter().map(|x| x.0.clone()).collect(),
            )?;
            for (b, (_, s)) in bs.iter().zip(&w) {
                close("sum", &b["1"]["value"], Some(*s))?;
            }
            Ok(())
        }
        "dashboards/ecommerce_sales_by_category" => {
            terms_of(&a["0"], &orders, "category.keyword", 5)?;
            for b in buckets(&a["0"], "0")? {
                let docs = sel(&orders, "category.keyword", &key_str(b));
                check_fixed_histogram(&b["1"], &docs, "order_date", DAY, |hb, ds| {
                    close(
                        "sum",
                        &hb["2"]["value"],
                        Some(nums(ds, "taxful_total_price").iter().sum()),
                    )
                })?;
            }
            Ok(())
        }
        "dashboards/ecommerce_average_sales_price" => {
            let xs = nums(&orders, "taxful_total_price");
            close("avg", &a["1"]["value"], avg(&xs))?;
            close("sum", &a["2"]["value"], Some(xs.iter().sum()))?;
            eq(
                "customers",
                a["3"]["value"].as_u64(),
                Some(distinct(&orders, "customer_id") as u64),
            )
        }
        "dashboards/ecommerce_sales_by_gender" => terms_of(&a["0"], &orders, "customer_gender", 2),
        // terms on an array of plain objects: a document counts once per distinct value.
        "dashboards/ecommerce_top_selling_products" => {
            terms_of(&a["0"], &orders, "products.product_name.keyword", 5)
        }
        other => Err(format!("no check written for fixture {other}")),
    }
}

/// TSVB: a filter aggregation carrying `meta`, a daily histogram inside, pipeline metrics.
fn check_tsvb(f: &Fixture, v: &Value) -> Check {
    // The series' filter aggregation is named by the series id and echoes its `meta`.
    const SERIES: &str = "61ca57f1-469d-11e7-af02-69e470af7417";
    let series = &aggs(v)?[SERIES];
    eq(
        "meta",
        &series["meta"],
        &f.request()["body"]["aggs"][SERIES]["meta"],
    )?;
    let logs = logs_in_time();
    let logs = refs(&logs);
    eq(
        "filter doc_count",
        series["doc_count"].as_u64(),
        Some(logs.len() as u64),
    )?;
    let ts = &series["timeseries"];
    match f.key.as_str() {
        // bucket_script with gap_policy skip: no value where the input is null.
        "tsvb/bucket_script" => check_fixed_histogram(ts, &logs, "timestamp", DAY, |b, ds| {
            let a = avg(&nums(ds, "bytes"));
            close("m1", &b["m1"]["value"], a)?;
            match a {
                Some(x) => close("m2", &b["m2"]["value"], Some(x / 1024.0)),
                None => {
                    ensure!(b.get("m2").is_none(), "m2 on an empty bucket");
                    Ok(())
                }
            }
        }),
        // MovingFunctions.linearWeightedAvg: weights 1..n from oldest to newest (MovingFunctions.java).
        "tsvb/moving_fn" => {
            let mut seen: Vec<f64> = Vec::new();
            check_fixed_histogram(ts, &logs, "timestamp", DAY, |b, ds| {
                let w: Vec<f64> = seen
                    .iter()
                    .skip(seen.len().saturating_sub(3))
                    .cloned()
                    .collect();
                let want = if w.is_empty() {
                    None
                } else {
                    // MovingFunctions.linearWeightedAvg starts its total weight at 1.
                    let (mut s, mut tw) = (0.0, 1.0);
                    for (i, x) in w.iter().enumerate() {
                        s += x * (i + 1) as f64;
                        tw += (i + 1) as f64;
                    }
                    Some(s / tw)
                };
                close("moving_fn", &b["m2"]["value"], want)?;
                seen.push(nums(ds, "bytes").iter().sum());
                Ok(())
            })
        }
        "tsvb/cumulative_sum" => {
            let mut total = 0.0;
            check_fixed_histogram(ts, &logs, "timestamp", DAY, |b, ds| {
                total += ds.len() as f64;
                close("m1", &b["m1"]["value"], Some(ds.len() as f64))?;
                close("m2", &b["m2"]["value"], Some(total))
            })
        }
        // derivative with unit: value per bucket plus normalized_value per unit (1s of a 1d bucket).
        "tsvb/derivative" => {
            let mut prev: Option<f64> = None;
            check_fixed_histogram(ts, &logs, "timestamp", DAY, |b, ds| {
                let m = nums(ds, "bytes").into_iter().reduce(f64::max);
                close("m1", &b["m1"]["value"], m)?;
                if let (Some(p), Some(x)) = (prev, m) {
                    close("m2", &b["m2"]["value"], Some(x - p))?;
                    close(
                        "m2 normalized",
                        &b["m2"]["normalized_value"],
                        Some((x - p) / 86_400.0),
                    )?;
                } else {
                    ensure!(
                        b.get("m2").is_none(),
                        "derivative without a previous value: {b}"
                    );
                }
                prev = m;
                Ok(())
            })
        }
        other => Err(format!("no check written for fixture {other}")),
    }
}

/// composite: keys in source order (os asc, then day asc), first page of 10 and its after_key.
fn check_composite(v: &Value) -> Check {
    let logs = logs_in_time();
    let mut m: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for d in &logs {
        let day = data::ms(d, "timestamp").div_euclid(DAY) * DAY;
        *m.entry((d["machine"]["os"].as_str().unwrap().to_string(), day))
            .or_default() += 1;
    }
    let want: Vec<((String, i64), u64)> = m.into_iter().take(10).collect();
    let t = &aggs(v)?["table"];
    let bs = buckets(t, "table")?;
    eq("bucket count", bs.len(), want.len())?;
    for (b, ((os, day), n)) in bs.iter().zip(&want) {
        eq("key", &b["key"], &json!({"stk1": os, "stk2": day}))?;
        eq("doc_count", b["doc_count"].as_u64(), Some(*n))?;
    }
    let ((os, day), _) = want.last().unwrap();
    eq(
        "after_key",
        &t["after_key"],
        &json!({"stk1": os, "stk2": day}),
    )
}

fn tile(lat: f64, lon: f64, z: u32) -> String {
    let n = (1u64 << z) as f64;
    let x = (((lon + 180.0) / 360.0) * n).floor().min(n - 1.0) as u64;
    let lr = lat.to_radians();
    let y = ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, n - 1.0) as u64;
    format!("{z}/{x}/{y}")
}

fn check_maps(f: &Fixture, v: &Value) -> Check {
    let logs = logs_in_time();
    match f.key.as_str() {
        // geotile_grid keys "z/x/y" (GeoTileUtils), doc counts, geo_centroid per tile.
        "maps/geotile_grid_centroid" => {
            let mut want: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
            for d in &logs {
                let c = &d["geo"]["coordinates"];
                let (lat, lon) = (c["lat"].as_f64().unwrap(), c["lon"].as_f64().unwrap());
                if !(-85.0..=85.0).contains(&lat) {
                    continue;
                }
                let e = want.entry(tile(lat, lon, 2)).or_default();
                e.0 += 1;
                e.1 += lat;
                e.2 += lon;
            }
            let bs = buckets(&aggs(v)?["gridSplit"], "gridSplit")?;
            let mut got: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
            for b in bs {
                let c = &b["gridCentroid"];
                eq(
                    "centroid count",
                    c["count"].as_u64(),
                    b["doc_count"].as_u64(),
                )?;
                got.insert(
                    key_str(b),
                    (
                        b["doc_count"].as_u64().unwrap_or(0),
                        c["location"]["lat"].as_f64().unwrap_or(f64::NAN),
                        c["location"]["lon"].as_f64().unwrap_or(f64::NAN),
                    ),
                );
            }
            eq(
                "tiles",
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
            )?;
            for (k, (n, lat, lon)) in &want {
                let g = got[k];
                eq("doc_count", g.0, *n)?;
                ensure!(
                    (g.1 - lat / *n as f64).abs() < 1e-5 && (g.2 - lon / *n as f64).abs() < 1e-5,
                    "centroid of {k}: {g:?}"
                );
            }
            let counts: Vec<u64> = bs
                .iter()
                .map(|b| b["doc_count"].as_u64().unwrap_or(0))
                .collect();
            ensure!(
                counts.windows(2).all(|w| w[0] >= w[1]),
                "tiles not ordered by doc_count: {counts:?}"
            );
            Ok(())
        }
        // fields API renders geo_point as GeoJSON; track_total_hits N: exact below N.
        "maps/documents_layer" => {
            let n = logs
                .iter()
                .filter(|d| {
                    (-85.0..=85.0).contains(&d["geo"]["coordinates"]["lat"].as_f64().unwrap())
                })
                .count();
            eq(
                "total",
                &v["hits"]["total"],
                &json!({"value": n, "relation": "eq"}),
            )?;
            let hits = v["hits"]["hits"].as_array().ok_or("no hits")?;
            eq("hit count", hits.len(), n)?;
            let h = &hits[0];
            let all = with_ids(data::LOGS);
            let src = &all
                .iter()
                .find(|(i, _)| i == h["_id"].as_str().unwrap())
                .unwrap()
                .1;
            let c = &src["geo"]["coordinates"];
            eq(
                "geo.coordinates",
                &h["fields"]["geo.coordinates"],
                &json!([{"type": "Point", "coordinates": [c["lon"], c["lat"]]}]),
            )
        }
        other => Err(format!("no check written for fixture {other}")),
    }
}

/// The async-search lifecycle, in order: submit (kept) → get → status → delete → get is 404.
async fn check_async(f: &Fixture, first: Resp) -> Check {
    if f.key != "async_search/submit_kept" {
        // get/status/delete need the id of a kept search: replayed from submit_kept.
        return Ok(());
    }
    eq("status", first.status, 200)?;
    let v = first.json();
    let id = v["id"]
        .as_str()
        .ok_or(format!("kept search without id: {v}"))?
        .to_string();
    let resp = search_response(f, &first).await?;
    let logs = logs_in_time();
    let want: Vec<(String, u64)> = term_counts(logs.iter(), "extension.keyword")
        .into_iter()
        .take(10)
        .collect();
    let terms = |resp: &Value| -> Vec<(String, u64)> {
        resp["aggregations"]["0"]["buckets"]
            .as_array()
            .map(|bs| {
                bs.iter()
                    .map(|b| (key_str(b), b["doc_count"].as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    eq("submit terms", terms(&resp), want.clone())?;
    let all = fixtures("async_search");
    let by = |n: &str| {
        all.iter()
            .find(|x| x.key == format!("async_search/{n}"))
            .unwrap()
    };
    // GET: the same stored response (AsyncSearchResponse).
    let g = send(by("get"), Some(&id)).await;
    eq("get status", g.status, 200)?;
    let gv = g.json();
    eq("get id", gv["id"].as_str(), Some(id.as_str()))?;
    eq("get is_running", gv["is_running"].as_bool(), Some(false))?;
    eq("get terms", terms(&gv["response"]), want)?;
    // Status (AsyncStatusResponse): completion_status is the HTTP status of the finished search.
    let s = send(by("status"), Some(&id)).await;
    eq("status status", s.status, 200)?;
    let sv = s.json();
    eq("status id", sv["id"].as_str(), Some(id.as_str()))?;
    eq("status is_running", sv["is_running"].as_bool(), Some(false))?;
    eq(
        "completion_status",
        sv["completion_status"].as_u64(),
        Some(200),
    )?;
    ensure!(
        sv["expiration_time_in_millis"].is_number(),
        "expiration_time_in_millis: {sv}"
    );
    // DELETE acknowledges; afterwards the id is unknown (resource_not_found_exception).
    let d = send(by("delete"), Some(&id)).await;
    eq("delete status", d.status, 200)?;
    eq("delete body", d.json(), json!({"acknowledged": true}))?;
    let g2 = send(by("get"), Some(&id)).await;
    eq("get after delete", g2.status, 404)?;
    eq(
        "error type",
        g2.json()["error"]["type"].as_str().map(str::to_string),
        Some("resource_not_found_exception".to_string()),
    )
}

async fn replay_app(app: &str) {
    load().await;
    let mut failures = Vec::new();
    let all = fixtures(app);
    assert!(!all.is_empty(), "no fixtures for {app}");
    for f in &all {
        if let Err(e) = check(f).await {
            failures.push(format!("{}: {e}", f.key));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {app} fixtures failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn startup() {
    replay_app("startup").await;
}

#[tokio::test]
async fn data_views() {
    replay_app("data_views").await;
}

#[tokio::test]
async fn unified_search() {
    replay_app("unified_search").await;
}

#[tokio::test]
async fn discover() {
    replay_app("discover").await;
}

#[tokio::test]
async fn lens() {
    replay_app("lens").await;
}

#[tokio::test]
async fn dashboards() {
    replay_app("dashboards").await;
}

#[tokio::test]
async fn tsvb() {
    replay_app("tsvb").await;
}

#[tokio::test]
async fn vega() {
    replay_app("vega").await;
}

#[tokio::test]
async fn maps() {
    replay_app("maps").await;
}

#[tokio::test]
async fn async_search() {
    replay_app("async_search").await;
}

/// Every fixture cites a Kibana source file, has a request, and belongs to an app replayed above.
#[test]
fn every_fixture_is_checked() {
    let replayed = [
        "async_search",
        "dashboards",
        "data_views",
        "discover",
        "lens",
        "maps",
        "startup",
        "tsvb",
        "unified_search",
        "vega",
    ];
    let apps = kibana::apps();
    assert_eq!(apps, replayed, "an app folder without a replay test");
    for app in apps {
        for f in fixtures(&app) {
            let src = f.value["kibana_source"].as_array().expect("kibana_source");
            assert!(!src.is_empty(), "{} cites no Kibana source", f.key);
            assert!(
                f.request()["method"].is_string() && f.request()["path"].is_string(),
                "{}",
                f.key
            );
        }
    }
}
