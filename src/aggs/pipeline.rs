//! Pipeline aggregations, computed in Rust over rendered buckets as Elasticsearch computes them on
//! the coordinating node: derivative, cumulative_sum, moving_fn, bucket_script, bucket_selector,
//! bucket_sort (parents: they add to or reshape the buckets of their multi-bucket parent) and
//! avg/sum/min/max/stats_bucket (siblings: they read the buckets of an aggregation next to them).

use super::{obj_keys_check, parse_err};
use crate::error::EsError;
use crate::schema::json::java_double;
use serde_json::{Map, Value, json};

pub const TYPES: [&str; 16] = [
    "derivative",
    "cumulative_sum",
    "moving_fn",
    "bucket_script",
    "bucket_selector",
    "bucket_sort",
    "avg_bucket",
    "sum_bucket",
    "max_bucket",
    "min_bucket",
    "stats_bucket",
    "extended_stats_bucket",
    "percentiles_bucket",
    "serial_diff",
    "normalize",
    "cumulative_cardinality",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gap {
    Skip,
    InsertZeros,
    KeepValues,
}

/// The `MovingFunctions.*` calls a `moving_fn` script may be (MovingFunctions.java).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MovFn {
    Avg,
    Sum,
    Min,
    Max,
    LinearWeightedAvg,
    Ewma(f64),
    Holt(f64, f64),
    StdDev,
}

impl MovFn {
    /// Parses `MovingFunctions.<name>(values[, numbers…])` (spaces removed).
    fn parse(call: &str) -> Option<MovFn> {
        let inner = call.strip_prefix("MovingFunctions.")?;
        let (name, args) = inner.split_once('(')?;
        let args: Vec<&str> = args.strip_suffix(')')?.split(',').collect();
        let nums: Option<Vec<f64>> = args[1..].iter().map(|a| a.parse().ok()).collect();
        let nums = nums?;
        Some(match (name, args[0], nums.as_slice()) {
            ("unweightedAvg", "values", []) => MovFn::Avg,
            ("sum", "values", []) => MovFn::Sum,
            ("min", "values", []) => MovFn::Min,
            ("max", "values", []) => MovFn::Max,
            ("linearWeightedAvg", "values", []) => MovFn::LinearWeightedAvg,
            ("ewma", "values", [a]) => MovFn::Ewma(*a),
            ("holt", "values", [a, b]) => MovFn::Holt(*a, *b),
            _ => return None,
        })
    }

    /// The function over one window (NaN values are already left out), as MovingFunctions
    /// computes it, NaN when it has nothing to work on.
    fn apply(self, w: &[f64]) -> f64 {
        match self {
            MovFn::Avg if w.is_empty() => f64::NAN,
            MovFn::Avg => w.iter().sum::<f64>() / w.len() as f64,
            MovFn::Sum => w.iter().sum(),
            MovFn::Min => w.iter().copied().fold(f64::NAN, f64::min),
            MovFn::Max => w.iter().copied().fold(f64::NAN, f64::max),
            // The total weight starts at 1 in Elasticsearch's implementation.
            MovFn::LinearWeightedAvg => {
                let (mut avg, mut total) = (0.0, 1.0);
                for (i, v) in w.iter().enumerate() {
                    avg += v * (i + 1) as f64;
                    total += (i + 1) as f64;
                }
                if w.is_empty() { f64::NAN } else { avg / total }
            }
            MovFn::Ewma(alpha) => w
                .iter()
                .copied()
                .reduce(|avg, v| v * alpha + avg * (1.0 - alpha))
                .unwrap_or(f64::NAN),
            MovFn::Holt(alpha, beta) => {
                let (mut s, mut last_s, mut last_b) = (f64::NAN, 0.0, 0.0);
                for (i, v) in w.iter().enumerate() {
                    let b;
                    if i == 0 {
                        s = *v;
                        b = 0.0;
                    } else {
                        s = alpha * v + (1.0 - alpha) * (last_s + last_b);
                        b = beta * (s - last_s) + (1.0 - beta) * last_b;
                    }
                    last_s = s;
                    last_b = b;
                }
                s
            }
            MovFn::StdDev => {
                let avg = MovFn::Avg.apply(w);
                if avg.is_nan() {
                    return f64::NAN;
                }
                (w.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / w.len() as f64).sqrt()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Pipeline {
    Derivative {
        path: String,
        gap: Gap,
        /// `unit` in milliseconds: adds `normalized_value` = value / (key distance / unit).
        unit_ms: Option<f64>,
    },
    CumulativeSum {
        path: String,
    },
    MovingFn {
        path: String,
        window: usize,
        shift: i64,
        f: MovFn,
        gap: Gap,
    },
    Script {
        vars: Vec<(String, String)>,
        script: Script,
        gap: Gap,
        selector: bool,
    },
    Sort {
        sort: Vec<(String, bool)>,
        from: usize,
        size: Option<usize>,
        gap: Gap,
    },
    Sibling {
        ty: &'static str,
        path: String,
        gap: Gap,
        /// percentiles_bucket: percents and keyed; extended_stats_bucket: sigma.
        percents: Vec<f64>,
        keyed: bool,
        sigma: f64,
    },
    SerialDiff {
        path: String,
        lag: usize,
        gap: Gap,
    },
    Normalize {
        path: String,
        method: Norm,
    },
    /// Distinct values seen up to each bucket, from the referenced cardinality's value sets
    /// (a hidden per-bucket column `HIDDEN_SET_PREFIX + name`).
    CumulativeCardinality {
        path: String,
    },
}

/// Bucket entries holding the distinct values of a cardinality for cumulative_cardinality;
/// removed from the response by the pipeline.
pub const HIDDEN_SET_PREFIX: &str = "\u{1}set:";

/// The methods of the normalize pipeline (NormalizePipelineMethods).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Norm {
    Rescale01,
    Rescale0100,
    PercentOfSum,
    Mean,
    ZScore,
    Softmax,
}

fn gap_of(ty: &str, body: &Map<String, Value>) -> Result<Gap, EsError> {
    match body.get("gap_policy") {
        None => Ok(Gap::Skip),
        Some(Value::String(s)) => match s.as_str() {
            "skip" => Ok(Gap::Skip),
            "insert_zeros" => Ok(Gap::InsertZeros),
            "keep_values" => Ok(Gap::KeepValues),
            other => Err(EsError::parsing(format!(
                "Invalid gap policy: [{other}], accepted values: [insert_zeros, keep_values, skip]"
            ))),
        },
        Some(other) => Err(parse_err(ty, "gap_policy", other)),
    }
}

fn single_path(ty: &str, body: &Map<String, Value>) -> Result<String, EsError> {
    match body.get("buckets_path") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => {
            Ok(a[0].as_str().unwrap_or_default().to_string())
        }
        Some(Value::Object(m)) if m.len() == 1 => Ok(m
            .values()
            .next()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()),
        Some(other) => Err(parse_err(ty, "buckets_path", other)),
        None => Err(EsError::illegal_argument(format!(
            "Required parameter [buckets_path] is missing for aggregation [{ty}]"
        ))),
    }
}

/// A script's source and language (`painless` when not given).
fn script_source(ty: &str, v: Option<&Value>) -> Result<(String, String), EsError> {
    let lang = v
        .and_then(|s| s.get("lang"))
        .and_then(Value::as_str)
        .unwrap_or("painless")
        .to_string();
    script_text(ty, v).map(|s| (s, lang))
}

fn script_text(ty: &str, v: Option<&Value>) -> Result<String, EsError> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Object(m)) => {
            if let Some(l) = m.get("lang").and_then(Value::as_str)
                && l != "painless"
                && l != "expression"
            {
                return Err(EsError::unsupported(format!(
                    "[{ty}] script language [{l}]"
                )));
            }
            if m.contains_key("id") {
                return Err(EsError::unsupported(format!("[{ty}] stored scripts")));
            }
            m.get("source")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| EsError::parsing(format!("[{ty}] script must have a [source]")))
        }
        Some(other) => Err(parse_err(ty, "script", other)),
        None => Err(EsError::illegal_argument(format!(
            "[script] is required for aggregation [{ty}]"
        ))),
    }
}

