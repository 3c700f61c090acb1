//! Geo aggregations on geo_point columns (`Array(Tuple(lat Float64, lon Float64))`, empty when a
//! document has no point): geo_centroid and geo_bounds (metrics: aggregate columns over the
//! points of each bucket) and the geotile_grid key (a `z/x/y` string per distinct tile of a
//! document's points, exploded like any multi-valued key).
//!
//! Elasticsearch aggregates doc values, which Lucene stores quantised to 32-bit integers
//! (GeoEncodingUtils: `floor(v / (180/2^32))` for latitudes, `floor(v / (360/2^32))` for
//! longitudes, decoded by multiplying back). The points are quantised the same way here, so
//! centroids, bounds and tiles match Elasticsearch's to the last digit.

use crate::catalog::IndexMeta;
use crate::error::EsError;
use crate::plan::fields::{self, EsKind};
use crate::sql::{self, Expr};
use serde_json::{Map, Value, json};

const LAT_DECODE: f64 = 180.0 / 4_294_967_296.0;
const LON_DECODE: f64 = 360.0 / 4_294_967_296.0;

fn quantise(v: Expr, step: f64) -> Expr {
    Expr::func(
        "multiply",
        vec![
            Expr::func("floor", vec![Expr::func("divide", vec![v, sql::lit(step)])]),
            sql::lit(step),
        ],
    )
}

/// Latitude of a point tuple expression, as Elasticsearch's doc values hold it.
pub fn lat(p: Expr) -> Expr {
    // encodeLatitude maps 90 to the largest encodable value below it.
    let l = Expr::func("tupleElement", vec![p, sql::lit(1u64)]);
    quantise(
        Expr::func("least", vec![l, sql::lit(90.0 - LAT_DECODE / 2.0)]),
        LAT_DECODE,
    )
}

pub fn lon(p: Expr) -> Expr {
    let l = Expr::func("tupleElement", vec![p, sql::lit(2u64)]);
    quantise(
        Expr::func("least", vec![l, sql::lit(180.0 - LON_DECODE / 2.0)]),
        LON_DECODE,
    )
}

/// The points column of a geo_point field in one index (typed empty array when unmapped).
pub fn points_expr(meta: &IndexMeta, field: &str, ty: &str) -> Result<Expr, EsError> {
    match fields::resolve(meta, field) {
        None => Ok(Expr::func(
            "CAST",
            vec![
                sql::array(vec![]),
                sql::lit("Array(Tuple(lat Float64, lon Float64))"),
            ],
        )),
        Some(f) if f.kind == EsKind::GeoPoint => Ok(f.column_expr()),
        Some(f) => Err(EsError::illegal_argument(format!(
            "Field [{field}] of type [{}] is not supported for aggregation [{ty}]",
            f.es_type
        ))),
    }
}

fn over_points(v: &Expr, f: fn(Expr) -> Expr) -> Expr {
    Expr::func(
        "arrayMap",
        vec![sql::lambda(["gp"], f(sql::col("gp"))), v.clone()],
    )
}

fn filtered(arr: Expr, neg: bool) -> Expr {
    let c = sql::col("gl");
    let cond = if neg {
        c.lt(sql::lit(0.0))
    } else {
        c.gte(sql::lit(0.0))
    };
    Expr::func("arrayFilter", vec![sql::lambda(["gl"], cond), arr])
}

/// geo_centroid columns: sums of latitudes and longitudes and the number of points.
pub fn centroid_columns(v: Expr, p: &str) -> Vec<sql::SelectItem> {
    vec![
        Expr::func("sumArray", vec![over_points(&v, lat)]).alias(format!("{p}_lat")),
        Expr::func("sumArray", vec![over_points(&v, lon)]).alias(format!("{p}_lon")),
        Expr::func("sum", vec![Expr::func("length", vec![v])]).alias(format!("{p}_n")),
    ]
}

