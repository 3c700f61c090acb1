//! More aggregation types on the real engine: top_metrics, top_hits, multi_terms, composite, and
//! further metrics. Every expected value is computed here from the generated documents, not from
//! the SQL the daemon builds. Response shapes follow Elasticsearch's docs and the toXContent of
//! the internal aggregation classes cited at each test.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();
const IDX: &str = "agg-more";
const HOSTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const STATUSES: [i64; 5] = [200, 200, 404, 500, 301];

/// Epoch millis of doc i: every 61 minutes from 2024-03-29T00:00Z.
fn ts(i: i64) -> i64 {
    1_711_670_400_000 + i * 61 * 60_000
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

async fn docs() -> &'static Vec<Value> {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "host": {"type": "keyword"},
                "status": {"type": "integer"},
                "bytes": {"type": "long"},
                "latency": {"type": "double"},
                "weight": {"type": "double"},
                "tags": {"type": "keyword"},
                "ok": {"type": "boolean"}
            }}});
            assert_eq!(json_req("PUT", &format!("/{IDX}"), &mapping).await.status, 200);
            let mut all = Vec::new();
            let mut body = String::new();
            for i in 0..90i64 {
                let mut d = json!({
                    "@timestamp": ts(i),
                    "host": HOSTS[(i * 5 % 7 % 4) as usize],
                    "status": STATUSES[(i % 5) as usize],
                    "bytes": (i * 37) % 1000,
                    "latency": ((i * 13) % 50) as f64 / 4.0,
                    "weight": (i % 3 + 1) as f64,
                    "tags": match i % 4 { 0 => json!(["a", "b"]), 1 => json!(["b"]), 2 => json!(["a", "c"]), _ => json!([]) },
                    "ok": i % 3 != 0
                });
                if i % 6 == 0 {
                    d.as_object_mut().unwrap().remove("bytes");
                }
                d.as_object_mut().unwrap().insert("n".into(), json!(i));
                body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
                all.push(d);
            }
            let r = bulk(&format!("/{IDX}/_bulk?refresh=true"), &body).await;
            assert_eq!(r.json()["errors"], false, "{}", r.text);
            all
        })
        .await
}

async fn aggs(body: Value) -> Value {
    docs().await;
    let r = json_req("POST", &format!("/{IDX}/_search"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["aggregations"].clone()
}

fn close(a: &Value, b: f64) {
    let x = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((x - b).abs() < 1e-9 * b.abs().max(1.0), "{x} != {b}");
}

fn of_host<'a>(d: &'a [Value], h: &str) -> Vec<&'a Value> {
    d.iter().filter(|x| x["host"] == h).collect()
}

/// top_metrics as Kibana Lens "last value" asks for it (sort by @timestamp desc, size 1), and
/// with size 2 and two metrics. Shape: InternalTopMetrics#doXContentBody / TopMetric#toXContent
/// (x-pack/plugin/analytics/.../topmetrics/InternalTopMetrics.java): `{"top": [{"sort": [v],
/// "metrics": {field: v}}]}`; a date sort value is shown with the field's format, a long metric
/// as a long, a missing metric as null; search-aggregations-metrics-top-metrics.html.
#[tokio::test]
async fn top_metrics_last_value_per_host() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "last": {"top_metrics": {"metrics": {"field": "latency"}, "sort": {"@timestamp": "desc"}}},
        "hosts": {"terms": {"field": "host"}, "aggs": {
            "tm": {"top_metrics": {"metrics": [{"field": "bytes"}, {"field": "latency"}],
                   "sort": [{"@timestamp": {"order": "desc"}}], "size": 2}},
            "low": {"top_metrics": {"metrics": {"field": "status"}, "sort": {"latency": "asc"}}}
        }}
    }}))
    .await;
    let newest = d.iter().max_by_key(|x| x["@timestamp"].as_i64()).unwrap();
    assert_eq!(
        a["last"],
        json!({"top": [{"sort": [iso(newest["@timestamp"].as_i64().unwrap())],
                        "metrics": {"latency": newest["latency"]}}]})
    );
    let buckets = a["hosts"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 4);
    for b in buckets {
        let mut mine = of_host(d, b["key"].as_str().unwrap());
        mine.sort_by_key(|x| std::cmp::Reverse(x["@timestamp"].as_i64()));
        let want: Vec<Value> = mine[..2]
            .iter()
            .map(|x| {
                json!({"sort": [iso(x["@timestamp"].as_i64().unwrap())],
                       "metrics": {"bytes": x.get("bytes").cloned().unwrap_or(Value::Null),
                                   "latency": x["latency"]}})
            })
            .collect();
        assert_eq!(b["tm"]["top"], json!(want), "{}", b["key"]);
        let lowest = mine
            .iter()
            .map(|x| x["latency"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(b["low"]["top"][0]["sort"], json!([lowest]));
        assert_eq!(b["low"]["top"].as_array().unwrap().len(), 1);
    }
    // No documents: an empty list.
    let a = aggs(
        json!({"size": 0, "query": {"term": {"host": "nope"}}, "aggs": {
        "tm": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"@timestamp": "desc"}}}}}),
    )
    .await;
    assert_eq!(a["tm"], json!({"top": []}));
}

/// top_hits: hits shaped as search hits (`hits.total`, `max_score`, `_index`, `_id`, `_score`,
/// `_source`, `sort`), `from`/`size`, `_source` filtering; sorted by a field, `_score` and
/// `max_score` are null (search-aggregations-metrics-top-hits-aggregation.html, InternalTopHits).
/// A missing long sort value sorts last and shows as Long.MIN_VALUE in a descending sort.
#[tokio::test]
async fn top_hits_per_host_sorted_by_a_field() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "hosts": {"terms": {"field": "host"}, "aggs": {
            "top": {"top_hits": {"size": 2, "from": 1, "sort": [{"bytes": "desc"}],
                    "_source": {"includes": ["host", "bytes"]}}}
        }},
        "newest": {"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": "desc"}}], "_source": false}},
        "by_score": {"top_hits": {"size": 3}}
    }}))
    .await;
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let h = b["key"].as_str().unwrap();
        let mut mine = of_host(d, h);
        mine.sort_by_key(|x| std::cmp::Reverse(x["bytes"].as_i64().unwrap_or(i64::MIN)));
        let want: Vec<Value> = mine[1..3]
            .iter()
            .map(|x| {
                let mut src = serde_json::Map::new();
                src.insert("host".into(), x["host"].clone());
                if let Some(v) = x.get("bytes") {
                    src.insert("bytes".into(), v.clone());
                }
                json!({"_index": IDX, "_id": x["n"].to_string(), "_score": null,
                       "_source": src, "sort": [x["bytes"].as_i64().unwrap_or(i64::MIN)]})
            })
            .collect();
        assert_eq!(
            b["top"],
            json!({"hits": {"total": {"value": mine.len(), "relation": "eq"},
                            "max_score": null, "hits": want}}),
            "{h}"
        );
    }
    let newest = d.iter().max_by_key(|x| x["@timestamp"].as_i64()).unwrap();
    assert_eq!(
        a["newest"]["hits"]["hits"],
        json!([{"_index": IDX, "_id": newest["n"].to_string(), "_score": null,
                "sort": [newest["@timestamp"]]}])
    );
    // Default: by score (match_all scores every document 1.0).
    let h = &a["by_score"]["hits"];
    assert_eq!(h["total"], json!({"value": d.len(), "relation": "eq"}));
    assert_eq!(h["max_score"], 1.0);
    assert_eq!(h["hits"].as_array().unwrap().len(), 3);
    for hit in h["hits"].as_array().unwrap() {
        assert_eq!(hit["_score"], 1.0);
        let n = hit["_source"]["n"].as_u64().unwrap() as usize;
        assert_eq!(hit["_source"], d[n]);
        assert!(hit.get("sort").is_none());
    }
}