pub fn parse(ty: &'static str, body: &Map<String, Value>) -> Result<Pipeline, EsError> {
    match ty {
        "derivative" => {
            obj_keys_check(ty, body, &["buckets_path", "gap_policy", "format", "unit"])?;
            let unit_ms = match body.get("unit") {
                None => None,
                Some(Value::String(u)) => Some(unit_millis(u).ok_or_else(|| {
                    EsError::parsing(format!(
                        "failed to parse setting [unit] with value [{u}] as a time value: unit is missing or unrecognized"
                    ))
                })?),
                Some(other) => return Err(parse_err(ty, "unit", other)),
            };
            Ok(Pipeline::Derivative {
                path: single_path(ty, body)?,
                gap: gap_of(ty, body)?,
                unit_ms,
            })
        }
        "cumulative_sum" => {
            obj_keys_check(ty, body, &["buckets_path", "format"])?;
            Ok(Pipeline::CumulativeSum {
                path: single_path(ty, body)?,
            })
        }
        "moving_fn" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "buckets_path",
                    "window",
                    "shift",
                    "script",
                    "gap_policy",
                    "format",
                ],
            )?;
            let window = body.get("window").and_then(Value::as_u64).ok_or_else(|| {
                EsError::illegal_argument("[window] must be a positive, non-zero integer.")
            })?;
            if window == 0 {
                return Err(EsError::illegal_argument(
                    "[window] must be a positive, non-zero integer.",
                ));
            }
            let (src, _) = script_source(ty, body.get("script"))?;
            let inner = src.trim().trim_end_matches(';').trim().replace(' ', "");
            let f = match inner.as_str() {
                "MovingFunctions.stdDev(values,MovingFunctions.unweightedAvg(values))" => {
                    MovFn::StdDev
                }
                call => MovFn::parse(call)
                    .ok_or_else(|| EsError::unsupported(format!("[moving_fn] script [{src}]")))?,
            };
            Ok(Pipeline::MovingFn {
                path: single_path(ty, body)?,
                window: window as usize,
                shift: body.get("shift").and_then(Value::as_i64).unwrap_or(0),
                f,
                gap: gap_of(ty, body)?,
            })
        }
        "bucket_script" | "bucket_selector" => {
            obj_keys_check(
                ty,
                body,
                &["buckets_path", "script", "gap_policy", "format"],
            )?;
            let vars = match body.get("buckets_path") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_str()
                                .ok_or_else(|| parse_err(ty, "buckets_path", v))?
                                .to_string(),
                        ))
                    })
                    .collect::<Result<Vec<_>, EsError>>()?,
                Some(Value::String(s)) => vec![("_value0".to_string(), s.clone())],
                Some(other) => return Err(parse_err(ty, "buckets_path", other)),
                None => {
                    return Err(EsError::illegal_argument(format!(
                        "Required parameter [buckets_path] is missing for aggregation [{ty}]"
                    )));
                }
            };
            let (src, lang) = script_source(ty, body.get("script"))?;
            let mut vars = vars;
            // Numeric script params are variables too (`params._interval` from TSVB).
            if let Some(Value::Object(ps)) = body.get("script").and_then(|s| s.get("params")) {
                for (k, v) in ps {
                    if let Some(x) = v.as_f64() {
                        vars.push((k.clone(), format!("{PARAM_PREFIX}{x}")));
                    }
                }
            }
            Ok(Pipeline::Script {
                vars,
                script: Script::parse(&src, lang == "expression")?,
                gap: gap_of(ty, body)?,
                selector: ty == "bucket_selector",
            })
        }
        "bucket_sort" => {
            obj_keys_check(ty, body, &["sort", "from", "size", "gap_policy"])?;
            let mut sort = Vec::new();
            let items: Vec<Value> = match body.get("sort") {
                None => vec![],
                Some(Value::Array(a)) => a.clone(),
                Some(other) => vec![other.clone()],
            };
            for it in items {
                match it {
                    Value::String(s) => sort.push((s, false)),
                    Value::Object(m) => {
                        for (k, v) in m {
                            let order = match v {
                                Value::String(s) => s.clone(),
                                Value::Object(o) => o
                                    .get("order")
                                    .and_then(Value::as_str)
                                    .unwrap_or("asc")
                                    .to_string(),
                                _ => "asc".into(),
                            };
                            sort.push((k, order == "desc"));
                        }
                    }
                    other => return Err(parse_err(ty, "sort", &other)),
                }
            }
            Ok(Pipeline::Sort {
                sort,
                from: body.get("from").and_then(Value::as_u64).unwrap_or(0) as usize,
                size: body.get("size").and_then(Value::as_u64).map(|n| n as usize),
                gap: gap_of(ty, body)?,
            })
        }
        "avg_bucket"
        | "sum_bucket"
        | "max_bucket"
        | "min_bucket"
        | "stats_bucket"
        | "extended_stats_bucket"
        | "percentiles_bucket" => {
            let mut keys = vec!["buckets_path", "gap_policy", "format"];
            if ty == "extended_stats_bucket" {
                keys.push("sigma");
            }
            if ty == "percentiles_bucket" {
                keys.extend(["percents", "keyed"]);
            }
            obj_keys_check(ty, body, &keys)?;
            let sigma = match body.get("sigma") {
                None => 2.0,
                Some(v) => v.as_f64().ok_or_else(|| parse_err(ty, "sigma", v))?,
            };
            if sigma < 0.0 {
                return Err(EsError::illegal_argument(format!(
                    "[sigma] must be a non-negative double: [{ty}]"
                )));
            }
            let percents = match body.get("percents") {
                None => vec![1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0],
                Some(Value::Array(a)) => {
                    let mut out = Vec::new();
                    for p in a {
                        let x = p.as_f64().ok_or_else(|| parse_err(ty, "percents", p))?;
                        if !(0.0..=100.0).contains(&x) {
                            return Err(EsError::illegal_argument(format!(
                                "[percents] must only contain non-null doubles from 0.0-100.0: [{ty}]"
                            )));
                        }
                        out.push(x);
                    }
                    out
                }
                Some(other) => return Err(parse_err(ty, "percents", other)),
            };
            let keyed = match body.get("keyed") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(parse_err(ty, "keyed", other)),
            };
            Ok(Pipeline::Sibling {
                ty,
                path: single_path(ty, body)?,
                gap: gap_of(ty, body)?,
                percents,
                keyed,
                sigma,
            })
        }
        "serial_diff" => {
            obj_keys_check(ty, body, &["buckets_path", "lag", "gap_policy", "format"])?;
            let lag = match body.get("lag") {
                None => 1,
                Some(v) => match v.as_i64() {
                    Some(n) if n > 0 => n as usize,
                    _ => {
                        return Err(EsError::illegal_argument(
                            "[lag] must be a positive integer: [serial_diff]",
                        ));
                    }
                },
            };
            Ok(Pipeline::SerialDiff {
                path: single_path(ty, body)?,
                lag,
                gap: gap_of(ty, body)?,
            })
        }
        "cumulative_cardinality" => {
            obj_keys_check(ty, body, &["buckets_path", "format"])?;
            Ok(Pipeline::CumulativeCardinality {
                path: single_path(ty, body)?,
            })
        }
        "normalize" => {
            obj_keys_check(ty, body, &["buckets_path", "method", "format"])?;
            let method = match body.get("method").and_then(Value::as_str) {
                Some("rescale_0_1") => Norm::Rescale01,
                Some("rescale_0_100") => Norm::Rescale0100,
                Some("percent_of_sum") => Norm::PercentOfSum,
                Some("mean") => Norm::Mean,
                Some("z-score") => Norm::ZScore,
                Some("softmax") => Norm::Softmax,
                Some(other) => {
                    return Err(EsError::illegal_argument(format!(
                        "invalid method [{other}]"
                    )));
                }
                None => {
                    return Err(EsError::illegal_argument("Required [method]"));
                }
            };
            Ok(Pipeline::Normalize {
                path: single_path(ty, body)?,
                method,
            })
        }
        _ => unreachable!("pipeline type checked by the caller"),
    }
}

