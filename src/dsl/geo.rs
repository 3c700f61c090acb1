//! Geo queries on geo_point fields: geo_bounding_box, geo_distance.
//! (GeoBoundingBoxQueryBuilder.java, GeoDistanceQueryBuilder.java, GeoUtils#parseGeoPoint,
//! DistanceUnit.java; docs: query-dsl-geo-bounding-box-query.html, query-dsl-geo-distance-query.html,
//! geo-point.html, api-conventions.html#distance-units)

use super::{Query, boost_of};
use crate::error::EsError;
use serde_json::{Map, Value};

/// `validation_method`: STRICT (default) rejects out-of-range coordinates, COERCE normalises
/// them, IGNORE_MALFORMED takes them as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoValidation {
    #[default]
    Strict,
    Coerce,
    IgnoreMalformed,
}

/// A point as the client gave it: exact, or a geohash cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoInput {
    Point {
        lat: f64,
        lon: f64,
    },
    /// A geohash: its cell (top, left, bottom, right).
    Cell {
        top: f64,
        left: f64,
        bottom: f64,
        right: f64,
    },
}

impl GeoInput {
    /// The point itself, or the centre of a geohash cell.
    pub fn center(&self) -> (f64, f64) {
        match *self {
            GeoInput::Point { lat, lon } => (lat, lon),
            GeoInput::Cell {
                top,
                left,
                bottom,
                right,
            } => ((top + bottom) / 2.0, (left + right) / 2.0),
        }
    }
}

/// The `geo_bounding_box` query, corners in degrees.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoBoundingBox {
    pub field: String,
    pub top: f64,
    pub left: f64,
    pub bottom: f64,
    pub right: f64,
    pub validation: GeoValidation,
    pub ignore_unmapped: bool,
    pub boost: f64,
}

/// The `geo_distance` query: points within `meters` of (`lat`, `lon`).
#[derive(Debug, Clone, PartialEq)]
pub struct GeoDistance {
    pub field: String,
    pub lat: f64,
    pub lon: f64,
    pub meters: f64,
    pub validation: GeoValidation,
    pub ignore_unmapped: bool,
    pub boost: f64,
}

fn parse_err(msg: impl Into<String>) -> EsError {
    EsError::new(400, "parse_exception", msg)
}

const GEOHASH_ALPHABET: &str = "0123456789bcdefghjkmnpqrstuvwxyz";

/// The cell (top, left, bottom, right) of a geohash.
pub fn geohash_cell(hash: &str) -> Option<(f64, f64, f64, f64)> {
    if hash.is_empty() || hash.len() > 12 {
        return None;
    }
    let (mut lat, mut lon) = ((-90.0f64, 90.0f64), (-180.0f64, 180.0f64));
    let mut even = true;
    for c in hash.chars() {
        let v = GEOHASH_ALPHABET.find(c.to_ascii_lowercase())?;
        for bit in (0..5).rev() {
            let on = (v >> bit) & 1 == 1;
            let range = if even { &mut lon } else { &mut lat };
            let mid = (range.0 + range.1) / 2.0;
            if on {
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
        }
    }
    Some((lat.1, lon.0, lat.0, lon.1))
}

fn coord(v: &Value, what: &str) -> Result<f64, EsError> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| parse_err(format!("[{what}] must be a valid double value")))
}