#[tokio::test]
async fn top_hits_and_top_metrics_errors() {
    docs().await;
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"n": "desc"}, "size": 11}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e.to_string().contains("top_metrics_max_size"), "{e}");
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"top_hits": {"highlight": {"fields": {"host": {}}}}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("highlight"), "{}", r.text);
}

fn count_by<K: Ord>(d: &[Value], key: impl Fn(&Value) -> Vec<K>) -> BTreeMap<K, u64> {
    let mut m = BTreeMap::new();
    for x in d {
        for k in key(x) {
            *m.entry(k).or_insert(0) += 1;
        }
    }
    m
}

/// multi_terms (Kibana Lens "multiple terms"): buckets of field-value combinations, key as a list
/// and key_as_string joined with `|` (InternalMultiTerms.Bucket#toXContent, getKeyAsString), ordered
/// by `_count` desc then key asc by default, `sum_other_doc_count` as terms; a multi-valued field
/// yields every combination; booleans show as true/false; docs missing a field are left out
/// (search-aggregations-bucket-multi-terms-aggregation.html).
#[tokio::test]
async fn multi_terms_combinations() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "hs": {"multi_terms": {"terms": [{"field": "host"}, {"field": "status"}], "size": 5},
               "aggs": {"lat": {"avg": {"field": "latency"}}}},
        "by_key": {"multi_terms": {"terms": [{"field": "ok"}, {"field": "host"}], "order": {"_key": "asc"}}},
        "tags": {"multi_terms": {"terms": [{"field": "tags"}, {"field": "host"}], "size": 100}},
        "miss": {"multi_terms": {"terms": [{"field": "host"}, {"field": "bytes", "missing": -1}], "size": 1000}}
    }}))
    .await;
    let want = count_by(d, |x| {
        vec![(
            x["host"].as_str().unwrap().to_string(),
            x["status"].as_i64().unwrap(),
        )]
    });
    let mut ranked: Vec<_> = want.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got = a["hs"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), 5);
    for (b, ((h, s), n)) in got.iter().zip(&ranked) {
        assert_eq!(b["key"], json!([h, s]));
        assert_eq!(b["key_as_string"], format!("{h}|{s}"));
        assert_eq!(b["doc_count"], *n);
        let lat: Vec<f64> = d
            .iter()
            .filter(|x| x["host"] == *h && x["status"] == *s)
            .map(|x| x["latency"].as_f64().unwrap())
            .collect();
        close(
            &b["lat"]["value"],
            lat.iter().sum::<f64>() / lat.len() as f64,
        );
    }
    assert_eq!(
        a["hs"]["sum_other_doc_count"],
        ranked[5..].iter().map(|x| x.1).sum::<u64>()
    );
    assert_eq!(a["hs"]["doc_count_error_upper_bound"], 0);

    // Ordered by key: false < true, then host.
    let want = count_by(d, |x| {
        vec![(
            x["ok"].as_bool().unwrap(),
            x["host"].as_str().unwrap().to_string(),
        )]
    });
    let got: Vec<(Value, Value, Value)> = a["by_key"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].clone(),
                b["key_as_string"].clone(),
                b["doc_count"].clone(),
            )
        })
        .collect();
    let expect: Vec<(Value, Value, Value)> = want
        .iter()
        .map(|((o, h), n)| (json!([o, h]), json!(format!("{o}|{h}")), json!(n)))
        .collect();
    assert_eq!(got, expect);

    // Every (tag, host) combination of a document; documents without tags are in none.
    let want = count_by(d, |x| {
        x["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t.as_str().unwrap().to_string(),
                    x["host"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    });
    let got: BTreeMap<(String, String), u64> = a["tags"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (
                    b["key"][0].as_str().unwrap().to_string(),
                    b["key"][1].as_str().unwrap().to_string(),
                ),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // `missing` per term stands in for documents without the field.
    let got = a["miss"]["buckets"].as_array().unwrap();
    let with_missing = got
        .iter()
        .filter(|b| b["key"][1] == -1)
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(
        with_missing,
        d.iter().filter(|x| x.get("bytes").is_none()).count() as u64
    );
    assert_eq!(
        got.iter()
            .map(|b| b["doc_count"].as_u64().unwrap())
            .sum::<u64>(),
        d.len() as u64
    );
}

/// composite: paging through every (host, day) bucket with `after`/`after_key`, in the sources'
/// order (host asc, day desc); date_histogram keys are epoch millis; `missing_bucket` keeps
/// documents without a value under a `null` key, first in ascending order (missing_order
/// default); sub-aggregations per bucket. Shape: InternalComposite#doXContentBody (`after_key`
/// then `buckets` of `{"key": {name: value}, "doc_count"}`),
/// search-aggregations-bucket-composite-aggregation.html.
#[tokio::test]
async fn composite_pages_through_every_bucket() {
    let d = docs().await;
    let day = |x: &Value| x["@timestamp"].as_i64().unwrap() / 86_400_000 * 86_400_000;
    let mut want: Vec<((String, i64), u64)> = count_by(d, |x| {
        vec![(x["host"].as_str().unwrap().to_string(), day(x))]
    })
    .into_iter()
    .collect();
    want.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(b.0.1.cmp(&a.0.1)));
    let mut after: Option<Value> = None;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let mut comp = json!({"size": 3, "sources": [
            {"h": {"terms": {"field": "host"}}},
            {"d": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d", "order": "desc"}}}
        ]});
        if let Some(a) = &after {
            comp["after"] = a.clone();
        }
        let a = aggs(json!({"size": 0, "aggs": {"c": {"composite": comp,
            "aggs": {"mx": {"max": {"field": "latency"}}}}}}))
        .await;
        let buckets = a["c"]["buckets"].as_array().unwrap().clone();
        if buckets.is_empty() {
            assert!(a["c"].get("after_key").is_none());
            break;
        }
        assert!(buckets.len() <= 3);
        assert_eq!(a["c"]["after_key"], buckets.last().unwrap()["key"]);
        for b in &buckets {
            let h = b["key"]["h"].as_str().unwrap().to_string();
            let k = b["key"]["d"].as_i64().unwrap();
            let mx = d
                .iter()
                .filter(|x| x["host"] == h.as_str() && day(x) == k)
                .map(|x| x["latency"].as_f64().unwrap())
                .fold(f64::NEG_INFINITY, f64::max);
            close(&b["mx"]["value"], mx);
            got.push(((h, k), b["doc_count"].as_u64().unwrap()));
        }
        after = Some(a["c"]["after_key"].clone());
        pages += 1;
        assert!(pages < 100);
    }
    assert_eq!(got, want);

    // missing_bucket on a histogram of bytes: the null bucket comes first.
    let a = aggs(
        json!({"size": 0, "aggs": {"c": {"composite": {"size": 100, "sources": [
            {"b": {"histogram": {"field": "bytes", "interval": 250, "missing_bucket": true}}},
            {"ok": {"terms": {"field": "ok"}}}
        ]}}}}),
    )
    .await;
    // BTreeMap order: None first, then ascending — the composite order.
    let want: Vec<((Option<i64>, bool), u64)> = count_by(d, |x| {
        vec![(
            x["bytes"].as_i64().map(|b| b / 250 * 250),
            x["ok"].as_bool().unwrap(),
        )]
    })
    .into_iter()
    .collect();
    let got: Vec<Value> = a["c"]["buckets"].as_array().unwrap().clone();
    let expect: Vec<Value> = want
        .iter()
        .map(|((b, ok), n)| json!({"key": {"b": b.map(|x| x as f64), "ok": ok}, "doc_count": n}))
        .collect();
    assert_eq!(got, expect);
    // Under another bucket aggregation: an error, as Elasticsearch.
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"terms": {"field": "host"}, "aggs": {
            "c": {"composite": {"sources": [{"h": {"terms": {"field": "host"}}}]}}}}}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