impl Pipeline {
    pub fn is_sibling(&self) -> bool {
        matches!(self, Pipeline::Sibling { .. })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Pipeline::Derivative { .. } => "derivative",
            Pipeline::CumulativeSum { .. } => "cumulative_sum",
            Pipeline::MovingFn { .. } => "moving_fn",
            Pipeline::Script {
                selector: false, ..
            } => "bucket_script",
            Pipeline::Script { selector: true, .. } => "bucket_selector",
            Pipeline::Sort { .. } => "bucket_sort",
            Pipeline::Sibling { ty, .. } => ty,
            Pipeline::SerialDiff { .. } => "serial_diff",
            Pipeline::Normalize { .. } => "normalize",
            Pipeline::CumulativeCardinality { .. } => "cumulative_cardinality",
        }
    }
}

/// Splits the last element of a path into (aggregation, metric): `stats.avg`, `p[99.9]`.
fn split_metric(seg: &str) -> (&str, Option<&str>) {
    if let Some(i) = seg.find('[') {
        return (&seg[..i], Some(seg[i + 1..].trim_end_matches(']')));
    }
    match seg.find('.') {
        Some(i) => (&seg[..i], Some(&seg[i + 1..])),
        None => (seg, None),
    }
}

/// The number a `buckets_path` points at inside one rendered bucket (`_count`, `_key`,
/// `a>b.value`, `stats.avg`, `percentiles.99`, `filter>_count`).
pub fn bucket_value(bucket: &Map<String, Value>, path: &str) -> Option<f64> {
    let segs: Vec<&str> = path.split('>').collect();
    let mut cur = bucket;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "_count" => return cur.get("doc_count").and_then(Value::as_f64),
            "_key" => return cur.get("key").and_then(Value::as_f64),
            _ => {}
        }
        let (name, metric) = if last {
            split_metric(seg)
        } else {
            (*seg, None)
        };
        let body = cur.get(name)?;
        if last {
            if metric.is_none() && body.get("value").is_none() {
                // A single-bucket aggregation: its document count.
                return body.get("doc_count").and_then(Value::as_f64);
            }
            return super::metrics::path_value(body, metric).or(Some(f64::NAN));
        }
        cur = body.as_object()?;
    }
    None
}