/// geo_bounds columns: latitude extremes, and longitude extremes separately for negative and
/// positive longitudes (to choose the narrower of the two boxes across the dateline).
pub fn bounds_columns(v: Expr, p: &str) -> Vec<sql::SelectItem> {
    let lats = over_points(&v, lat);
    let lons = over_points(&v, lon);
    vec![
        Expr::func("maxArrayOrNull", vec![lats.clone()]).alias(format!("{p}_top")),
        Expr::func("minArrayOrNull", vec![lats]).alias(format!("{p}_bottom")),
        Expr::func("minArrayOrNull", vec![filtered(lons.clone(), true)]).alias(format!("{p}_nl")),
        Expr::func("maxArrayOrNull", vec![filtered(lons.clone(), true)]).alias(format!("{p}_nr")),
        Expr::func("minArrayOrNull", vec![filtered(lons.clone(), false)]).alias(format!("{p}_pl")),
        Expr::func("maxArrayOrNull", vec![filtered(lons, false)]).alias(format!("{p}_pr")),
    ]
}

fn num(row: Option<&Map<String, Value>>, k: &str) -> Option<f64> {
    row?.get(k).and_then(Value::as_f64)
}

/// InternalGeoCentroid: `{"location": {"lat", "lon"}, "count"}`; no `location` without points.
pub fn render_centroid(row: Option<&Map<String, Value>>, p: &str) -> Map<String, Value> {
    let n = num(row, &format!("{p}_n")).unwrap_or(0.0) as u64;
    let mut out = Map::new();
    if n > 0 {
        let la = num(row, &format!("{p}_lat")).unwrap_or(0.0) / n as f64;
        let lo = num(row, &format!("{p}_lon")).unwrap_or(0.0) / n as f64;
        out.insert("location".into(), json!({"lat": la, "lon": lo}));
    }
    out.insert("count".into(), json!(n));
    out
}

/// InternalGeoBounds: `{"bounds": {"top_left", "bottom_right"}}`, absent without points;
/// with `wrap_longitude` the narrower of the box not crossing and the box crossing the dateline.
pub fn render_bounds(row: Option<&Map<String, Value>>, p: &str, wrap: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let (Some(top), Some(bottom)) = (
        num(row, &format!("{p}_top")),
        num(row, &format!("{p}_bottom")),
    ) else {
        return out;
    };
    let nl = num(row, &format!("{p}_nl"));
    let nr = num(row, &format!("{p}_nr"));
    let pl = num(row, &format!("{p}_pl"));
    let pr = num(row, &format!("{p}_pr"));
    let (left, right) = match (nl, nr, pl, pr) {
        (Some(nl), Some(nr), None, None) => (nl, nr),
        (None, None, Some(pl), Some(pr)) => (pl, pr),
        (Some(nl), Some(nr), Some(pl), Some(pr)) => {
            let unwrapped = pr - nl;
            let wrapped = (180.0 - pl) - (-180.0 - nr);
            if !wrap || unwrapped <= wrapped {
                (nl, pr)
            } else {
                (pl, nr)
            }
        }
        _ => return out,
    };
    out.insert(
        "bounds".into(),
        json!({"top_left": {"lat": top, "lon": left}, "bottom_right": {"lat": bottom, "lon": right}}),
    );
    out
}

/// The tile column and row of a point at zoom `z` (GeoTileUtils#getXTile/getYTile on the quantised
/// point: Web Mercator, tile indices clamped into the grid — at the poles the Mercator y is ±inf).
fn tile_xy(p: Expr, z: u32) -> (Expr, Expr) {
    let tiles = (1u64 << z) as f64;
    let la = lat(p.clone());
    let lo = lon(p);
    let f = |name: &'static str, a: Expr, b: Expr| Expr::func(name, vec![a, b]);
    // Clamped as floats (±inf at the poles) before the integer conversion.
    let clamp = |e: Expr| {
        Expr::func(
            "toInt64",
            vec![f(
                "least",
                f("greatest", Expr::func("floor", vec![e]), sql::lit(0.0)),
                sql::lit(tiles - 1.0),
            )],
        )
    };
    let x = clamp(f(
        "multiply",
        f("divide", f("plus", lo, sql::lit(180.0)), sql::lit(360.0)),
        sql::lit(tiles),
    ));
    // s = sin(lat); y = floor((0.5 - ln((1 + s) / (1 - s)) / (4π)) · tiles)
    let s = Expr::func("sin", vec![Expr::func("radians", vec![la])]);
    let ratio = f(
        "divide",
        f("plus", sql::lit(1.0), s.clone()),
        f("minus", sql::lit(1.0), s),
    );
    let y = clamp(f(
        "multiply",
        f(
            "minus",
            sql::lit(0.5),
            f(
                "divide",
                Expr::func("log", vec![ratio]),
                sql::lit(4.0 * std::f64::consts::PI),
            ),
        ),
        sql::lit(tiles),
    ));
    (x, y)
}