const GEO: &str = "agg-geo";
static GEO_LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();

/// Points as Lucene's doc values hold them (GeoEncodingUtils: 32-bit quantisation).
fn q_lat(v: f64) -> f64 {
    let step = 180.0 / 2f64.powi(32);
    (v / step).floor() * step
}
fn q_lon(v: f64) -> f64 {
    let step = 360.0 / 2f64.powi(32);
    (v / step).floor() * step
}

/// Documents with one point, two points (an array) or none; group `g` 0..3, `far` marks points
/// on both sides of the antimeridian.
async fn geo_docs() -> &'static Vec<Value> {
    GEO_LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "loc": {"type": "geo_point"}, "g": {"type": "integer"}, "far": {"type": "boolean"}}}});
            assert_eq!(json_req("PUT", &format!("/{GEO}"), &mapping).await.status, 200);
            let mut all = Vec::new();
            let mut body = String::new();
            for i in 0..40i64 {
                let lat = -60.0 + (i * 37 % 120) as f64 + 0.123456789;
                let lon = -170.0 + (i * 53 % 340) as f64 + 0.987654321;
                let far = i % 10 == 0;
                let d = match i % 7 {
                    0 => json!({"g": i % 3, "far": far}),
                    1 => json!({"g": i % 3, "far": far, "loc": [{"lat": lat, "lon": lon}, {"lat": -lat / 2.0, "lon": lon / 3.0}]}),
                    _ if far => json!({"g": i % 3, "far": true, "loc": {"lat": lat, "lon": if i % 20 == 0 { 179.5 } else { -179.25 }}}),
                    _ => json!({"g": i % 3, "far": far, "loc": {"lat": lat, "lon": lon}}),
                };
                body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
                all.push(d);
            }
            let r = bulk(&format!("/{GEO}/_bulk?refresh=true"), &body).await;
            assert_eq!(r.json()["errors"], false, "{}", r.text);
            all
        })
        .await
}

fn points(d: &Value) -> Vec<(f64, f64)> {
    match &d["loc"] {
        Value::Array(a) => a
            .iter()
            .map(|p| {
                (
                    q_lat(p["lat"].as_f64().unwrap()),
                    q_lon(p["lon"].as_f64().unwrap()),
                )
            })
            .collect(),
        Value::Object(p) => vec![(
            q_lat(p["lat"].as_f64().unwrap()),
            q_lon(p["lon"].as_f64().unwrap()),
        )],
        _ => vec![],
    }
}

/// GeoTileUtils: Web Mercator tile of a point at zoom z.
fn tile(lat: f64, lon: f64, z: u32) -> String {
    let n = (1u64 << z) as f64;
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let s = lat.to_radians().sin();
    let y = ((0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)) * n)
        .floor()
        .clamp(0.0, n - 1.0);
    format!("{z}/{x}/{y}")
}

