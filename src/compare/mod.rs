//! The matcher: compares Elasticsearch's and ClickHouse's (elastichouse's) answers to the same
//! `_search`/`_count`/`_msearch` with Elasticsearch's semantics, and lists each difference with a
//! kind and a JSON path.
//!
//! What counts (Elasticsearch's search response: `SearchResponse#innerToXContent`,
//! `SearchHits#toXContent`, `InternalMultiBucketAggregation`):
//! - `hits.total` value and relation (or the bare number with `rest_total_hits_as_int`), `count`;
//! - hit ids as sets; their order where the sort is deterministic: hits are grouped by their sort
//!   values (`sort`, or `_score` when scores are requested), and only the order of groups counts —
//!   hits tied on their sort values may come in any order. A hit missing at the end of a full page
//!   whose sort values tie with the last hit on both sides is no difference either;
//! - `_source`, `fields`, `sort`, `highlight` of every hit present on both sides;
//! - every aggregation, recursively: bucket keys (missing/extra), bucket order, `doc_count`,
//!   `key_as_string`, sub-aggregations, metric values. Numbers compare with a relative tolerance of
//!   1e-9 (float sums depend on the order of additions), and [`APPROX_TOLERANCE`] for the
//!   approximate aggregations (cardinality, percentiles, percentile_ranks,
//!   median_absolute_deviation), whose types are read from the request.
//! - ignored: `took`, `timed_out`, `_shards`, `_clusters`, scroll/PIT ids, `max_score` and `_score`
//!   unless scores are requested (`track_scores`, or `_score` in `sort`), `_index`, `_version`,
//!   `_seq_no`, `_primary_term`.
//!
//! Errors: an error on one side only is `error_on_one_side`; errors on both compare `status` and
//! `error.type`.

pub mod store;
pub mod table;

use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Relative tolerance of approximate aggregations.
pub const APPROX_TOLERANCE: f64 = 0.05;
/// Relative tolerance of every other number.
const EXACT_TOLERANCE: f64 = 1e-9;

/// The kind of a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ErrorOnOneSide,
    StatusDiffers,
    TotalDiffers,
    MissingHit,
    ExtraHit,
    OrderDiffers,
    MissingBucket,
    ExtraBucket,
    MissingAggregation,
    ExtraAggregation,
    MissingField,
    ExtraField,
    ValueDiffers,
    /// The two answers do not have the same shape (e.g. `_msearch` with a different number of
    /// responses, a body that is not JSON).
    ShapeDiffers,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::ErrorOnOneSide,
        Kind::StatusDiffers,
        Kind::TotalDiffers,
        Kind::MissingHit,
        Kind::ExtraHit,
        Kind::OrderDiffers,
        Kind::MissingBucket,
        Kind::ExtraBucket,
        Kind::MissingAggregation,
        Kind::ExtraAggregation,
        Kind::MissingField,
        Kind::ExtraField,
        Kind::ValueDiffers,
        Kind::ShapeDiffers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ErrorOnOneSide => "error_on_one_side",
            Kind::StatusDiffers => "status_differs",
            Kind::TotalDiffers => "total_differs",
            Kind::MissingHit => "missing_hit",
            Kind::ExtraHit => "extra_hit",
            Kind::OrderDiffers => "order_differs",
            Kind::MissingBucket => "missing_bucket",
            Kind::ExtraBucket => "extra_bucket",
            Kind::MissingAggregation => "missing_aggregation",
            Kind::ExtraAggregation => "extra_aggregation",
            Kind::MissingField => "missing_field",
            Kind::ExtraField => "extra_field",
            Kind::ValueDiffers => "value_differs",
            Kind::ShapeDiffers => "shape_differs",
        }
    }
}

/// One difference. "missing" = in Elasticsearch's answer, not in ClickHouse's; "extra" = the
/// reverse.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diff {
    pub kind: Kind,
    /// Dotted path, with `[_id=…]` for hits, `[key=…]` for buckets, `[i]` for array items.
    pub path: String,
    pub elasticsearch: Option<Value>,
    pub clickhouse: Option<Value>,
}

/// What the request asked that changes the comparison.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scores were requested: compare `_score`/`max_score`, and order by score.
    pub scores: bool,
    /// The request's `aggs`, to know each aggregation's type.
    pub aggs: Option<Map<String, Value>>,
    /// The requested page size (hits), to know whether a page is full.
    pub size: Option<usize>,
}