/// Parses a point in every form geo-point.html lists: `{"lat", "lon"}`, GeoJSON
/// `{"type": "Point", "coordinates": [lon, lat]}`, `[lon, lat]`, `"lat,lon"`, WKT `"POINT (lon lat)"`
/// and a geohash.
pub fn parse_point(v: &Value) -> Result<GeoInput, EsError> {
    match v {
        Value::Object(o) => {
            if let Some(c) = o.get("coordinates") {
                return parse_point(c);
            }
            if let Some(Value::String(h)) = o.get("geohash") {
                return parse_point(&Value::String(h.clone()));
            }
            let mut lat = None;
            let mut lon = None;
            for (k, x) in o {
                match k.as_str() {
                    "lat" => lat = Some(coord(x, "lat")?),
                    "lon" => lon = Some(coord(x, "lon")?),
                    "z" | "type" => {}
                    other => {
                        return Err(parse_err(format!(
                            "field must be either [lat], [lon] or [geohash], found [{other}]"
                        )));
                    }
                }
            }
            match (lat, lon) {
                (Some(lat), Some(lon)) => Ok(GeoInput::Point { lat, lon }),
                (None, _) => Err(parse_err("field [lat] missing")),
                (_, None) => Err(parse_err("field [lon] missing")),
            }
        }
        Value::Array(a) => {
            if a.len() < 2 || a.len() > 3 {
                return Err(parse_err(
                    "[geo_point] field type should have at least two dimensions",
                ));
            }
            let lon = coord(&a[0], "lon")?;
            let lat = coord(&a[1], "lat")?;
            Ok(GeoInput::Point { lat, lon })
        }
        Value::String(s) => {
            let t = s.trim();
            if let Some(rest) = t.strip_prefix("POINT").or_else(|| t.strip_prefix("point")) {
                let inner = rest.trim().trim_start_matches('(').trim_end_matches(')');
                let nums: Vec<&str> = inner.split_whitespace().collect();
                if nums.len() >= 2
                    && let (Ok(lon), Ok(lat)) = (nums[0].parse(), nums[1].parse())
                {
                    return Ok(GeoInput::Point { lat, lon });
                }
                return Err(parse_err(format!("failed to parse [{s}] as a point")));
            }
            if t.contains(',') {
                let parts: Vec<&str> = t.split(',').collect();
                if parts.len() < 2 || parts.len() > 3 {
                    return Err(parse_err(format!(
                        "failed to parse [{s}], expected 2 or 3 coordinates but found: [{}]",
                        parts.len()
                    )));
                }
                let lat = coord(&Value::String(parts[0].to_string()), "lat")?;
                let lon = coord(&Value::String(parts[1].to_string()), "lon")?;
                return Ok(GeoInput::Point { lat, lon });
            }
            let (top, left, bottom, right) = geohash_cell(t)
                .ok_or_else(|| parse_err(format!("unsupported symbol [{t}] in geohash [{t}]")))?;
            Ok(GeoInput::Cell {
                top,
                left,
                bottom,
                right,
            })
        }
        _ => Err(parse_err("geo_point expected")),
    }
}

fn validation(v: &Value) -> Result<GeoValidation, EsError> {
    match v.as_str().map(str::to_uppercase).as_deref() {
        Some("STRICT") => Ok(GeoValidation::Strict),
        Some("COERCE") => Ok(GeoValidation::Coerce),
        Some("IGNORE_MALFORMED") => Ok(GeoValidation::IgnoreMalformed),
        _ => Err(EsError::illegal_argument(format!(
            "No enum constant org.elasticsearch.index.query.GeoValidationMethod.{}",
            v.as_str().unwrap_or_default().to_uppercase()
        ))),
    }
}

fn ignore_unmapped(v: &Value, query: &str) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(EsError::parsing(format!(
            "[{query}] failed to parse field [ignore_unmapped]"
        ))),
    }
}

/// `BBOX (minLon, maxLon, maxLat, minLat)`: (top, left, bottom, right).
fn parse_wkt_bbox(s: &str) -> Result<(f64, f64, f64, f64), EsError> {
    let t = s.trim();
    let upper = t.to_uppercase();
    let inner = upper
        .strip_prefix("BBOX")
        .map(|r| r.trim())
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| parse_err(format!("failed to parse WKT bounding box [{s}]")))?;
    let n: Vec<f64> = inner
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| parse_err(format!("failed to parse WKT bounding box [{s}]")))?;
    if n.len() != 4 {
        return Err(parse_err(format!("failed to parse WKT bounding box [{s}]")));
    }
    Ok((n[2], n[0], n[3], n[1]))
}