/// geo_centroid (`{"location": {"lat", "lon"}, "count"}`, InternalGeoCentroid), geo_bounds
/// (`{"bounds": {"top_left", "bottom_right"}}`, InternalGeoBounds; the narrower box across the
/// antimeridian with wrap_longitude) and geotile_grid (`z/x/y` keys, doc_count desc; a
/// document counts once per distinct tile; search-aggregations-bucket-geotilegrid-aggregation.html)
/// — the Kibana Maps requests — on quantised points as Lucene stores them.
#[tokio::test]
async fn geo_centroid_bounds_and_tiles() {
    let d = geo_docs().await;
    let r = json_req("POST", &format!("/{GEO}/_search"), &json!({"size": 0, "aggs": {
        "c": {"geo_centroid": {"field": "loc"}},
        "b": {"geo_bounds": {"field": "loc"}},
        "far": {"filter": {"term": {"far": true}}, "aggs": {
            "b": {"geo_bounds": {"field": "loc"}},
            "nowrap": {"geo_bounds": {"field": "loc", "wrap_longitude": false}}}},
        "none": {"filter": {"term": {"g": 99}}, "aggs": {
            "c": {"geo_centroid": {"field": "loc"}}, "b": {"geo_bounds": {"field": "loc"}}}},
        "tiles": {"geotile_grid": {"field": "loc", "precision": 3}, "aggs": {"c": {"geo_centroid": {"field": "loc"}}}},
        "by_g": {"terms": {"field": "g"}, "aggs": {"t": {"geotile_grid": {"field": "loc", "precision": 1, "size": 2}}}}
    }})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let all: Vec<(f64, f64)> = d.iter().flat_map(points).collect();
    let n = all.len() as f64;
    assert_eq!(a["c"]["count"], all.len());
    close(
        &a["c"]["location"]["lat"],
        all.iter().map(|p| p.0).sum::<f64>() / n,
    );
    close(
        &a["c"]["location"]["lon"],
        all.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let top = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let bottom = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    // InternalGeoBounds with wrap_longitude: of the box [min lon, max lon] and the box from the
    // smallest positive to the largest negative longitude (across ±180), the narrower.
    let lr = |pts: &[(f64, f64)], wrap: bool| {
        let lons = pts.iter().map(|p| p.1);
        let neg_l = lons
            .clone()
            .filter(|l| *l < 0.0)
            .fold(f64::INFINITY, f64::min);
        let neg_r = lons
            .clone()
            .filter(|l| *l < 0.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let pos_l = lons
            .clone()
            .filter(|l| *l >= 0.0)
            .fold(f64::INFINITY, f64::min);
        let pos_r = lons.filter(|l| *l >= 0.0).fold(f64::NEG_INFINITY, f64::max);
        if wrap && (180.0 - pos_l) - (-180.0 - neg_r) < pos_r - neg_l {
            (pos_l, neg_r)
        } else {
            (neg_l, pos_r)
        }
    };
    let (left, right) = lr(&all, true);
    assert!(
        left > right,
        "these points are narrower across the antimeridian"
    );
    assert_eq!(
        a["b"],
        json!({"bounds": {"top_left": {"lat": top, "lon": left}, "bottom_right": {"lat": bottom, "lon": right}}})
    );
    let far: Vec<(f64, f64)> = d
        .iter()
        .filter(|x| x["far"] == true)
        .flat_map(points)
        .collect();
    let (l, r) = lr(&far, true);
    assert_eq!(a["far"]["b"]["bounds"]["top_left"]["lon"], l);
    assert_eq!(a["far"]["b"]["bounds"]["bottom_right"]["lon"], r);
    let neg_left = far.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    assert_eq!(a["far"]["nowrap"]["bounds"]["top_left"]["lon"], neg_left);
    assert_eq!(a["none"]["c"], json!({"count": 0}));
    assert_eq!(a["none"]["b"], json!({}));

    let tiles = count_by(d, |x| {
        let mut t: Vec<String> = points(x).iter().map(|p| tile(p.0, p.1, 3)).collect();
        t.sort();
        t.dedup();
        t
    });
    let got = a["tiles"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), tiles.len());
    let mut prev = u64::MAX;
    for b in got {
        let k = b["key"].as_str().unwrap();
        let n = b["doc_count"].as_u64().unwrap();
        assert_eq!(n, tiles[k], "{k}");
        assert!(n <= prev);
        prev = n;
        // A sub-aggregation sees the whole document: every point of a document in the tile.
        let mine: usize = d
            .iter()
            .map(points)
            .filter(|ps| ps.iter().any(|p| tile(p.0, p.1, 3) == k))
            .map(|ps| ps.len())
            .sum();
        assert_eq!(b["c"]["count"], mine);
    }
    for b in a["by_g"]["buckets"].as_array().unwrap() {
        let g = b["key"].as_i64().unwrap();
        let want = count_by(d, |x| {
            if x["g"] != g {
                return vec![];
            }
            let mut t: Vec<String> = points(x).iter().map(|p| tile(p.0, p.1, 1)).collect();
            t.sort();
            t.dedup();
            t
        });
        let mut ranked: Vec<(String, u64)> = want.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let got: Vec<(String, u64)> = b["t"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().to_string(),
                    t["doc_count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, ranked[..ranked.len().min(2)].to_vec(), "g={g}");
    }
}

/// serial_diff (value minus the value `lag` buckets back; none for the first `lag` buckets,
/// SerialDiffPipelineAggregator), normalize (rescale_0_1, percent_of_sum, z-score; NormalizePipelineMethods),
/// percentiles_bucket (nearest rank: round(p/100·(n−1)) of the sorted values,
/// PercentilesBucketPipelineAggregator; keyed and list forms) and extended_stats_bucket
/// (ExtendedStatsBucket: the extended_stats body over the bucket values); docs:
/// search-aggregations-pipeline-*.html.
#[tokio::test]
async fn serial_diff_normalize_and_bucket_statistics() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "12h"}, "aggs": {
            "b": {"sum": {"field": "bytes"}},
            "sd": {"serial_diff": {"buckets_path": "b", "lag": 2}},
            "r": {"normalize": {"buckets_path": "b", "method": "rescale_0_1"}},
            "ps": {"normalize": {"buckets_path": "b", "method": "percent_of_sum"}},
            "z": {"normalize": {"buckets_path": "b", "method": "z-score"}}
        }},
        "pb": {"percentiles_bucket": {"buckets_path": "h>b", "percents": [10, 50, 90]}},
        "pl": {"percentiles_bucket": {"buckets_path": "h>b", "percents": [50], "keyed": false}},
        "es": {"extended_stats_bucket": {"buckets_path": "h>b", "sigma": 3}}
    }}))
    .await;
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for x in d {
        let k = x["@timestamp"].as_i64().unwrap() / 43_200_000 * 43_200_000;
        *sums.entry(k).or_default() += x["bytes"].as_f64().unwrap_or(0.0);
    }
    let v: Vec<f64> = sums.values().copied().collect();
    let b = a["h"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), v.len());
    let (min, max) = (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let total: f64 = v.iter().sum();
    let mean = total / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    for (i, bk) in b.iter().enumerate() {
        if i < 2 {
            assert!(bk.get("sd").is_none());
        } else {
            close(&bk["sd"]["value"], v[i] - v[i - 2]);
        }
        close(&bk["r"]["value"], (v[i] - min) / (max - min));
        close(&bk["ps"]["value"], v[i] / total);
        close(&bk["z"]["value"], (v[i] - mean) / sd);
    }
    let mut sorted = v.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = |p: f64| sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize];
    assert_eq!(
        a["pb"]["values"],
        json!({"10.0": rank(10.0), "50.0": rank(50.0), "90.0": rank(90.0)})
    );
    assert_eq!(
        a["pl"]["values"],
        json!([{"key": 50.0, "value": rank(50.0)}])
    );
    let n = v.len() as f64;
    let sq: f64 = v.iter().map(|x| x * x).sum();
    assert_eq!(a["es"]["count"], v.len());
    close(&a["es"]["sum"], total);
    close(&a["es"]["sum_of_squares"], sq);
    close(&a["es"]["variance"], sd * sd);
    close(&a["es"]["std_deviation"], sd);
    let samp = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    close(&a["es"]["std_deviation_sampling"], samp);
    close(&a["es"]["std_deviation_bounds"]["upper"], mean + 3.0 * sd);
    close(
        &a["es"]["std_deviation_bounds"]["lower_sampling"],
        mean - 3.0 * samp,
    );
    close(&a["es"]["min"], min);
    close(&a["es"]["max"], max);
}

/// weighted_avg (Σ value·weight / Σ weight over documents having both, `missing` standing in;
/// search-aggregations-metrics-weight-avg-aggregation.html), median_absolute_deviation
/// (median of |x − median|; Elasticsearch's digest is exact on small sets, interpolating
/// medians of even counts; InternalMedianAbsoluteDeviation) and string_stats (count, min/max/avg
/// length, Shannon entropy in bits over all characters, distribution; InternalStringStats).
#[tokio::test]
async fn weighted_avg_mad_and_string_stats() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}},
        "wm": {"weighted_avg": {"value": {"field": "bytes", "missing": 500}, "weight": {"field": "weight"}}},
        "mad": {"median_absolute_deviation": {"field": "latency"}},
        "hosts": {"terms": {"field": "host"}, "aggs": {"mad": {"median_absolute_deviation": {"field": "bytes"}}}},
        "ss": {"string_stats": {"field": "host", "show_distribution": true}},
        "tags": {"string_stats": {"field": "tags"}},
        "none": {"filter": {"term": {"host": "nope"}}, "aggs": {
            "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}},
            "ss": {"string_stats": {"field": "host"}}}}
    }}))
    .await;
    let (mut s, mut w, mut sm, mut wm) = (0.0, 0.0, 0.0, 0.0);
    for x in d {
        let wt = x["weight"].as_f64().unwrap();
        if let Some(b) = x["bytes"].as_f64() {
            s += b * wt;
            w += wt;
        }
        sm += x["bytes"].as_f64().unwrap_or(500.0) * wt;
        wm += wt;
    }
    close(&a["w"]["value"], s / w);
    close(&a["wm"]["value"], sm / wm);
    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let mad = |vals: Vec<f64>| {
        let mut v = vals.clone();
        let m = median(&mut v);
        let mut dev: Vec<f64> = vals.iter().map(|x| (x - m).abs()).collect();
        median(&mut dev)
    };
    close(
        &a["mad"]["value"],
        mad(d.iter().map(|x| x["latency"].as_f64().unwrap()).collect()),
    );
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let vals: Vec<f64> = of_host(d, b["key"].as_str().unwrap())
            .iter()
            .filter_map(|x| x["bytes"].as_f64())
            .collect();
        close(&b["mad"]["value"], mad(vals));
    }
    // string_stats over the host values.
    let hosts: Vec<&str> = d.iter().map(|x| x["host"].as_str().unwrap()).collect();
    let total: usize = hosts.iter().map(|h| h.chars().count()).sum();
    let mut freq: BTreeMap<char, f64> = BTreeMap::new();
    for h in &hosts {
        for c in h.chars() {
            *freq.entry(c).or_default() += 1.0;
        }
    }
    let entropy: f64 = freq
        .values()
        .map(|c| {
            let p = c / total as f64;
            -p * p.log2()
        })
        .sum();
    assert_eq!(a["ss"]["count"], hosts.len());
    assert_eq!(
        a["ss"]["min_length"],
        hosts.iter().map(|h| h.len()).min().unwrap()
    );
    assert_eq!(
        a["ss"]["max_length"],
        hosts.iter().map(|h| h.len()).max().unwrap()
    );
    close(&a["ss"]["avg_length"], total as f64 / hosts.len() as f64);
    close(&a["ss"]["entropy"], entropy);
    let dist = a["ss"]["distribution"].as_object().unwrap();
    assert_eq!(dist.len(), freq.len());
    for (c, n) in &freq {
        close(&dist[&c.to_string()], n / total as f64);
    }
    let tag_count: usize = d.iter().map(|x| x["tags"].as_array().unwrap().len()).sum();
    assert_eq!(a["tags"]["count"], tag_count);
    assert_eq!(a["tags"]["max_length"], 1);
    assert_eq!(a["none"]["w"], json!({"value": null}));
    assert_eq!(
        a["none"]["ss"],
        json!({"count": 0, "min_length": null, "max_length": null, "avg_length": null, "entropy": 0.0})
    );
}