impl Options {
    /// Reads the options from a search body.
    pub fn from_search_body(body: Option<&Value>) -> Options {
        let Some(Value::Object(b)) = body else {
            return Options::default();
        };
        let sort_by_score = match b.get("sort") {
            Some(Value::String(s)) => s == "_score",
            Some(Value::Array(a)) => a.iter().any(|s| match s {
                Value::String(s) => s == "_score",
                Value::Object(o) => o.contains_key("_score"),
                _ => false,
            }),
            Some(Value::Object(o)) => o.contains_key("_score"),
            _ => false,
        };
        let track = b.get("track_scores").and_then(Value::as_bool) == Some(true);
        let aggs = b
            .get("aggs")
            .or_else(|| b.get("aggregations"))
            .and_then(Value::as_object)
            .cloned();
        Options {
            scores: sort_by_score || track,
            aggs,
            size: b
                .get("size")
                .and_then(Value::as_u64)
                .map(|s| s as usize)
                .or(Some(10)),
        }
    }
}

struct Ctx {
    out: Vec<Diff>,
}

impl Ctx {
    fn push(&mut self, kind: Kind, path: &str, es: Option<&Value>, ch: Option<&Value>) {
        self.out.push(Diff {
            kind,
            path: path.to_string(),
            elasticsearch: es.cloned(),
            clickhouse: ch.cloned(),
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Compares the answers to one `_search` or `_count`.
pub fn compare_search(
    opts: &Options,
    es_status: u16,
    es: &Value,
    ch_status: u16,
    ch: &Value,
) -> Vec<Diff> {
    let mut cx = Ctx { out: Vec::new() };
    response(&mut cx, "", opts, es_status, es, ch_status, ch);
    cx.out
}

/// Compares the answers to one `_msearch`; `bodies` are the search bodies in order.
pub fn compare_msearch(
    bodies: &[Option<Value>],
    es_status: u16,
    es: &Value,
    ch_status: u16,
    ch: &Value,
) -> Vec<Diff> {
    let mut cx = Ctx { out: Vec::new() };
    if !status_and_errors(&mut cx, "", es_status, es, ch_status, ch) {
        return cx.out;
    }
    let (Some(er), Some(cr)) = (
        es.get("responses").and_then(Value::as_array),
        ch.get("responses").and_then(Value::as_array),
    ) else {
        cx.push(
            Kind::ShapeDiffers,
            "responses",
            es.get("responses"),
            ch.get("responses"),
        );
        return cx.out;
    };
    if er.len() != cr.len() {
        cx.push(
            Kind::ShapeDiffers,
            "responses",
            Some(&Value::from(er.len())),
            Some(&Value::from(cr.len())),
        );
    }
    for (i, (e, c)) in er.iter().zip(cr).enumerate() {
        let opts = Options::from_search_body(bodies.get(i).and_then(Option::as_ref));
        let status = |v: &Value| {
            v.get("status")
                .and_then(Value::as_u64)
                .map_or(200, |s| s as u16)
        };
        response(
            &mut cx,
            &format!("responses[{i}]"),
            &opts,
            status(e),
            e,
            status(c),
            c,
        );
    }
    cx.out
}

/// Statuses and errors; false when there is nothing more to compare.
fn status_and_errors(
    cx: &mut Ctx,
    path: &str,
    es_status: u16,
    es: &Value,
    ch_status: u16,
    ch: &Value,
) -> bool {
    let es_err = es_status >= 400 || es.get("error").is_some();
    let ch_err = ch_status >= 400 || ch.get("error").is_some();
    let summary = |status: u16, v: &Value| serde_json::json!({"status": status, "error": v.get("error").cloned().unwrap_or(Value::Null)});
    match (es_err, ch_err) {
        (false, false) => true,
        (true, true) => {
            if es_status != ch_status {
                cx.push(
                    Kind::StatusDiffers,
                    &join(path, "status"),
                    Some(&Value::from(es_status)),
                    Some(&Value::from(ch_status)),
                );
            }
            let t = |v: &Value| v.pointer("/error/type").cloned();
            if t(es) != t(ch) {
                cx.push(
                    Kind::ValueDiffers,
                    &join(path, "error.type"),
                    t(es).as_ref(),
                    t(ch).as_ref(),
                );
            }
            false
        }
        _ => {
            cx.push(
                Kind::ErrorOnOneSide,
                if path.is_empty() { "(response)" } else { path },
                Some(&summary(es_status, es)),
                Some(&summary(ch_status, ch)),
            );
            false
        }
    }
}

fn response(
    cx: &mut Ctx,
    path: &str,
    opts: &Options,
    es_status: u16,
    es: &Value,
    ch_status: u16,
    ch: &Value,
) {
    if !status_and_errors(cx, path, es_status, es, ch_status, ch) {
        return;
    }
    if es.get("count").is_some() || ch.get("count").is_some() {
        let (e, c) = (es.get("count"), ch.get("count"));
        if !numbers_equal(e, c, EXACT_TOLERANCE) {
            cx.push(Kind::TotalDiffers, &join(path, "count"), e, c);
        }
    }
    if es.get("hits").is_some() || ch.get("hits").is_some() {
        hits(
            cx,
            &join(path, "hits"),
            opts,
            es.get("hits"),
            ch.get("hits"),
        );
    }
    let (ea, ca) = (es.get("aggregations"), ch.get("aggregations"));
    if ea.is_some() || ca.is_some() {
        let empty = Map::new();
        aggs(
            cx,
            &join(path, "aggregations"),
            ea.and_then(Value::as_object).unwrap_or(&empty),
            ca.and_then(Value::as_object).unwrap_or(&empty),
            opts.aggs.as_ref(),
        );
    }
}

fn numbers_equal(a: Option<&Value>, b: Option<&Value>, tol: f64) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => close(x, y, tol),
                _ => x == y,
            }
        }
        (a, b) => a == b,
    }
}