/// The `z/x/y` tile of a point (GeoTileUtils#longEncode).
pub fn tile_key(p: Expr, z: u32) -> Expr {
    let (x, y) = tile_xy(p, z);
    Expr::func(
        "concat",
        vec![
            sql::lit(format!("{z}/")),
            Expr::func("toString", vec![x]),
            sql::lit("/"),
            Expr::func("toString", vec![y]),
        ],
    )
}

/// GeoTileUtils#getXTile / getYTile in Rust, for the bounds of a grid.
fn x_tile(lon: f64, tiles: f64) -> f64 {
    (((lon + 180.0) / 360.0) * tiles)
        .floor()
        .clamp(0.0, tiles - 1.0)
}

fn y_tile(lat: f64, tiles: f64) -> f64 {
    let s = lat.to_radians().sin();
    ((0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)) * tiles)
        .floor()
        .clamp(0.0, tiles - 1.0)
}

/// The west and north edges of tile column `x` / row `y` (GeoTileUtils#toBoundingBox).
fn tile_west(x: f64, tiles: f64) -> f64 {
    x / tiles * 360.0 - 180.0
}

fn tile_north(y: f64, tiles: f64) -> f64 {
    let n = std::f64::consts::PI - 2.0 * std::f64::consts::PI * y / tiles;
    n.sinh().atan().to_degrees()
}

/// Whether a point's tile at zoom `z` intersects `bounds` (top, left, bottom, right), as
/// GeoTileBoundedPredicate decides it: tiles that only touch the box are left out, and a box whose
/// right edge is west of its left edge crosses the dateline.
pub fn tile_in_bounds(p: Expr, z: u32, (top, left, bottom, right): (f64, f64, f64, f64)) -> Expr {
    let tiles = (1u64 << z) as f64;
    let (min_x, min_y) = (x_tile(left, tiles), y_tile(top, tiles));
    let left_x = if tile_west(min_x + 1.0, tiles) == left {
        min_x + 1.0
    } else {
        min_x
    };
    let top_y = if tile_north(min_y + 1.0, tiles) == top {
        min_y + 1.0
    } else {
        min_y
    };
    let (max_x, max_y) = (x_tile(right, tiles), y_tile(bottom, tiles));
    let right_x = if tile_west(max_x, tiles) == right || left == right {
        max_x
    } else {
        max_x + 1.0
    };
    let bottom_y = if tile_north(max_y, tiles) == bottom || top == bottom {
        max_y
    } else {
        max_y + 1.0
    };
    let (x, y) = tile_xy(p, z);
    let lit = |v: f64| sql::lit(v as i64);
    let in_y = y.clone().gte(lit(top_y)).and(y.lt(lit(bottom_y)));
    let in_x = if right < left {
        Expr::Or(vec![x.clone().gte(lit(left_x)), x.lt(lit(right_x))])
    } else {
        x.clone().gte(lit(left_x)).and(x.lt(lit(right_x)))
    };
    in_y.and(in_x)
}

/// The geohash cell of a point at `precision` characters (Geohash#stringEncode on the quantised
/// point; ClickHouse's `geohashEncode` is the standard base-32 geohash).
pub fn geohash_key(p: Expr, precision: u32) -> Expr {
    Expr::func(
        "geohashEncode",
        vec![lon(p.clone()), lat(p), sql::lit(precision as u64)],
    )
}