/// rare_terms: terms of at most `max_doc_count` documents, ordered by doc_count then key
/// (InternalRareTerms; search-aggregations-bucket-rare-terms-aggregation.html); adjacency_matrix:
/// one bucket per filter and per pair `A&B` (filters sorted by name), empty cells left out,
/// buckets by key (search-aggregations-bucket-adjacency-matrix-aggregation.html).
#[tokio::test]
async fn rare_terms_and_adjacency_matrix() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "rare": {"rare_terms": {"field": "bytes", "max_doc_count": 1, "exclude": ["0"]}},
        "rare_status": {"rare_terms": {"field": "status", "max_doc_count": 18}},
        "m": {"adjacency_matrix": {"filters": {
            "ok": {"term": {"ok": true}},
            "a": {"term": {"tags": "a"}},
            "s404": {"term": {"status": 404}},
            "nope": {"term": {"host": "nope"}}
        }}, "aggs": {"b": {"sum": {"field": "bytes"}}}}
    }}))
    .await;
    let bytes = count_by(d, |x| x["bytes"].as_i64().into_iter().collect());
    let want: Vec<Value> = bytes
        .iter()
        .filter(|(k, n)| **n <= 1 && **k != 0)
        .map(|(k, n)| json!({"key": k, "doc_count": n}))
        .collect();
    assert_eq!(a["rare"]["buckets"], json!(want));
    let st = count_by(d, |x| vec![x["status"].as_i64().unwrap()]);
    let mut want: Vec<(u64, i64)> = st
        .iter()
        .filter(|(_, n)| **n <= 18)
        .map(|(k, n)| (*n, *k))
        .collect();
    want.sort();
    let got: Vec<(u64, i64)> = a["rare_status"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["doc_count"].as_u64().unwrap(), b["key"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, want);

    type Pred = fn(&Value) -> bool;
    let preds: [(&str, Pred); 4] = [
        ("a", |x| {
            x["tags"].as_array().unwrap().iter().any(|t| t == "a")
        }),
        ("nope", |x| x["host"] == "nope"),
        ("ok", |x| x["ok"] == true),
        ("s404", |x| x["status"] == 404),
    ];
    let mut want = Vec::new();
    for i in 0..preds.len() {
        for j in i..preds.len() {
            let key = if i == j {
                preds[i].0.to_string()
            } else {
                format!("{}&{}", preds[i].0, preds[j].0)
            };
            let docs: Vec<&Value> = d
                .iter()
                .filter(|x| preds[i].1(x) && preds[j].1(x))
                .collect();
            if !docs.is_empty() {
                let sum: f64 = docs.iter().filter_map(|x| x["bytes"].as_f64()).sum();
                want.push((key, docs.len(), sum));
            }
        }
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let got = a["m"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (b, (k, n, sum)) in got.iter().zip(&want) {
        assert_eq!(b["key"], *k);
        assert_eq!(b["doc_count"], *n);
        close(&b["b"]["value"], *sum);
    }
}

/// percentile_ranks: 100 · cdf(v) with the cdf of Elasticsearch's digest over all values
/// (org.elasticsearch.tdigest.Dist#cdf on sorted data: 0 below the smallest value, else
/// (0.5 + #{later values < v} + interpolation to the next larger value, or half the count of
/// later values equal to v) / n); keyed by the value's double text, or a list
/// (search-aggregations-metrics-percentile-rank-aggregation.html).
#[tokio::test]
async fn percentile_ranks_keyed_and_list() {
    let d = docs().await;
    let vals: [f64; 6] = [-1.0, 0.0, 3.3, 5.0, 11.25, 100.0];
    let a = aggs(json!({"size": 0, "aggs": {
        "pr": {"percentile_ranks": {"field": "latency", "values": vals}},
        "list": {"percentile_ranks": {"field": "latency", "values": [5.0], "keyed": false}},
        "none": {"filter": {"term": {"host": "nope"}}, "aggs": {
            "pr": {"percentile_ranks": {"field": "latency", "values": [1]}}}}
    }}))
    .await;
    let mut s: Vec<f64> = d.iter().map(|x| x["latency"].as_f64().unwrap()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let cdf = |x: f64| -> f64 {
        let n = s.len() as f64;
        if x < s[0] {
            return 0.0;
        }
        let mut n1 = 0.5;
        let mut n2 = 0.0;
        for i in 1..s.len() {
            if s[i] > x {
                if n2 > 0.0 {
                    return (n1 + 0.5 * n2) / n;
                }
                return (n1 + (x - s[i - 1]) / (s[i] - s[i - 1])) / n;
            }
            if s[i] < x {
                n1 += 1.0;
            } else {
                n2 += 1.0;
            }
        }
        (n - 0.5 * n2) / n
    };
    for v in vals {
        let key = if v.fract() == 0.0 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        };
        close(&a["pr"]["values"][&key], (cdf(v) * 100.0).clamp(0.0, 100.0));
    }
    assert_eq!(a["list"]["values"][0]["key"], 5.0);
    close(&a["list"]["values"][0]["value"], cdf(5.0) * 100.0);
    assert_eq!(a["none"]["pr"], json!({"values": {"1.0": null}}));
}

/// Terms top-N cut inside ClickHouse (row_number per parent bucket): the same buckets and
/// `sum_other_doc_count` as Elasticsearch's (InternalTerms reduce: other = every count beyond
/// the top `size`), at two levels, with a multi-valued field and documents missing the field.
#[tokio::test]
async fn terms_top_n_pushdown_keeps_counts_exact() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "h": {"terms": {"field": "host", "size": 2}, "aggs": {
            "s": {"terms": {"field": "status", "size": 1}},
            "b": {"terms": {"field": "bytes", "size": 3}}}},
        "tags": {"terms": {"field": "tags", "size": 1}}
    }}))
    .await;
    let hosts = count_by(d, |x| vec![x["host"].as_str().unwrap().to_string()]);
    let mut ranked: Vec<(String, u64)> = hosts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got = a["h"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        a["h"]["sum_other_doc_count"],
        ranked[2..].iter().map(|x| x.1).sum::<u64>()
    );
    for (b, (h, n)) in got.iter().zip(&ranked) {
        assert_eq!(b["key"], *h);
        assert_eq!(b["doc_count"], *n);
        let mine = of_host(d, h);
        let mut st: Vec<(i64, u64)> = count_by(
            &mine.iter().map(|x| (*x).clone()).collect::<Vec<_>>(),
            |x| vec![x["status"].as_i64().unwrap()],
        )
        .into_iter()
        .collect();
        st.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(
            b["s"]["buckets"],
            json!([{"key": st[0].0, "doc_count": st[0].1}])
        );
        assert_eq!(
            b["s"]["sum_other_doc_count"],
            st[1..].iter().map(|x| x.1).sum::<u64>()
        );
        // bytes are unique per document: top 3 by key asc among count 1; docs without bytes
        // are in no bucket.
        let mut by: Vec<i64> = mine.iter().filter_map(|x| x["bytes"].as_i64()).collect();
        by.sort();
        let want: Vec<Value> = by[..3]
            .iter()
            .map(|k| json!({"key": k, "doc_count": 1}))
            .collect();
        assert_eq!(b["b"]["buckets"], json!(want));
        assert_eq!(b["b"]["sum_other_doc_count"], by.len() - 3);
    }
    let tags = count_by(d, |x| {
        let mut v: Vec<String> = x["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        v.dedup();
        v
    });
    let mut ranked: Vec<(String, u64)> = tags.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(
        a["tags"]["buckets"],
        json!([{"key": ranked[0].0, "doc_count": ranked[0].1}])
    );
    assert_eq!(
        a["tags"]["sum_other_doc_count"],
        ranked[1..].iter().map(|x| x.1).sum::<u64>()
    );
}