/// The corners of a bounding box object (GeoBoundingBox#parseBoundingBox): (top, left, bottom, right).
pub fn parse_box(field: &str, o: &Map<String, Value>) -> Result<(f64, f64, f64, f64), EsError> {
    let (mut top, mut left, mut bottom, mut right) = (None, None, None, None);
    let mut wkt = None;
    for (k, v) in o {
        let p = || parse_point(v);
        match k.as_str() {
            "top" => top = Some(coord(v, "top")?),
            "bottom" => bottom = Some(coord(v, "bottom")?),
            "left" => left = Some(coord(v, "left")?),
            "right" => right = Some(coord(v, "right")?),
            // A geohash corner stands for the matching corner of its cell (geo-bounding-box docs).
            "top_left" | "topLeft" => match p()? {
                GeoInput::Point { lat, lon } => (top, left) = (Some(lat), Some(lon)),
                GeoInput::Cell {
                    top: t, left: l, ..
                } => (top, left) = (Some(t), Some(l)),
            },
            "bottom_right" | "bottomRight" => match p()? {
                GeoInput::Point { lat, lon } => (bottom, right) = (Some(lat), Some(lon)),
                GeoInput::Cell {
                    bottom: b,
                    right: r,
                    ..
                } => (bottom, right) = (Some(b), Some(r)),
            },
            "top_right" | "topRight" => match p()? {
                GeoInput::Point { lat, lon } => (top, right) = (Some(lat), Some(lon)),
                GeoInput::Cell {
                    top: t, right: r, ..
                } => (top, right) = (Some(t), Some(r)),
            },
            "bottom_left" | "bottomLeft" => match p()? {
                GeoInput::Point { lat, lon } => (bottom, left) = (Some(lat), Some(lon)),
                GeoInput::Cell {
                    bottom: b, left: l, ..
                } => (bottom, left) = (Some(b), Some(l)),
            },
            "wkt" => wkt = Some(parse_wkt_bbox(v.as_str().unwrap_or_default())?),
            other => {
                return Err(parse_err(format!(
                    "failed to parse bounding box. unexpected field [{other}]"
                )));
            }
        }
    }
    if let Some(w) = wkt {
        if top.is_some() || left.is_some() || bottom.is_some() || right.is_some() {
            return Err(parse_err(
                "failed to parse bounding box. Conflicting definition found using well-known text and explicit corners.",
            ));
        }
        return Ok(w);
    }
    match (top, left, bottom, right) {
        (Some(t), Some(l), Some(b), Some(r)) => Ok((t, l, b, r)),
        _ => Err(EsError::parsing(format!(
            "failed to parse [geo_bounding_box] query. could not find all corners of the bounding box for field [{field}]"
        ))),
    }
}

pub fn parse_geo_bounding_box(body: &Value) -> Result<Query, EsError> {
    let o = body.as_object().ok_or_else(|| {
        EsError::parsing("[geo_bounding_box] query malformed, no start_object after query name")
    })?;
    let mut target: Option<(String, (f64, f64, f64, f64))> = None;
    let mut q = GeoBoundingBox {
        field: String::new(),
        top: 0.0,
        left: 0.0,
        bottom: 0.0,
        right: 0.0,
        validation: GeoValidation::Strict,
        ignore_unmapped: false,
        boost: 1.0,
    };
    for (k, v) in o {
        match (k.as_str(), v) {
            (_, Value::Object(m)) => {
                if let Some((first, _)) = &target {
                    return Err(EsError::parsing(format!(
                        "[geo_bounding_box] query doesn't support multiple fields, found [{first}] and [{k}]"
                    )));
                }
                target = Some((k.clone(), parse_box(k, m)?));
            }
            ("validation_method", _) => q.validation = validation(v)?,
            ("ignore_unmapped", _) => q.ignore_unmapped = ignore_unmapped(v, "geo_bounding_box")?,
            ("type", _) | ("_name", _) => {}
            ("boost", _) => q.boost = boost_of(v, "geo_bounding_box")?,
            (other, _) => {
                return Err(EsError::parsing(format!(
                    "failed to parse [geo_bounding_box] query. unexpected field [{other}]"
                )));
            }
        }
    }
    let (field, (top, left, bottom, right)) =
        target.ok_or_else(|| EsError::illegal_argument("Field name must not be empty."))?;
    if q.validation != GeoValidation::IgnoreMalformed && top < bottom {
        return Err(EsError::illegal_argument(format!(
            "top is below bottom corner: {top:?} vs. {bottom:?}"
        )));
    }
    q.field = field;
    (q.top, q.left, q.bottom, q.right) = (top, left, bottom, right);
    Ok(Query::GeoBoundingBox(Box::new(q)))
}

/// Metres per unit, names as DistanceUnit lists them, in its order (`km` is tried before `m`).
const UNITS: &[(&[&str], f64)] = &[
    (&["in", "inch"], 0.0254),
    (&["yd", "yards"], 0.9144),
    (&["ft", "feet"], 0.3048),
    (&["km", "kilometers"], 1000.0),
    (&["NM", "nmi", "nauticalmiles"], 1852.0),
    (&["mm", "millimeters"], 0.001),
    (&["cm", "centimeters"], 0.01),
    (&["mi", "miles"], 1609.344),
    (&["m", "meters"], 1.0),
];