/// Ordering a terms aggregation by a path that does not name a metric is Elasticsearch's error.
pub fn check_order_path(bucket: &Map<String, Value>, path: &str) -> Result<(), EsError> {
    let first = split_metric(path.split('>').next().unwrap_or("")).0;
    if first == "_count" || first == "_key" {
        return Ok(());
    }
    match bucket.get(first) {
        Some(v) if v.get("buckets").is_some() => Err(EsError::new(
            400,
            "aggregation_execution_exception",
            format!(
                "Invalid aggregation order path [{path}]. Buckets can only be sorted on a sub-aggregator path that is built out of zero or more single-bucket aggregations within the path and a final single-bucket or a metrics aggregation at the path end."
            ),
        )),
        Some(_) => Ok(()),
        None => Err(EsError::new(
            400,
            "aggregation_execution_exception",
            format!(
                "Invalid aggregation order path [{path}]. The provided aggregation [{first}] either does not exist, or is a pipeline aggregation and cannot be used to sort the buckets."
            ),
        )),
    }
}

fn resolve(bucket: &Map<String, Value>, path: &str, gap: Gap) -> Option<f64> {
    let v = bucket_value(bucket, path);
    let empty = bucket.get("doc_count").and_then(Value::as_u64) == Some(0) && path != "_count";
    match v {
        Some(x) if x.is_finite() && !empty => Some(x),
        _ => match gap {
            Gap::InsertZeros => Some(0.0),
            Gap::KeepValues => v.filter(|x| x.is_finite()),
            Gap::Skip => None,
        },
    }
}