/// The ClickHouse statements a traced search sent that read the index (debug UI API).
async fn sql_of(body: &Value, opaque: &str) -> (Value, Vec<String>) {
    docs().await;
    let r = client()
        .post(format!("http://{}/{IDX}/_search", daemon().es))
        .header("content-type", "application/json")
        .header("x-opaque-id", opaque)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let list = ui_get(&format!("/api/requests?q={opaque}")).await.json();
    let id = list["requests"][0]["id"].as_u64().expect("traced request");
    let full = ui_get(&format!("/api/requests/{id}")).await.json();
    let sql = full["sql"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["sql"].as_str().unwrap().to_string())
        .filter(|q| q.starts_with("SELECT") && q.contains(IDX))
        .collect();
    (v, sql)
}

/// The query-cost table of docs/aggregations.md: terms × top_metrics × top_hits × composite-free
/// trees stay one grouping query, and the terms top-N is ranked inside it.
#[tokio::test]
async fn one_query_for_top_metrics_top_hits_and_terms_top_n() {
    let body = json!({"size": 0, "aggs": {"h": {"terms": {"field": "host", "size": 2}, "aggs": {
        "last": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"@timestamp": "desc"}}},
        "hits": {"top_hits": {"size": 1, "sort": [{"bytes": "asc"}]}},
        "mt": {"multi_terms": {"terms": [{"field": "status"}, {"field": "ok"}]}},
        "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}}
    }}}});
    let (v, sql) = sql_of(&body, "aggs-cost-1").await;
    assert_eq!(
        v["aggregations"]["h"]["buckets"].as_array().unwrap().len(),
        2
    );
    // One aggregation query (plus the count query answering hits.total).
    let agg: Vec<&String> = sql.iter().filter(|q| q.contains("GROUPING SETS")).collect();
    assert_eq!(agg.len(), 1, "{sql:#?}");
    assert!(agg[0].contains("row_number"), "{}", agg[0]);
    assert!(agg[0].contains("groupArraySorted"), "{}", agg[0]);
}

/// Standard base-32 geohash (longitude bit first), written out here.
fn geohash(lat: f64, lon: f64, len: usize) -> String {
    const B32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (mut la, mut lo) = ((-90.0, 90.0), (-180.0, 180.0));
    let mut out = String::new();
    let (mut bits, mut ch, mut even) = (0, 0usize, true);
    while out.len() < len {
        let (r, v) = if even { (&mut lo, lon) } else { (&mut la, lat) };
        let mid = (r.0 + r.1) / 2.0;
        ch <<= 1;
        if v >= mid {
            ch |= 1;
            r.0 = mid;
        } else {
            r.1 = mid;
        }
        even = !even;
        bits += 1;
        if bits == 5 {
            out.push(B32[ch] as char);
            bits = 0;
            ch = 0;
        }
    }
    out
}

/// geohash_grid: geohash cells of the (quantised) points, a document once per distinct cell,
/// doc_count desc then cell desc (search-aggregations-bucket-geohashgrid-aggregation.html;
/// InternalGeoGrid's bucket queue).
#[tokio::test]
async fn geohash_grid_cells() {
    let d = geo_docs().await;
    let r = json_req(
        "POST",
        &format!("/{GEO}/_search"),
        &json!({"size": 0, "aggs": {
            "g": {"geohash_grid": {"field": "loc", "precision": 2}},
            "g1": {"geohash_grid": {"field": "loc", "precision": 1, "size": 3}}
        }}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    for (name, p, size) in [("g", 2, usize::MAX), ("g1", 1, 3)] {
        let cells = count_by(d, |x| {
            let mut t: Vec<String> = points(x).iter().map(|q| geohash(q.0, q.1, p)).collect();
            t.sort();
            t.dedup();
            t
        });
        let mut ranked: Vec<(String, u64)> = cells.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked.truncate(size);
        let want: Vec<Value> = ranked
            .iter()
            .map(|(k, n)| json!({"key": k, "doc_count": n}))
            .collect();
        assert_eq!(a[name]["buckets"], json!(want), "{name}");
    }
}

/// boxplot: min, max, quartiles (the same exact interpolation as percentiles) and whiskers — the
/// smallest value ≥ q1 − 1.5·IQR and the largest ≤ q3 + 1.5·IQR (InternalBoxplot;
/// search-aggregations-metrics-boxplot-aggregation.html); an outlier lies beyond the whisker.
#[tokio::test]
async fn boxplot_quartiles_and_whiskers() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "bp": {"boxplot": {"field": "bytes"}},
        "hosts": {"terms": {"field": "host"}, "aggs": {"bp": {"boxplot": {"field": "latency"}}}}
    }}))
    .await;
    let check = |bp: &Value, mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| {
            let i = p * (v.len() - 1) as f64;
            let lo = i.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] + (i - lo as f64) * (v[hi] - v[lo])
        };
        let (q1, q3) = (q(0.25), q(0.75));
        let iqr = q3 - q1;
        close(&bp["min"], v[0]);
        close(&bp["max"], v[v.len() - 1]);
        close(&bp["q1"], q1);
        close(&bp["q2"], q(0.5));
        close(&bp["q3"], q3);
        close(
            &bp["lower"],
            v.iter()
                .copied()
                .filter(|x| *x >= q1 - 1.5 * iqr)
                .fold(f64::INFINITY, f64::min),
        );
        close(
            &bp["upper"],
            v.iter()
                .copied()
                .filter(|x| *x <= q3 + 1.5 * iqr)
                .fold(f64::NEG_INFINITY, f64::max),
        );
    };
    check(
        &a["bp"],
        d.iter().filter_map(|x| x["bytes"].as_f64()).collect(),
    );
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let h = b["key"].as_str().unwrap();
        check(
            &b["bp"],
            of_host(d, h)
                .iter()
                .map(|x| x["latency"].as_f64().unwrap())
                .collect(),
        );
    }
}