fn close(x: f64, y: f64, tol: f64) -> bool {
    if x == y {
        return true;
    }
    let scale = x.abs().max(y.abs());
    (x - y).abs() <= tol * scale
}

/// Deep comparison of two values.
fn deep(cx: &mut Ctx, path: &str, es: &Value, ch: &Value, tol: f64) {
    match (es, ch) {
        (Value::Object(e), Value::Object(c)) => {
            for (k, ev) in e {
                match c.get(k) {
                    Some(cv) => deep(cx, &join(path, k), ev, cv, tol),
                    None => cx.push(Kind::MissingField, &join(path, k), Some(ev), None),
                }
            }
            for (k, cv) in c {
                if !e.contains_key(k) {
                    cx.push(Kind::ExtraField, &join(path, k), None, Some(cv));
                }
            }
        }
        (Value::Array(e), Value::Array(c)) if e.len() == c.len() => {
            for (i, (ev, cv)) in e.iter().zip(c).enumerate() {
                deep(cx, &format!("{path}[{i}]"), ev, cv, tol);
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            if !numbers_equal(Some(es), Some(ch), tol) {
                cx.push(Kind::ValueDiffers, path, Some(es), Some(ch));
            }
        }
        _ => {
            if es != ch {
                cx.push(Kind::ValueDiffers, path, Some(es), Some(ch));
            }
        }
    }
}

fn hit_id(h: &Value) -> String {
    match h.get("_id") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// The sort values a hit is ordered by, if the order is deterministic.
fn tie_key(h: &Value, scores: bool) -> Option<Value> {
    if let Some(s) = h.get("sort") {
        return Some(s.clone());
    }
    if scores {
        return h.get("_score").cloned();
    }
    None
}

fn hits(cx: &mut Ctx, path: &str, opts: &Options, es: Option<&Value>, ch: Option<&Value>) {
    let null = Value::Null;
    let (es, ch) = (es.unwrap_or(&null), ch.unwrap_or(&null));
    let (et, ct) = (es.get("total"), ch.get("total"));
    let total_equal = match (et, ct) {
        (Some(Value::Object(e)), Some(Value::Object(c))) => {
            numbers_equal(e.get("value"), c.get("value"), 0.0)
                && e.get("relation") == c.get("relation")
        }
        (e, c) => numbers_equal(e, c, 0.0),
    };
    if !total_equal {
        cx.push(Kind::TotalDiffers, &join(path, "total"), et, ct);
    }
    if opts.scores {
        let (e, c) = (es.get("max_score"), ch.get("max_score"));
        if !numbers_equal(e, c, 1e-4) {
            cx.push(Kind::ValueDiffers, &join(path, "max_score"), e, c);
        }
    }
    let empty = Vec::new();
    let eh = es.get("hits").and_then(Value::as_array).unwrap_or(&empty);
    let chh = ch.get("hits").and_then(Value::as_array).unwrap_or(&empty);
    let hp = join(path, "hits");
    let e_ids: HashMap<String, usize> =
        eh.iter().enumerate().map(|(i, h)| (hit_id(h), i)).collect();
    let c_ids: HashMap<String, usize> = chh
        .iter()
        .enumerate()
        .map(|(i, h)| (hit_id(h), i))
        .collect();
    let scores = opts.scores;
    // A page cut inside a run of tied hits may hold different members of the run.
    let full = |n: usize| opts.size.is_some_and(|s| n >= s && s > 0);
    let last_key = |hs: &[Value]| hs.last().and_then(|h| tie_key(h, scores));
    let boundary_tie = |key: Option<Value>| {
        key.is_some()
            && full(eh.len())
            && full(chh.len())
            && key == last_key(eh)
            && key == last_key(chh)
    };
    for h in eh {
        let id = hit_id(h);
        if !c_ids.contains_key(&id) && !boundary_tie(tie_key(h, scores)) {
            cx.push(Kind::MissingHit, &format!("{hp}[_id={id}]"), Some(h), None);
        }
    }
    for h in chh {
        let id = hit_id(h);
        if !e_ids.contains_key(&id) && !boundary_tie(tie_key(h, scores)) {
            cx.push(Kind::ExtraHit, &format!("{hp}[_id={id}]"), None, Some(h));
        }
    }
    // Order, where deterministic: group each side's hits by sort values; walking one side, the
    // other side's group numbers must never go down.
    let deterministic = eh.iter().chain(chh).all(|h| tie_key(h, scores).is_some());
    if deterministic {
        let groups = |hs: &[Value]| -> HashMap<String, usize> {
            let mut g = 0;
            let mut prev: Option<Value> = None;
            let mut out = HashMap::new();
            for h in hs {
                let k = tie_key(h, scores);
                if prev.is_some() && k != prev {
                    g += 1;
                }
                prev = k;
                out.insert(hit_id(h), g);
            }
            out
        };
        let (eg, cg) = (groups(eh), groups(chh));
        let monotone = |seq: &[Value], other: &HashMap<String, usize>| {
            let mut last = 0;
            for h in seq {
                if let Some(&g) = other.get(&hit_id(h)) {
                    if g < last {
                        return false;
                    }
                    last = g;
                }
            }
            true
        };
        if !monotone(chh, &eg) || !monotone(eh, &cg) {
            let ids = |hs: &[Value]| Value::from(hs.iter().map(hit_id).collect::<Vec<_>>());
            cx.push(Kind::OrderDiffers, &hp, Some(&ids(eh)), Some(&ids(chh)));
        }
    }
    for e in eh {
        let id = hit_id(e);
        let Some(&ci) = c_ids.get(&id) else { continue };
        let c = &chh[ci];
        let p = format!("{hp}[_id={id}]");
        let mut keys = vec!["_source", "fields", "sort", "highlight"];
        if scores {
            keys.push("_score");
        }
        for k in keys {
            match (e.get(k), c.get(k)) {
                (None, None) => {}
                (Some(ev), None) => cx.push(Kind::MissingField, &join(&p, k), Some(ev), None),
                (None, Some(cv)) => cx.push(Kind::ExtraField, &join(&p, k), None, Some(cv)),
                (Some(ev), Some(cv)) if k == "_score" => {
                    if !numbers_equal(Some(ev), Some(cv), 1e-4) {
                        cx.push(Kind::ValueDiffers, &join(&p, k), Some(ev), Some(cv));
                    }
                }
                (Some(ev), Some(cv)) => deep(cx, &join(&p, k), ev, cv, EXACT_TOLERANCE),
            }
        }
    }
}

/// The type of an aggregation in a request (`terms`, `cardinality`, …).
fn agg_type(def: Option<&Value>) -> Option<&str> {
    def?.as_object()?
        .keys()
        .find(|k| !matches!(k.as_str(), "aggs" | "aggregations" | "meta"))
        .map(String::as_str)
}

fn sub_aggs(def: Option<&Value>) -> Option<&Map<String, Value>> {
    let d = def?.as_object()?;
    d.get("aggs")
        .or_else(|| d.get("aggregations"))
        .and_then(Value::as_object)
}

fn aggs(
    cx: &mut Ctx,
    path: &str,
    es: &Map<String, Value>,
    ch: &Map<String, Value>,
    req: Option<&Map<String, Value>>,
) {
    for (name, ev) in es {
        let p = join(path, name);
        match ch.get(name) {
            None => cx.push(Kind::MissingAggregation, &p, Some(ev), None),
            Some(cv) => {
                let def = req.and_then(|r| r.get(name));
                agg(cx, &p, ev, cv, def);
            }
        }
    }
    for (name, cv) in ch {
        if !es.contains_key(name) {
            cx.push(Kind::ExtraAggregation, &join(path, name), None, Some(cv));
        }
    }
}

/// Keys of a bucket that are not sub-aggregations.
const BUCKET_FIELDS: [&str; 10] = [
    "key",
    "key_as_string",
    "doc_count",
    "from",
    "to",
    "from_as_string",
    "to_as_string",
    "doc_count_error_upper_bound",
    "bg_count",
    "score",
];

fn bucket_key(b: &Value, fallback: usize) -> String {
    match b.get("key") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => fallback.to_string(),
    }
}

fn agg(cx: &mut Ctx, path: &str, es: &Value, ch: &Value, def: Option<&Value>) {
    let (Some(e), Some(c)) = (es.as_object(), ch.as_object()) else {
        deep(cx, path, es, ch, EXACT_TOLERANCE);
        return;
    };
    let tol = match agg_type(def) {
        Some("cardinality" | "percentiles" | "percentile_ranks" | "median_absolute_deviation") => {
            APPROX_TOLERANCE
        }
        _ => EXACT_TOLERANCE,
    };
    let sub = sub_aggs(def);
    for (k, ev) in e {
        let p = join(path, k);
        let Some(cv) = c.get(k) else {
            cx.push(Kind::MissingField, &p, Some(ev), None);
            continue;
        };
        if k == "buckets" {
            buckets(cx, &p, ev, cv, sub);
        } else {
            deep(cx, &p, ev, cv, tol);
        }
    }
    for (k, cv) in c {
        if !e.contains_key(k) {
            cx.push(Kind::ExtraField, &join(path, k), None, Some(cv));
        }
    }
}

fn buckets(cx: &mut Ctx, path: &str, es: &Value, ch: &Value, sub: Option<&Map<String, Value>>) {
    let list = |v: &Value| -> Option<Vec<(String, Value)>> {
        match v {
            Value::Array(a) => Some(
                a.iter()
                    .enumerate()
                    .map(|(i, b)| (bucket_key(b, i), b.clone()))
                    .collect(),
            ),
            Value::Object(m) => Some(m.iter().map(|(k, b)| (k.clone(), b.clone())).collect()),
            _ => None,
        }
    };
    let (Some(e), Some(c)) = (list(es), list(ch)) else {
        deep(cx, path, es, ch, EXACT_TOLERANCE);
        return;
    };
    let ek: HashSet<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    let ckeys: HashMap<&str, &Value> = c.iter().map(|(k, b)| (k.as_str(), b)).collect();
    for (k, b) in &e {
        if !ckeys.contains_key(k.as_str()) {
            cx.push(
                Kind::MissingBucket,
                &format!("{path}[key={k}]"),
                Some(b),
                None,
            );
        }
    }
    for (k, b) in &c {
        if !ek.contains(k.as_str()) {
            cx.push(
                Kind::ExtraBucket,
                &format!("{path}[key={k}]"),
                None,
                Some(b),
            );
        }
    }
    let common_e: Vec<&str> = e
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| ckeys.contains_key(k))
        .collect();
    let common_c: Vec<&str> = c
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| ek.contains(k))
        .collect();
    if common_e != common_c {
        cx.push(
            Kind::OrderDiffers,
            path,
            Some(&Value::from(common_e.clone())),
            Some(&Value::from(common_c)),
        );
    }
    for (k, eb) in &e {
        let Some(cb) = ckeys.get(k.as_str()) else {
            continue;
        };
        let p = format!("{path}[key={k}]");
        let (Some(eo), Some(co)) = (eb.as_object(), cb.as_object()) else {
            deep(cx, &p, eb, cb, EXACT_TOLERANCE);
            continue;
        };
        for (f, ev) in eo {
            let fp = join(&p, f);
            match co.get(f) {
                None if BUCKET_FIELDS.contains(&f.as_str()) => {
                    cx.push(Kind::MissingField, &fp, Some(ev), None)
                }
                None => cx.push(Kind::MissingAggregation, &fp, Some(ev), None),
                Some(cv) if BUCKET_FIELDS.contains(&f.as_str()) || !ev.is_object() => {
                    deep(cx, &fp, ev, cv, EXACT_TOLERANCE)
                }
                Some(cv) => agg(cx, &fp, ev, cv, sub.and_then(|s| s.get(f))),
            }
        }
        for (f, cv) in co {
            if !eo.contains_key(f) {
                let kind = if BUCKET_FIELDS.contains(&f.as_str()) {
                    Kind::ExtraField
                } else {
                    Kind::ExtraAggregation
                };
                cx.push(kind, &join(&p, f), None, Some(cv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hit(id: &str, sort: Option<Value>, source: Value) -> Value {
        let mut h = json!({"_index": "i", "_id": id, "_score": null, "_source": source});
        if let Some(s) = sort {
            h["sort"] = s;
        }
        h
    }

    fn search(total: u64, hits: Vec<Value>, aggs: Value) -> Value {
        json!({"took": 3, "timed_out": false, "_shards": {"total": 1},
               "hits": {"total": {"value": total, "relation": "eq"}, "max_score": null, "hits": hits},
               "aggregations": aggs})
    }

    fn kinds(d: &[Diff]) -> Vec<(Kind, String)> {
        d.iter().map(|d| (d.kind, d.path.clone())).collect()
    }

    fn base() -> Value {
        search(
            3,
            vec![
                hit("a", Some(json!([3])), json!({"n": 3})),
                hit("b", Some(json!([2])), json!({"n": 2})),
                hit("c", Some(json!([1])), json!({"n": 1})),
            ],
            json!({"by": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                          "buckets": [{"key": "x", "doc_count": 2}, {"key": "y", "doc_count": 1}]}}),
        )
    }

    fn opts() -> Options {
        Options::from_search_body(Some(&json!({"sort": [{"n": "desc"}],
            "aggs": {"by": {"terms": {"field": "k"}}}})))
    }

    #[test]
    fn equal_answers_have_no_difference_whatever_took_and_shards_say() {
        let mut ch = base();
        ch["took"] = json!(99);
        ch["_shards"] = json!({"total": 5});
        assert_eq!(compare_search(&opts(), 200, &base(), 200, &ch), vec![]);
    }

    #[test]
    fn total_differs() {
        let mut ch = base();
        ch["hits"]["total"]["relation"] = json!("gte");
        let d = compare_search(&opts(), 200, &base(), 200, &ch);
        assert_eq!(kinds(&d), vec![(Kind::TotalDiffers, "hits.total".into())]);
        // The bare number of rest_total_hits_as_int too.
        let mut e = base();
        e["hits"]["total"] = json!(3);
        let mut c = base();
        c["hits"]["total"] = json!(4);
        let d = compare_search(&opts(), 200, &e, 200, &c);
        assert_eq!(kinds(&d), vec![(Kind::TotalDiffers, "hits.total".into())]);
    }

    #[test]
    fn missing_and_extra_hits() {
        let mut ch = base();
        ch["hits"]["hits"][1] = hit("z", Some(json!([2])), json!({"n": 2}));
        let d = compare_search(&opts(), 200, &base(), 200, &ch);
        assert_eq!(
            kinds(&d),
            vec![
                (Kind::MissingHit, "hits.hits[_id=b]".into()),
                (Kind::ExtraHit, "hits.hits[_id=z]".into())
            ]
        );
    }

    #[test]
    fn order_differs_but_ties_may_come_in_any_order() {
        let mut ch = base();
        let hs = ch["hits"]["hits"].as_array_mut().unwrap();
        hs.swap(0, 1);
        let d = compare_search(&opts(), 200, &base(), 200, &ch);
        assert_eq!(kinds(&d), vec![(Kind::OrderDiffers, "hits.hits".into())]);
        // Tied sort values: swapped order is no difference.
        let tied = |order: [&str; 3]| {
            search(
                3,
                order
                    .iter()
                    .map(|id| {
                        let s = if *id == "c" { 1 } else { 5 };
                        hit(id, Some(json!([s])), json!({"n": s}))
                    })
                    .collect(),
                json!({}),
            )
        };
        let d = compare_search(
            &opts(),
            200,
            &tied(["a", "b", "c"]),
            200,
            &tied(["b", "a", "c"]),
        );
        assert_eq!(d, vec![]);
        let d = compare_search(
            &opts(),
            200,
            &tied(["a", "b", "c"]),
            200,
            &tied(["c", "a", "b"]),
        );
        assert_eq!(kinds(&d), vec![(Kind::OrderDiffers, "hits.hits".into())]);
        // Without sort values (score order, scores not requested), order is not compared.
        let plain = |order: [&str; 2]| {
            search(
                2,
                order.iter().map(|id| hit(id, None, json!({}))).collect(),
                json!({}),
            )
        };
        let d = compare_search(
            &Options::default(),
            200,
            &plain(["a", "b"]),
            200,
            &plain(["b", "a"]),
        );
        assert_eq!(d, vec![]);
    }

    #[test]
    fn a_tie_at_the_end_of_a_full_page_is_no_difference() {
        let page = |ids: [&str; 2]| {
            search(
                3,
                ids.iter()
                    .map(|id| hit(id, Some(json!([1])), json!({})))
                    .collect(),
                json!({}),
            )
        };
        let o = Options::from_search_body(Some(&json!({"size": 2, "sort": ["n"]})));
        assert_eq!(
            compare_search(&o, 200, &page(["a", "b"]), 200, &page(["a", "c"])),
            vec![]
        );
        // Not a full page: a real difference.
        let o = Options::from_search_body(Some(&json!({"size": 5, "sort": ["n"]})));
        let d = compare_search(&o, 200, &page(["a", "b"]), 200, &page(["a", "c"]));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn source_and_fields_values() {
        let mut ch = base();
        ch["hits"]["hits"][0]["_source"]["n"] = json!(30);
        ch["hits"]["hits"][0]["_source"]["extra"] = json!(true);
        ch["hits"]["hits"][2]["fields"] = json!({"n": [1]});
        let d = compare_search(&opts(), 200, &base(), 200, &ch);
        assert_eq!(
            kinds(&d),
            vec![
                (Kind::ValueDiffers, "hits.hits[_id=a]._source.n".into()),
                (Kind::ExtraField, "hits.hits[_id=a]._source.extra".into()),
                (Kind::ExtraField, "hits.hits[_id=c].fields".into()),
            ]
        );
        assert_eq!(d[0].elasticsearch, Some(json!(3)));
        assert_eq!(d[0].clickhouse, Some(json!(30)));
        // 1 and 1.0 are the same number.
        let mut ch = base();
        ch["hits"]["hits"][0]["_source"]["n"] = json!(3.0);
        assert_eq!(compare_search(&opts(), 200, &base(), 200, &ch), vec![]);
    }

    #[test]
    fn scores_only_when_requested() {
        let mut e = base();
        e["hits"]["hits"][0]["_score"] = json!(1.5);
        let mut c = base();
        c["hits"]["hits"][0]["_score"] = json!(2.5);
        assert_eq!(compare_search(&opts(), 200, &e, 200, &c), vec![]);
        let o = Options::from_search_body(Some(
            &json!({"sort": [{"n": "desc"}], "track_scores": true}),
        ));
        let d = compare_search(&o, 200, &e, 200, &c);
        assert_eq!(
            kinds(&d),
            vec![(Kind::ValueDiffers, "hits.hits[_id=a]._score".into())]
        );
    }

    #[test]
    fn buckets_missing_extra_order_and_counts() {
        let mut ch = base();
        ch["aggregations"]["by"]["buckets"] = json!([
            {"key": "y", "doc_count": 1},
            {"key": "x", "doc_count": 3, "key_as_string": "X"},
            {"key": "w", "doc_count": 1}
        ]);
        let mut es = base();
        es["aggregations"]["by"]["buckets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "v", "doc_count": 1}));
        let d = compare_search(&opts(), 200, &es, 200, &ch);
        assert_eq!(
            kinds(&d),
            vec![
                (Kind::MissingBucket, "aggregations.by.buckets[key=v]".into()),
                (Kind::ExtraBucket, "aggregations.by.buckets[key=w]".into()),
                (Kind::OrderDiffers, "aggregations.by.buckets".into()),
                (
                    Kind::ValueDiffers,
                    "aggregations.by.buckets[key=x].doc_count".into()
                ),
                (
                    Kind::ExtraField,
                    "aggregations.by.buckets[key=x].key_as_string".into()
                ),
            ]
        );
    }

    #[test]
    fn sub_aggregations_metrics_and_tolerances() {
        let o = Options::from_search_body(Some(&json!({"aggs": {
            "h": {"date_histogram": {"field": "t", "fixed_interval": "1d"},
                  "aggs": {"u": {"cardinality": {"field": "k"}}, "s": {"sum": {"field": "n"}}}}}})));
        let resp = |u: f64, s: f64| {
            json!({"hits": {"total": {"value": 1, "relation": "eq"}, "hits": []},
                   "aggregations": {"h": {"buckets": [
                       {"key_as_string": "2024-01-01", "key": 1704067200000_i64, "doc_count": 1,
                        "u": {"value": u}, "s": {"value": s}}]}}})
        };
        // 3% off on a cardinality is within its tolerance; on a sum it is not.
        assert_eq!(
            compare_search(&o, 200, &resp(100.0, 5.0), 200, &resp(103.0, 5.0)),
            vec![]
        );
        let d = compare_search(&o, 200, &resp(100.0, 5.0), 200, &resp(100.0, 5.15));
        assert_eq!(
            kinds(&d),
            vec![(
                Kind::ValueDiffers,
                "aggregations.h.buckets[key=1704067200000].s.value".into()
            )]
        );
        let d = compare_search(&o, 200, &resp(100.0, 5.0), 200, &resp(120.0, 5.0));
        assert_eq!(
            d[0].path,
            "aggregations.h.buckets[key=1704067200000].u.value"
        );
        // A whole aggregation missing on one side.
        let mut c = resp(1.0, 1.0);
        c["aggregations"]["extra"] = json!({"value": 1});
        c["aggregations"]["h"]["buckets"][0]
            .as_object_mut()
            .unwrap()
            .remove("s");
        let d = compare_search(&o, 200, &resp(1.0, 1.0), 200, &c);
        assert_eq!(
            kinds(&d),
            vec![
                (
                    Kind::MissingAggregation,
                    "aggregations.h.buckets[key=1704067200000].s".into()
                ),
                (Kind::ExtraAggregation, "aggregations.extra".into()),
            ]
        );
    }

    #[test]
    fn keyed_buckets_compare_by_key() {
        let es = json!({"aggregations": {"f": {"buckets": {"a": {"doc_count": 1}, "b": {"doc_count": 2}}}}});
        let ch = json!({"aggregations": {"f": {"buckets": {"a": {"doc_count": 1}}}}});
        let d = compare_search(&Options::default(), 200, &es, 200, &ch);
        assert_eq!(
            kinds(&d),
            vec![(Kind::MissingBucket, "aggregations.f.buckets[key=b]".into())]
        );
    }

    #[test]
    fn errors() {
        let err = json!({"error": {"type": "parsing_exception", "reason": "x"}, "status": 400});
        let d = compare_search(&opts(), 200, &base(), 400, &err);
        assert_eq!(kinds(&d), vec![(Kind::ErrorOnOneSide, "(response)".into())]);
        let other = json!({"error": {"type": "illegal_argument_exception"}, "status": 500});
        let d = compare_search(&opts(), 400, &err, 500, &other);
        assert_eq!(
            kinds(&d),
            vec![
                (Kind::StatusDiffers, "status".into()),
                (Kind::ValueDiffers, "error.type".into())
            ]
        );
        assert_eq!(compare_search(&opts(), 400, &err, 400, &err), vec![]);
    }

    #[test]
    fn count_and_msearch() {
        let d = compare_search(
            &Options::default(),
            200,
            &json!({"count": 3}),
            200,
            &json!({"count": 4}),
        );
        assert_eq!(kinds(&d), vec![(Kind::TotalDiffers, "count".into())]);
        let bodies = vec![Some(json!({"sort": [{"n": "desc"}]})), None];
        let mut ch_second = base();
        ch_second["hits"]["total"]["value"] = json!(4);
        let es = json!({"took": 1, "responses": [base(), base()]});
        let ch = json!({"took": 2, "responses": [base(), ch_second]});
        let d = compare_msearch(&bodies, 200, &es, 200, &ch);
        assert_eq!(
            kinds(&d),
            vec![(Kind::TotalDiffers, "responses[1].hits.total".into())]
        );
        let ch = json!({"responses": [base()]});
        let d = compare_msearch(&bodies, 200, &es, 200, &ch);
        assert_eq!(kinds(&d), vec![(Kind::ShapeDiffers, "responses".into())]);
    }
}