fn unit_factor(name: &str) -> Option<f64> {
    UNITS
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, f)| *f)
}

/// A distance such as `12km`, `200 m`, `1.5mi`, or a bare number in `default_unit` metres.
pub fn parse_distance(v: &Value, default_unit: f64) -> Result<f64, EsError> {
    let text = match v {
        Value::Number(n) => return Ok(n.as_f64().unwrap_or(0.0) * default_unit),
        Value::String(s) => s.trim().to_string(),
        _ => {
            return Err(EsError::parsing(
                "geo_distance requires 'distance' to be specified",
            ));
        }
    };
    let bad = || {
        EsError::new(
            400,
            "number_format_exception",
            format!("For input string: \"{text}\""),
        )
    };
    for (names, factor) in UNITS {
        for name in names.iter() {
            if let Some(num) = text.strip_suffix(name) {
                return num
                    .trim()
                    .parse::<f64>()
                    .map(|n| n * factor)
                    .map_err(|_| bad());
            }
        }
    }
    text.parse::<f64>()
        .map(|n| n * default_unit)
        .map_err(|_| bad())
}

pub fn parse_geo_distance(body: &Value) -> Result<Query, EsError> {
    let o = body.as_object().ok_or_else(|| {
        EsError::parsing("[geo_distance] query malformed, no start_object after query name")
    })?;
    let mut q = GeoDistance {
        field: String::new(),
        lat: 0.0,
        lon: 0.0,
        meters: 0.0,
        validation: GeoValidation::Strict,
        ignore_unmapped: false,
        boost: 1.0,
    };
    let mut distance = None;
    let mut unit = 1.0;
    let mut point: Option<(String, (f64, f64))> = None;
    let mut legacy_lat = None;
    let mut legacy_lon = None;
    for (k, v) in o {
        match k.as_str() {
            "distance" => distance = Some(v.clone()),
            "distance_type" => match v.as_str() {
                // Elasticsearch 8 always computes arc distance; `plane` is accepted for old clients.
                Some("arc") | Some("plane") => {}
                _ => {
                    return Err(EsError::illegal_argument(format!(
                        "No geo distance for [{}]",
                        v.as_str().unwrap_or_default()
                    )));
                }
            },
            "unit" => {
                unit = v.as_str().and_then(unit_factor).ok_or_else(|| {
                    EsError::illegal_argument(format!(
                        "No distance unit match [{}]",
                        v.as_str().unwrap_or_default()
                    ))
                })?
            }
            "validation_method" => q.validation = validation(v)?,
            "ignore_unmapped" => q.ignore_unmapped = ignore_unmapped(v, "geo_distance")?,
            "_name" => {}
            "boost" => q.boost = boost_of(v, "geo_distance")?,
            k if k.ends_with(".lat") && !v.is_object() => {
                legacy_lat = Some((k.trim_end_matches(".lat").to_string(), coord(v, "lat")?))
            }
            k if k.ends_with(".lon") && !v.is_object() => {
                legacy_lon = Some((k.trim_end_matches(".lon").to_string(), coord(v, "lon")?))
            }
            k => {
                if let Some((first, _)) = &point {
                    return Err(EsError::parsing(format!(
                        "[geo_distance] query doesn't support multiple fields, found [{first}] and [{k}]"
                    )));
                }
                point = Some((k.to_string(), parse_point(v)?.center()));
            }
        }
    }
    if point.is_none()
        && let (Some((f, lat)), Some((_, lon))) = (legacy_lat, legacy_lon)
    {
        point = Some((f, (lat, lon)));
    }
    let (field, (lat, lon)) =
        point.ok_or_else(|| EsError::illegal_argument("fieldName must not be null or empty"))?;
    let distance = distance
        .ok_or_else(|| EsError::parsing("geo_distance requires 'distance' to be specified"))?;
    q.meters = parse_distance(&distance, unit)?;
    if q.meters <= 0.0 || q.meters.is_nan() {
        return Err(EsError::illegal_argument(
            "distance must be greater than zero",
        ));
    }
    q.field = field;
    (q.lat, q.lon) = (lat, lon);
    Ok(Query::GeoDistance(Box::new(q)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::parse_query;
    use serde_json::json;

    #[test]
    fn points_in_every_form() {
        let p = |v: Value| parse_point(&v).unwrap().center();
        assert_eq!(p(json!({"lat": 41.12, "lon": -71.34})), (41.12, -71.34));
        assert_eq!(p(json!([-71.34, 41.12])), (41.12, -71.34));
        assert_eq!(p(json!("41.12,-71.34")), (41.12, -71.34));
        assert_eq!(p(json!("POINT (-71.34 41.12)")), (41.12, -71.34));
        assert_eq!(
            p(json!({"type": "Point", "coordinates": [-71.34, 41.12]})),
            (41.12, -71.34)
        );
        // Geohash "drm3btev3e86" is 41.12,-71.34 to 12 characters of precision.
        let (lat, lon) = p(json!("drm3btev3e86"));
        assert!(
            (lat - 41.12).abs() < 1e-6 && (lon + 71.34).abs() < 1e-6,
            "{lat},{lon}"
        );
    }

    #[test]
    fn bounding_box_forms() {
        let corners = |v: Value| match parse_query(&v).unwrap() {
            Query::GeoBoundingBox(b) => (b.top, b.left, b.bottom, b.right),
            _ => unreachable!(),
        };
        let want = (40.73, -74.1, 40.01, -71.12);
        assert_eq!(
            corners(
                json!({"geo_bounding_box": {"pin": {"top_left": {"lat": 40.73, "lon": -74.1}, "bottom_right": {"lat": 40.01, "lon": -71.12}}}})
            ),
            want
        );
        assert_eq!(
            corners(
                json!({"geo_bounding_box": {"pin": {"top": 40.73, "left": -74.1, "bottom": 40.01, "right": -71.12}}})
            ),
            want
        );
        assert_eq!(
            corners(
                json!({"geo_bounding_box": {"pin": {"wkt": "BBOX (-74.1, -71.12, 40.73, 40.01)"}}})
            ),
            want
        );
        assert_eq!(
            corners(
                json!({"geo_bounding_box": {"pin": {"top_right": [-71.12, 40.73], "bottom_left": "40.01,-74.1"}}})
            ),
            want
        );
        // geo-bounding-box docs: geohash corners use the corners of their cells.
        let (t, l, b, r) = corners(
            json!({"geo_bounding_box": {"pin": {"top_left": "dr5r9ydj2y73", "bottom_right": "drj7teegpus6"}}}),
        );
        assert!(t > b && l < r);
        let e = parse_query(
            &json!({"geo_bounding_box": {"pin": {"top": 1, "left": 0, "bottom": 2, "right": 1}}}),
        )
        .unwrap_err();
        assert_eq!(e.reason, "top is below bottom corner: 1.0 vs. 2.0");
        let e = parse_query(&json!({"geo_bounding_box": {"pin": {"top": 1, "left": 0, "bottom": 0, "right": 1}, "foo": 1}})).unwrap_err();
        assert_eq!(
            e.reason,
            "failed to parse [geo_bounding_box] query. unexpected field [foo]"
        );
    }

    #[test]
    fn distances_with_units() {
        // api-conventions.html#distance-units
        let d = |v: Value| parse_distance(&v, 1.0).unwrap();
        assert_eq!(d(json!("12km")), 12000.0);
        assert_eq!(d(json!("200m")), 200.0);
        assert_eq!(d(json!("1mi")), 1609.344);
        assert_eq!(d(json!("2nmi")), 3704.0);
        assert_eq!(d(json!("3 ft")), 0.3048 * 3.0);
        assert_eq!(d(json!(50)), 50.0);
        assert_eq!(d(json!("50")), 50.0);
        assert!(parse_distance(&json!("far"), 1.0).is_err());
        let q =
            parse_query(&json!({"geo_distance": {"distance": "1km", "pin": {"lat": 1, "lon": 2}}}))
                .unwrap();
        assert!(
            matches!(q, Query::GeoDistance(g) if g.meters == 1000.0 && g.lat == 1.0 && g.lon == 2.0)
        );
        let e = parse_query(&json!({"geo_distance": {"pin": [0, 0]}})).unwrap_err();
        assert_eq!(e.reason, "geo_distance requires 'distance' to be specified");
    }
}