/// ip_range: from/to (to exclusive) and CIDR masks (`from` the network address, `to` the first
/// address after the block), default keys `from-to` with `*`, ranges ordered by (from, to) as
/// BinaryRangeAggregator sorts them, keyed form (InternalBinaryRange;
/// search-aggregations-bucket-iprange-aggregation.html).
#[tokio::test]
async fn ip_range_with_masks() {
    let idx = "agg-ip";
    let mapping = json!({"mappings": {"properties": {"ip": {"type": "ip"}}}});
    assert_eq!(
        json_req("PUT", &format!("/{idx}"), &mapping).await.status,
        200
    );
    let mut body = String::new();
    let mut ips: Vec<u32> = Vec::new();
    for i in 0..40u32 {
        let last = i * 7 % 256;
        let d = if i == 39 {
            json!({})
        } else {
            json!({"ip": format!("10.0.0.{last}")})
        };
        if i != 39 {
            ips.push(last);
        }
        body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
    }
    body.push_str("{\"index\":{\"_id\":\"v6\"}}\n{\"ip\":\"2001:db8::1\"}\n");
    let r = bulk(&format!("/{idx}/_bulk?refresh=true"), &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let q = json!({"size": 0, "aggs": {
        "r": {"ip_range": {"field": "ip", "ranges": [
            {"mask": "10.0.0.128/25"},
            {"to": "10.0.0.50"},
            {"from": "10.0.0.50", "to": "10.0.0.100", "key": "mid"},
            {"from": "10.0.0.200"}
        ]}},
        "k": {"ip_range": {"field": "ip", "keyed": true, "ranges": [{"mask": "2001:db8::/32"}]}}
    }});
    let r = json_req("POST", &format!("/{idx}/_search"), &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let cnt = |lo: u32, hi: u32| ips.iter().filter(|x| **x >= lo && **x < hi).count();
    // `from: 10.0.0.200` also holds the IPv6 address (above every IPv4-mapped one).
    assert_eq!(
        a["r"]["buckets"],
        json!([
            {"key": "*-10.0.0.50", "to": "10.0.0.50", "doc_count": cnt(0, 50)},
            {"key": "mid", "from": "10.0.0.50", "to": "10.0.0.100", "doc_count": cnt(50, 100)},
            {"key": "10.0.0.128/25", "from": "10.0.0.128", "to": "10.0.1.0", "doc_count": cnt(128, 256)},
            {"key": "10.0.0.200-*", "from": "10.0.0.200", "doc_count": cnt(200, 256) + 1}
        ])
    );
    assert_eq!(
        a["k"]["buckets"],
        json!({"2001:db8::/32": {"from": "2001:db8::", "to": "2001:db9::", "doc_count": 1}})
    );
}

/// Several indices in one search (one UNION ALL inside the grouping query): top_hits,
/// top_metrics, multi_terms and composite still work where a field is mapped in only one index —
/// documents of the other index have no value (missing sort values sort last).
#[tokio::test]
async fn new_types_across_two_indices() {
    let d = docs().await;
    let g = geo_docs().await;
    let r = json_req("POST", &format!("/{IDX},{GEO}/_search"), &json!({"size": 0, "aggs": {
        "th": {"top_hits": {"size": 2, "sort": [{"bytes": "desc"}], "_source": ["bytes"]}},
        "tm": {"top_metrics": {"metrics": {"field": "latency"}, "sort": {"@timestamp": "asc"}}},
        "mt": {"multi_terms": {"terms": [{"field": "host"}, {"field": "ok"}], "size": 100}},
        "c": {"composite": {"size": 100, "sources": [{"g": {"terms": {"field": "g", "missing_bucket": true}}}]}}
    }})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let mut bytes: Vec<i64> = d.iter().filter_map(|x| x["bytes"].as_i64()).collect();
    bytes.sort_by(|a, b| b.cmp(a));
    let hits = a["th"]["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["_source"], json!({"bytes": bytes[0]}));
    assert_eq!(hits[1]["sort"], json!([bytes[1]]));
    assert_eq!(a["th"]["hits"]["total"]["value"], d.len() + g.len());
    assert_eq!(a["tm"]["top"][0]["metrics"]["latency"], d[0]["latency"]);
    let mt: u64 = a["mt"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(mt, d.len() as u64);
    // composite over `g` (only in the geo index): the other index's documents in the null bucket.
    let c = a["c"]["buckets"].as_array().unwrap();
    assert_eq!(c[0], json!({"key": {"g": null}, "doc_count": d.len()}));
    assert_eq!(c.len(), 4);
}

/// top_hits without `sort` orders by the query's `_score` and shows it, with `max_score`, as the
/// search's own hits do (same scoring of the same query).
#[tokio::test]
async fn top_hits_by_score_of_a_scoring_query() {
    docs().await;
    let r = json_req("POST", &format!("/{IDX}/_search"), &json!({"size": 100,
        "query": {"bool": {"should": [{"term": {"host": "alpha"}}, {"term": {"status": {"value": 404, "boost": 3}}}]}},
        "aggs": {"t": {"top_hits": {"size": 3, "_source": false}}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let hits = v["hits"]["hits"].as_array().unwrap();
    let score_of = |id: &Value| hits.iter().find(|h| h["_id"] == *id).unwrap()["_score"].clone();
    let top = &v["aggregations"]["t"]["hits"];
    assert_eq!(top["max_score"], v["hits"]["max_score"]);
    let mut prev = f64::INFINITY;
    for h in top["hits"].as_array().unwrap() {
        assert_eq!(h["_score"], score_of(&h["_id"]));
        let s = h["_score"].as_f64().unwrap();
        assert!(s <= prev);
        prev = s;
    }
}

/// cumulative_cardinality: the number of distinct values of the referenced cardinality seen in
/// this and every earlier bucket (search-aggregations-pipeline-cumulative-cardinality-aggregation.html,
/// CumulativeCardinalityPipelineAggregator); the helper value sets never show in the response;
/// a path to anything but a cardinality is an error.
#[tokio::test]
async fn cumulative_cardinality_over_days() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {"days": {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "6h"},
        "aggs": {"st": {"cardinality": {"field": "status"}},
                 "cc": {"cumulative_cardinality": {"buckets_path": "st"}},
                 "tg": {"cardinality": {"field": "tags"}},
                 "ct": {"cumulative_cardinality": {"buckets_path": "tg"}}}}}}))
    .await;
    let mut by: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for x in d {
        by.entry(x["@timestamp"].as_i64().unwrap() / 21_600_000 * 21_600_000)
            .or_default()
            .push(x);
    }
    let b = a["days"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), by.len());
    let mut st = std::collections::BTreeSet::new();
    let mut tg = std::collections::BTreeSet::new();
    for (bk, (_, xs)) in b.iter().zip(&by) {
        for x in xs {
            st.insert(x["status"].as_i64().unwrap());
            for t in x["tags"].as_array().unwrap() {
                tg.insert(t.as_str().unwrap().to_string());
            }
        }
        assert_eq!(bk["cc"], json!({"value": st.len()}));
        assert_eq!(bk["ct"], json!({"value": tg.len()}));
        let keys: Vec<&String> = bk.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["key_as_string", "key", "doc_count", "st", "tg", "cc", "ct"],
            "{bk}"
        );
    }
    let r = json_req("POST", &format!("/{IDX}/_search"), &json!({"size": 0, "aggs": {"days": {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "6h"},
        "aggs": {"m": {"max": {"field": "bytes"}}, "cc": {"cumulative_cardinality": {"buckets_path": "m"}}}}}})).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

/// sampler: its sub-aggregations see the best `shard_size` documents by score of the shard (one
/// shard here), all of them when fewer match; `doc_count` is the number of sampled documents
/// (SamplerAggregator / BestDocsDeferringCollector; InternalSampler renders like a single-bucket
/// aggregation; search-aggregations-bucket-sampler-aggregation.html). Kibana's Discover field
/// statistics send `{"sample": {"sampler": {"shard_size": 5000}, "aggs": {…}}}`
/// (kbn-unified-field-list field_stats_utils.ts). Below a terms, each parent bucket samples its
/// own best documents; ties (filter context) are broken by `_id` (our documented choice).
#[tokio::test]
async fn sampler_best_documents_by_score() {
    let d = docs().await;
    // Fewer matches than shard_size: every document.
    let a = aggs(
        json!({"size": 0, "aggs": {"sample": {"sampler": {"shard_size": 5000},
        "aggs": {"hosts": {"terms": {"field": "host"}}, "avg": {"avg": {"field": "latency"}}}}}}),
    )
    .await;
    assert_eq!(a["sample"]["doc_count"], 90);
    let mean = d
        .iter()
        .map(|x| x["latency"].as_f64().unwrap())
        .sum::<f64>()
        / 90.0;
    close(&a["sample"]["avg"]["value"], mean);
    for b in a["sample"]["hosts"]["buckets"].as_array().unwrap() {
        assert_eq!(
            b["doc_count"],
            of_host(d, b["key"].as_str().unwrap()).len(),
            "{b}"
        );
    }
    // A scored query: alpha documents score 5 (7 when n < 30), others with n < 30 score 2; with
    // shard_size = number of alpha documents the sample is exactly them.
    let alpha = of_host(d, "alpha");
    let a = aggs(json!({"size": 0, "query": {"bool": {"should": [
            {"constant_score": {"filter": {"term": {"host": "alpha"}}, "boost": 5}},
            {"constant_score": {"filter": {"range": {"n": {"lt": 30}}}, "boost": 2}}]}},
        "aggs": {"sample": {"sampler": {"shard_size": alpha.len()},
            "aggs": {"hosts": {"terms": {"field": "host"}},
                     "sum": {"sum": {"field": "latency"}}}}}}))
    .await;
    assert_eq!(a["sample"]["doc_count"], alpha.len());
    assert_eq!(
        a["sample"]["hosts"]["buckets"],
        json!([{"key": "alpha", "doc_count": alpha.len()}])
    );
    close(
        &a["sample"]["sum"]["value"],
        alpha.iter().map(|x| x["latency"].as_f64().unwrap()).sum(),
    );
    // Default shard_size 100 below a terms: 3 per host, the smallest `_id`s on equal scores.
    let a = aggs(
        json!({"size": 0, "aggs": {"hosts": {"terms": {"field": "host"}, "aggs": {
        "s": {"sampler": {"shard_size": 3}, "aggs": {"mx": {"max": {"field": "n"}}}},
        "all": {"sampler": {}}}}}}),
    )
    .await;
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let mine = of_host(d, b["key"].as_str().unwrap());
        let mut ids: Vec<String> = mine.iter().map(|x| x["n"].to_string()).collect();
        ids.sort();
        let mx = ids[..3]
            .iter()
            .map(|s| s.parse::<f64>().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(b["s"]["doc_count"], 3);
        close(&b["s"]["mx"]["value"], mx);
        assert_eq!(b["all"], json!({"doc_count": mine.len()}));
    }
}

/// diversified_sampler: like sampler, at most `max_docs_per_value` (default 1) documents per
/// value of `field` (search-aggregations-bucket-diversified-sampler-aggregation.html).
#[tokio::test]
async fn diversified_sampler_per_value() {
    docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "two": {"diversified_sampler": {"field": "host", "max_docs_per_value": 2},
                "aggs": {"h": {"terms": {"field": "host"}}}},
        "one": {"diversified_sampler": {"field": "status", "shard_size": 3}}}}))
    .await;
    assert_eq!(a["two"]["doc_count"], 2 * HOSTS.len());
    for b in a["two"]["h"]["buckets"].as_array().unwrap() {
        assert_eq!(b["doc_count"], 2);
    }
    // Four distinct statuses, one document each, cut to shard_size 3.
    assert_eq!(a["one"], json!({"doc_count": 3}));
}