fn value_json(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn with_meta(meta: &Option<Value>, body: Value) -> Value {
    match meta {
        None => body,
        Some(m) => {
            let mut out = Map::new();
            out.insert("meta".into(), m.clone());
            if let Value::Object(b) = body {
                out.extend(b);
            }
            Value::Object(out)
        }
    }
}

/// Applies parent pipelines, in request order, to the buckets of their multi-bucket parent.
pub fn apply_parent(
    pipes: &[(&String, &Option<Value>, &Pipeline)],
    buckets: &mut Vec<Map<String, Value>>,
) -> Result<(), EsError> {
    for (name, meta, p) in pipes {
        let name = name.as_str();
        match p {
            Pipeline::Derivative { path, gap, unit_ms } => {
                // (value, key) of the last bucket that had a value.
                let mut last: Option<(f64, f64)> = None;
                for b in buckets.iter_mut() {
                    let this = resolve(b, path, *gap);
                    let key = b.get("key").and_then(Value::as_f64).unwrap_or(f64::NAN);
                    if let (Some((prev, prev_key)), Some(cur)) = (last, this) {
                        let mut out = json!({"value": value_json(cur - prev)});
                        if let Some(u) = unit_ms {
                            let factor = (key - prev_key) / u;
                            out["normalized_value"] = value_json((cur - prev) / factor);
                        }
                        b.insert(name.into(), with_meta(meta, out));
                    }
                    if this.is_some() || *gap != Gap::Skip {
                        last = this.map(|v| (v, key));
                    }
                }
            }
            Pipeline::CumulativeSum { path } => {
                let mut sum = 0.0;
                for b in buckets.iter_mut() {
                    if let Some(x) = resolve(b, path, Gap::InsertZeros) {
                        sum += x;
                    }
                    b.insert(name.into(), with_meta(meta, json!({"value": sum})));
                }
            }
            Pipeline::MovingFn {
                path,
                window,
                shift,
                f,
                gap,
            } => {
                let vals: Vec<Option<f64>> =
                    buckets.iter().map(|b| resolve(b, path, *gap)).collect();
                let present: Vec<(usize, f64)> = vals
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|x| (i, x)))
                    .collect();
                for (j, (bi, _)) in present.iter().enumerate() {
                    let clamp = |x: i64| x.clamp(0, present.len() as i64) as usize;
                    let from = clamp(j as i64 - *window as i64 + shift);
                    let to = clamp(j as i64 + shift);
                    let w: Vec<f64> = if from < to {
                        present[from..to].iter().map(|p| p.1).collect()
                    } else {
                        vec![]
                    };
                    let r = f.apply(&w);
                    buckets[*bi].insert(
                        name.into(),
                        with_meta(meta, json!({"value": value_json(r)})),
                    );
                }
            }
            Pipeline::Script {
                vars,
                script,
                gap,
                selector,
            } => {
                let mut keep = Vec::with_capacity(buckets.len());
                for b in buckets.iter_mut() {
                    let mut env = Vec::new();
                    let mut skip = false;
                    for (k, path) in vars {
                        if let Some(x) = path.strip_prefix(PARAM_PREFIX) {
                            env.push((k.clone(), x.parse().unwrap_or(f64::NAN)));
                            continue;
                        }
                        match resolve(b, path, *gap) {
                            Some(x) => env.push((k.clone(), x)),
                            None => skip = true,
                        }
                    }
                    if skip {
                        keep.push(true);
                        continue;
                    }
                    let r = script.eval(&env)?;
                    if *selector {
                        keep.push(r != 0.0 && !r.is_nan());
                    } else {
                        keep.push(true);
                        b.insert(
                            name.into(),
                            with_meta(meta, json!({"value": value_json(r)})),
                        );
                    }
                }
                let mut it = keep.into_iter();
                buckets.retain(|_| it.next().unwrap_or(true));
            }
            Pipeline::Sort {
                sort,
                from,
                size,
                gap,
            } => {
                if !sort.is_empty() {
                    buckets.sort_by(|x, y| {
                        for (path, desc) in sort {
                            let key = |b: &Map<String, Value>| -> Option<Value> {
                                if path == "_key" {
                                    b.get("key").cloned()
                                } else {
                                    resolve(b, path, *gap).map(|v| json!(v))
                                }
                            };
                            let (a, c) = (key(x), key(y));
                            let o = match (&a, &c) {
                                (Some(a), Some(c)) => super::cmp_values(a, c),
                                // Buckets without a value sort last whatever the direction.
                                (None, Some(_)) => return std::cmp::Ordering::Greater,
                                (Some(_), None) => return std::cmp::Ordering::Less,
                                (None, None) => std::cmp::Ordering::Equal,
                            };
                            let o = if *desc { o.reverse() } else { o };
                            if o != std::cmp::Ordering::Equal {
                                return o;
                            }
                        }
                        std::cmp::Ordering::Equal
                    });
                }
                let end = size.map_or(buckets.len(), |s| (*from + s).min(buckets.len()));
                let start = (*from).min(buckets.len());
                *buckets = buckets[start..end.max(start)].to_vec();
            }
            Pipeline::SerialDiff { path, lag, gap } => {
                // SerialDiffPipelineAggregator: this value minus the value `lag` buckets back
                // (a window of the last `lag` values, gaps included), when both exist.
                let mut window: std::collections::VecDeque<Option<f64>> =
                    std::collections::VecDeque::new();
                for b in buckets.iter_mut() {
                    let this = resolve(b, path, *gap);
                    if window.len() == *lag
                        && let (Some(cur), Some(Some(old))) = (this, window.front())
                    {
                        b.insert(
                            name.into(),
                            with_meta(meta, json!({"value": value_json(cur - old)})),
                        );
                    }
                    if window.len() == *lag {
                        window.pop_front();
                    }
                    window.push_back(this);
                }
            }
            Pipeline::Normalize { path, method } => {
                // NormalizePipelineMethods over the buckets that have a value; others get null.
                let vals: Vec<Option<f64>> = buckets
                    .iter()
                    .map(|b| resolve(b, path, Gap::Skip))
                    .collect();
                let xs: Vec<f64> = vals.iter().flatten().copied().collect();
                let n = xs.len() as f64;
                let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = xs.iter().sum();
                let mean = sum / n;
                let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                let exp_sum: f64 = xs.iter().map(|x| x.exp()).sum();
                for (b, v) in buckets.iter_mut().zip(vals) {
                    let r = match v {
                        None => f64::NAN,
                        Some(x) => match method {
                            Norm::Rescale01 => (x - min) / (max - min),
                            Norm::Rescale0100 => 100.0 * (x - min) / (max - min),
                            Norm::PercentOfSum => x / sum,
                            Norm::Mean => (x - mean) / (max - min),
                            Norm::ZScore => (x - mean) / sd,
                            Norm::Softmax => x.exp() / exp_sum,
                        },
                    };
                    b.insert(
                        name.into(),
                        with_meta(meta, json!({"value": value_json(r)})),
                    );
                }
            }
            Pipeline::CumulativeCardinality { path } => {
                // CumulativeCardinalityPipelineAggregator: the size of the union of the
                // referenced cardinality's values over this and all previous buckets.
                let hidden = format!("{HIDDEN_SET_PREFIX}{path}");
                let mut seen = std::collections::HashSet::new();
                for b in buckets.iter_mut() {
                    if let Some(Value::Array(vals)) = b
                        .shift_remove(&hidden)
                        .and_then(|h| h.get("values").cloned())
                    {
                        for v in vals {
                            seen.insert(v.to_string());
                        }
                    }
                    b.insert(name.into(), with_meta(meta, json!({"value": seen.len()})));
                }
            }
            Pipeline::Sibling { .. } => {}
        }
    }
    Ok(())
}

fn key_string(b: &Map<String, Value>) -> String {
    if let Some(Value::String(s)) = b.get("key_as_string") {
        return s.clone();
    }
    match b.get("key") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_f64() => java_double(n.as_f64().unwrap_or(0.0)),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A sibling pipeline over the buckets of an aggregation rendered next to it.
pub fn sibling(
    p: &Pipeline,
    name: &str,
    aggs: &Map<String, Value>,
) -> Result<Map<String, Value>, EsError> {
    let Pipeline::Sibling {
        ty,
        path,
        gap,
        percents,
        keyed,
        sigma,
    } = p
    else {
        return Ok(Map::new());
    };
    let (first, rest) = match path.split_once('>') {
        Some((a, b)) => (a, b),
        None => (path.as_str(), "_count"),
    };
    let bad = || EsError::illegal_argument(format!("No aggregation found for path [{path}]"));
    let target = aggs.get(first).ok_or_else(bad)?;
    let buckets: Vec<&Map<String, Value>> = match target.get("buckets") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(m)) => m.values().filter_map(Value::as_object).collect(),
        _ => {
            return Err(EsError::new(
                400,
                "aggregation_execution_exception",
                format!(
                    "buckets_path must reference either a number value or a single value numeric metric aggregation, got: [{path}] in [{name}]"
                ),
            ));
        }
    };
    let vals: Vec<(String, f64)> = buckets
        .iter()
        .filter_map(|b| resolve(b, rest, *gap).map(|v| (key_string(b), v)))
        .collect();
    let mut out = Map::new();
    let n = vals.len();
    let sum: f64 = vals.iter().map(|v| v.1).sum();
    match *ty {
        "avg_bucket" => {
            out.insert(
                "value".into(),
                if n == 0 {
                    Value::Null
                } else {
                    json!(sum / n as f64)
                },
            );
        }
        "sum_bucket" => {
            out.insert("value".into(), json!(sum));
        }
        "max_bucket" | "min_bucket" => {
            let max = *ty == "max_bucket";
            let best = vals.iter().map(|v| v.1).fold(None, |acc: Option<f64>, x| {
                Some(match acc {
                    None => x,
                    Some(a) if max => a.max(x),
                    Some(a) => a.min(x),
                })
            });
            out.insert("value".into(), best.map_or(Value::Null, value_json));
            let keys: Vec<Value> = vals
                .iter()
                .filter(|v| Some(v.1) == best)
                .map(|v| json!(v.0))
                .collect();
            out.insert("keys".into(), Value::Array(keys));
        }
        "percentiles_bucket" => {
            // PercentilesBucketPipelineAggregator: nearest rank on the sorted values,
            // index = round(p/100 · (n − 1)).
            let mut sorted: Vec<f64> = vals.iter().map(|v| v.1).collect();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let at = |p: f64| -> Value {
                if sorted.is_empty() {
                    return Value::Null;
                }
                let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
                value_json(sorted[i.min(sorted.len() - 1)])
            };
            if *keyed {
                let mut m = Map::new();
                for p in percents {
                    m.insert(java_double(*p), at(*p));
                }
                out.insert("values".into(), Value::Object(m));
            } else {
                let list: Vec<Value> = percents
                    .iter()
                    .map(|p| json!({"key": p, "value": at(*p)}))
                    .collect();
                out.insert("values".into(), Value::Array(list));
            }
        }
        "extended_stats_bucket" => {
            let xs: Vec<f64> = vals.iter().map(|v| v.1).collect();
            let nf = n as f64;
            let has = n > 0;
            let sq: f64 = xs.iter().map(|x| x * x).sum();
            let avg = sum / nf;
            let var_pop = (sq / nf - avg * avg).max(0.0);
            let var_samp = ((sq - sum * sum / nf) / (nf - 1.0)).max(0.0);
            let opt = |x: f64| {
                if has && x.is_finite() {
                    json!(x)
                } else {
                    Value::Null
                }
            };
            let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            out.insert("count".into(), json!(n));
            out.insert("min".into(), opt(min));
            out.insert("max".into(), opt(max));
            out.insert("avg".into(), opt(avg));
            out.insert("sum".into(), json!(sum));
            out.insert(
                "sum_of_squares".into(),
                if has { json!(sq) } else { Value::Null },
            );
            out.insert("variance".into(), opt(var_pop));
            out.insert("variance_population".into(), opt(var_pop));
            out.insert(
                "variance_sampling".into(),
                if n > 1 { json!(var_samp) } else { Value::Null },
            );
            let sd = var_pop.sqrt();
            let sds = var_samp.sqrt();
            out.insert("std_deviation".into(), opt(sd));
            out.insert("std_deviation_population".into(), opt(sd));
            out.insert(
                "std_deviation_sampling".into(),
                if n > 1 { json!(sds) } else { Value::Null },
            );
            let b = |s: f64, up: bool, ok: bool| {
                if ok && s.is_finite() {
                    json!(if up { avg + sigma * s } else { avg - sigma * s })
                } else {
                    Value::Null
                }
            };
            out.insert(
                "std_deviation_bounds".into(),
                json!({
                    "upper": b(sd, true, has), "lower": b(sd, false, has),
                    "upper_population": b(sd, true, has), "lower_population": b(sd, false, has),
                    "upper_sampling": b(sds, true, n > 1), "lower_sampling": b(sds, false, n > 1),
                }),
            );
        }
        _ => {
            let min = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
            let max = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
            out.insert("count".into(), json!(n));
            out.insert("min".into(), if n == 0 { Value::Null } else { json!(min) });
            out.insert("max".into(), if n == 0 { Value::Null } else { json!(max) });
            out.insert(
                "avg".into(),
                if n == 0 {
                    Value::Null
                } else {
                    json!(sum / n as f64)
                },
            );
            out.insert("sum".into(), json!(sum));
        }
    }
    Ok(out)
}