/// random_sampler: a single bucket of a random subset of the documents, the same subset for the
/// same `seed`; rendered `seed`, `probability`, `doc_count`, sub-aggregations
/// (InternalRandomSampler#doXContentBody); probability in (0, 0.5] or exactly 1, no parent and
/// at least one sub-aggregation (RandomSamplerAggregationBuilder;
/// search-aggregations-random-sampler-aggregation.html). The sub-aggregations' counts are the
/// sampled ones (Elasticsearch scales bucket counts up by 1/probability: docs/aggregations.md).
#[tokio::test]
async fn random_sampler_subset() {
    docs().await;
    let a = aggs(
        json!({"size": 0, "aggs": {"r": {"random_sampler": {"probability": 1.0, "seed": 7},
        "aggs": {"c": {"value_count": {"field": "n"}}}}}}),
    )
    .await;
    assert_eq!(
        a["r"],
        json!({"seed": 7, "probability": 1.0, "doc_count": 90, "c": {"value": 90}})
    );
    let req = json!({"size": 0, "query": {"range": {"n": {"lt": 60}}}, "aggs": {"r": {
        "random_sampler": {"probability": 0.4, "seed": 42},
        "aggs": {"c": {"value_count": {"field": "n"}}, "mx": {"max": {"field": "n"}},
                 "h": {"terms": {"field": "host"}}}}}});
    let a = aggs(req.clone()).await;
    let n = a["r"]["doc_count"].as_u64().unwrap();
    assert!(n > 5 && n < 50, "{n}");
    assert_eq!(a["r"]["c"]["value"], n);
    assert!(a["r"]["mx"]["value"].as_f64().unwrap() < 60.0);
    let per_host: u64 = a["r"]["h"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_host, n);
    let keys: Vec<&String> = a["r"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["seed", "probability", "doc_count", "c", "mx", "h"]);
    assert_eq!(aggs(req).await, a, "same seed, same sample");
    for bad in [
        json!({"t": {"terms": {"field": "host"}, "aggs": {"r": {"random_sampler": {"probability": 0.1},
            "aggs": {"c": {"value_count": {"field": "n"}}}}}}}),
        json!({"r": {"random_sampler": {"probability": 0.1}}}),
        json!({"r": {"random_sampler": {"probability": 0.7}, "aggs": {"c": {"value_count": {"field": "n"}}}}}),
    ] {
        let r = json_req(
            "POST",
            &format!("/{IDX}/_search"),
            &json!({"size": 0, "aggs": bad}),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
}