// ---- a small expression language for bucket_script / bucket_selector ----

/// Arithmetic, comparison and boolean expressions over `params.x` (the subset of Painless that
/// bucket scripts use in practice). Booleans are 1.0 / 0.0.
#[derive(Debug, Clone)]
pub enum Script {
    Num(f64),
    Var(String),
    Neg(Box<Script>),
    Not(Box<Script>),
    Bin(&'static str, Box<Script>, Box<Script>),
    Call(&'static str, Vec<Script>),
}

struct P<'a> {
    toks: Vec<&'a str>,
    pos: usize,
    src: &'a str,
    /// Lucene expressions name variables without `params.`.
    bare_vars: bool,
}

/// Marks a script parameter's constant value in the variable list of a bucket script.
const PARAM_PREFIX: &str = "\u{0}param:";

/// Milliseconds of a derivative `unit`: a calendar unit (`1d`, `day`, …) or a time value (`10s`).
fn unit_millis(u: &str) -> Option<f64> {
    let calendar = match u {
        "second" | "1s" => Some(1_000.0),
        "minute" | "1m" => Some(60_000.0),
        "hour" | "1h" => Some(3_600_000.0),
        "day" | "1d" => Some(86_400_000.0),
        "week" | "1w" => Some(7.0 * 86_400_000.0),
        "month" | "1M" => Some(30.0 * 86_400_000.0),
        "quarter" | "1q" => Some(90.0 * 86_400_000.0),
        "year" | "1y" => Some(365.0 * 86_400_000.0),
        _ => None,
    };
    calendar.or_else(|| {
        let i = u.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let n: f64 = u[..i].parse().ok()?;
        let m = match &u[i..] {
            "nanos" => 1e-6,
            "micros" => 1e-3,
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        Some(n * m)
    })
}

fn tokenize(s: &str) -> Result<Vec<&str>, EsError> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() || c == ';' {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit()
            || (c == '.' && i + 1 < b.len() && (b[i + 1] as char).is_ascii_digit())
        {
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < b.len()
                && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
            {
                i += 1;
            }
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            if ["<=", ">=", "==", "!=", "&&", "||"].contains(&two) {
                i += 2;
            } else if "+-*/%()<>!,".contains(c) {
                i += 1;
            } else {
                return Err(script_err(s));
            }
        }
        out.push(&s[start..i]);
    }
    Ok(out)
}

fn script_err(src: &str) -> EsError {
    EsError::unsupported(format!("bucket script [{src}]"))
}

impl Script {
    /// Parses a Painless (`params.x`) or, with `bare_vars`, a Lucene expression (`x`) script.
    pub fn parse(src: &str, bare_vars: bool) -> Result<Script, EsError> {
        let mut p = P {
            toks: tokenize(src)?,
            pos: 0,
            src,
            bare_vars,
        };
        let s = p.expr(0)?;
        if p.pos != p.toks.len() {
            return Err(script_err(src));
        }
        Ok(s)
    }

    pub fn eval(&self, env: &[(String, f64)]) -> Result<f64, EsError> {
        Ok(match self {
            Script::Num(x) => *x,
            Script::Var(v) => {
                let name = v.strip_prefix("params.").unwrap_or(v);
                env.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, x)| *x)
                    .ok_or_else(|| {
                        EsError::illegal_argument(format!("Unknown script variable [{v}]"))
                    })?
            }
            Script::Neg(a) => -a.eval(env)?,
            Script::Not(a) => f64::from(a.eval(env)? == 0.0),
            Script::Bin(op, a, b) => {
                let (x, y) = (a.eval(env)?, b.eval(env)?);
                match *op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    "%" => x % y,
                    "<" => f64::from(x < y),
                    "<=" => f64::from(x <= y),
                    ">" => f64::from(x > y),
                    ">=" => f64::from(x >= y),
                    "==" => f64::from(x == y),
                    "!=" => f64::from(x != y),
                    "&&" => f64::from(x != 0.0 && y != 0.0),
                    _ => f64::from(x != 0.0 || y != 0.0),
                }
            }
            Script::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval(env)).collect::<Result<_, _>>()?;
                let a = v.first().copied().unwrap_or(f64::NAN);
                let b = v.get(1).copied().unwrap_or(f64::NAN);
                match *f {
                    "abs" => a.abs(),
                    "sqrt" => a.sqrt(),
                    "log" => a.ln(),
                    "log10" => a.log10(),
                    "round" => a.round(),
                    "floor" => a.floor(),
                    "ceil" => a.ceil(),
                    "pow" => a.powf(b),
                    "max" => a.max(b),
                    _ => a.min(b),
                }
            }
        })
    }
}

const BIN_OPS: [(&str, u8); 13] = [
    ("||", 1),
    ("&&", 2),
    ("==", 3),
    ("!=", 3),
    ("<", 4),
    ("<=", 4),
    (">", 4),
    (">=", 4),
    ("+", 5),
    ("-", 5),
    ("*", 6),
    ("/", 6),
    ("%", 6),
];

impl<'a> P<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).copied()
    }

    fn expr(&mut self, min: u8) -> Result<Script, EsError> {
        let mut left = self.unary()?;
        while let Some(t) = self.peek() {
            let Some(&(op, prec)) = BIN_OPS.iter().find(|(o, _)| *o == t) else {
                break;
            };
            if prec < min.max(1) || (min > 0 && prec < min) {
                break;
            }
            self.pos += 1;
            let right = self.expr(prec + 1)?;
            left = Script::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Script, EsError> {
        let t = self.peek().ok_or_else(|| script_err(self.src))?;
        self.pos += 1;
        match t {
            "-" => Ok(Script::Neg(Box::new(self.unary()?))),
            "!" => Ok(Script::Not(Box::new(self.unary()?))),
            "(" => {
                let e = self.expr(0)?;
                if self.peek() != Some(")") {
                    return Err(script_err(self.src));
                }
                self.pos += 1;
                Ok(e)
            }
            "true" => Ok(Script::Num(1.0)),
            "false" => Ok(Script::Num(0.0)),
            t if t.starts_with("Math.") => {
                let f: &'static str = match &t[5..] {
                    "abs" => "abs",
                    "sqrt" => "sqrt",
                    "log" => "log",
                    "log10" => "log10",
                    "round" => "round",
                    "floor" => "floor",
                    "ceil" => "ceil",
                    "pow" => "pow",
                    "max" => "max",
                    "min" => "min",
                    _ => return Err(script_err(self.src)),
                };
                if self.peek() != Some("(") {
                    return Err(script_err(self.src));
                }
                self.pos += 1;
                let mut args = Vec::new();
                loop {
                    args.push(self.expr(0)?);
                    match self.peek() {
                        Some(",") => self.pos += 1,
                        Some(")") => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(script_err(self.src)),
                    }
                }
                Ok(Script::Call(f, args))
            }
            t if t.starts_with("params.") => Ok(Script::Var(t.to_string())),
            t if self.bare_vars && t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                Ok(Script::Var(t.to_string()))
            }
            t => t
                .trim_end_matches(['d', 'D', 'f', 'F', 'L', 'l'])
                .parse::<f64>()
                .map(Script::Num)
                .map_err(|_| script_err(self.src)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values worked by hand from Elasticsearch's MovingFunctions.java.
    #[test]
    fn moving_functions_as_elasticsearch_computes_them() {
        let w = [2.0, 4.0, 6.0];
        // (2*1 + 4*2 + 6*3) / (1 + 1 + 2 + 3): the total weight starts at 1.
        assert_eq!(MovFn::LinearWeightedAvg.apply(&w), 28.0 / 7.0);
        // ewma 0.5: 2 → 3 → 4.5
        assert_eq!(MovFn::Ewma(0.5).apply(&w), 4.5);
        // holt 0.5/0.5: s=2,b=0; s=3,b=0.5; s=0.5*6+0.5*3.5=4.75
        assert_eq!(MovFn::Holt(0.5, 0.5).apply(&w), 4.75);
        assert!((MovFn::StdDev.apply(&w) - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        for f in [
            MovFn::LinearWeightedAvg,
            MovFn::Ewma(0.3),
            MovFn::Holt(0.3, 0.1),
            MovFn::StdDev,
        ] {
            assert!(f.apply(&[]).is_nan(), "{f:?} of nothing is NaN");
        }
        assert_eq!(
            MovFn::parse("MovingFunctions.ewma(values,0.3)"),
            Some(MovFn::Ewma(0.3))
        );
        assert_eq!(
            MovFn::parse("MovingFunctions.holtWinters(values,0.3,0.1,0.3,5,false)"),
            None
        );
    }

    #[test]
    fn derivative_units() {
        assert_eq!(unit_millis("1s"), Some(1000.0));
        assert_eq!(unit_millis("day"), Some(86_400_000.0));
        assert_eq!(unit_millis("90s"), Some(90_000.0));
        assert_eq!(unit_millis("fortnight"), None);
    }

    // TSVB's count metric is a Lucene expression naming its variable without `params.`; Painless
    // needs `params.`.
    #[test]
    fn expression_scripts_use_bare_variables() {
        let env = [("count".to_string(), 7.0)];
        assert_eq!(
            Script::parse("count * 1", true)
                .unwrap()
                .eval(&env)
                .unwrap(),
            7.0
        );
        assert!(Script::parse("count * 1", false).is_err());
        assert_eq!(
            Script::parse("params.count / 2", false)
                .unwrap()
                .eval(&env)
                .unwrap(),
            3.5
        );
    }
}
