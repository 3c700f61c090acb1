//! Geo queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! geo_point columns are `Array(Tuple(lat Float64, lon Float64))`, empty when the document has no
//! point; a document matches when any of its points does. Both queries score their boost
//! (constant score, as in Elasticsearch).
//!
//! Distances are haversine great-circle distances on a sphere of radius 6,371,008.7714 m, the
//! model of Lucene's `LatLonPoint.newDistanceQuery` (SloppyMath.haversinMeters), written out
//! with ClickHouse's trigonometric functions rather than `greatCircleDistance` (another radius and a
//! faster but coarser approximation) or `geoDistance` (WGS-84 ellipsoid: up to 0.5 % apart from ES).
//! Elasticsearch 8 computes arc distances for `distance_type: plane` too. Remaining differences:
//! Lucene quantises coordinates to ~1e-7 degrees (about 1 cm), so points within a centimetre of
//! the circle or of a box edge may fall on the other side.

use super::fields::{self, EsKind, Field};
use super::{Ctx, any_value, never};
use crate::dsl::geo::{GeoBoundingBox, GeoDistance, GeoValidation};
use crate::error::EsError;
use crate::sql::{self, Expr};

const EARTH_RADIUS_M: f64 = 6_371_008.771_4;

fn shard_error(msg: String) -> EsError {
    EsError::new(400, "query_shard_exception", msg).with("index_uuid", "_na_")
}

/// The geo_point field of a geo query; `Ok(None)` when it matches nothing.
fn geo_field(
    ctx: &Ctx,
    query: &str,
    field: &str,
    ignore_unmapped: bool,
) -> Result<Option<Field>, EsError> {
    let Some(f) = fields::resolve(ctx.meta, field) else {
        if fields::is_mapped(ctx.meta, field) || ignore_unmapped {
            // Mapped without any value yet, or unmapped and told to ignore it.
            if let Some(info) = ctx.meta.mappings.field(field)
                && info.es_type != "geo_point"
            {
                return Err(unsupported_type(query, field, &info.es_type));
            }
            return Ok(None);
        }
        return Err(shard_error(format!("failed to find geo field [{field}]")));
    };
    if f.kind != EsKind::GeoPoint {
        return Err(unsupported_type(query, field, &f.es_type));
    }
    Ok(Some(f))
}

fn unsupported_type(query: &str, field: &str, ty: &str) -> EsError {
    shard_error(format!(
        "Field [{field}] is of unsupported type [{ty}] for [{query}] query"
    ))
}

fn lat_of(p: &Expr) -> Expr {
    Expr::func("tupleElement", vec![p.clone(), sql::lit(1u64)])
}

fn lon_of(p: &Expr) -> Expr {
    Expr::func("tupleElement", vec![p.clone(), sql::lit(2u64)])
}

/// Longitude wrapped into [-180, 180] and latitude folded into [-90, 90] (GeoUtils#normalizePoint).
fn normalize(lat: f64, lon: f64) -> (f64, f64) {
    let mut lat = lat;
    let mut lon = lon;
    let mut lat_flipped = false;
    if !(-90.0..=90.0).contains(&lat) {
        lat = (lat + 180.0).rem_euclid(360.0) - 180.0;
        if lat > 90.0 {
            lat = 180.0 - lat;
            lat_flipped = true;
        } else if lat < -90.0 {
            lat = -180.0 - lat;
            lat_flipped = true;
        }
    }
    if lat_flipped {
        lon += 180.0;
    }
    if !(-180.0..=180.0).contains(&lon) {
        lon = (lon + 180.0).rem_euclid(360.0) - 180.0;
    }
    (lat, lon)
}

fn check_lat(what: &str, v: f64, errors: &mut Vec<String>) {
    if !(-90.0..=90.0).contains(&v) || v.is_nan() {
        errors.push(format!("{what} latitude is invalid: {v:?}"));
    }
}

fn check_lon(what: &str, v: f64, errors: &mut Vec<String>) {
    if !(-180.0..=180.0).contains(&v) || v.is_nan() {
        errors.push(format!("{what} longitude is invalid: {v:?}"));
    }
}

pub fn filter_geo_bounding_box(ctx: &Ctx, q: &GeoBoundingBox) -> Result<Expr, EsError> {
    let Some(f) = geo_field(ctx, "geo_bounding_box", &q.field, q.ignore_unmapped)? else {
        return Ok(never());
    };
    let (mut top, mut left, mut bottom, mut right) = (q.top, q.left, q.bottom, q.right);
    match q.validation {
        GeoValidation::Strict => {
            let mut errors = Vec::new();
            check_lat("top", top, &mut errors);
            check_lon("left", left, &mut errors);
            check_lat("bottom", bottom, &mut errors);
            check_lon("right", right, &mut errors);
            if !errors.is_empty() {
                let detail = errors
                    .iter()
                    .enumerate()
                    .map(|(i, e)| format!("{}: {e};", i + 1))
                    .collect::<Vec<_>>()
                    .join("");
                return Err(
                    shard_error("couldn't validate latitude/ longitude values".into()).caused_by(
                        EsError::new(
                            400,
                            "action_request_validation_exception",
                            format!("Validation Failed: {detail}"),
                        ),
                    ),
                );
            }
        }
        GeoValidation::Coerce => {
            // A box exactly 360° wide is the whole longitude range, not an empty one.
            let whole = (right - left) % 360.0 == 0.0 && right > left;
            (top, left) = normalize(top, left);
            (bottom, right) = normalize(bottom, right);
            if whole {
                (left, right) = (-180.0, 180.0);
            }
        }
        GeoValidation::IgnoreMalformed => {}
    }
    let (t, b, l, r) = (
        sql::lit(top),
        sql::lit(bottom),
        sql::lit(left),
        sql::lit(right),
    );
    Ok(any_value(&f, move |p| {
        let lat = lat_of(&p);
        let lon = lon_of(&p);
        let lat_ok = lat.clone().gte(b.clone()).and(lat.lte(t.clone()));
        // A box whose left edge is east of its right edge crosses the antimeridian.
        let lon_ok = if left <= right {
            lon.clone().gte(l.clone()).and(lon.lte(r.clone()))
        } else {
            lon.clone().gte(l.clone()).or(lon.lte(r.clone()))
        };
        lat_ok.and(lon_ok)
    }))
}

pub fn score_geo_bounding_box(_ctx: &Ctx, q: &GeoBoundingBox) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

/// Haversine distance in metres between a stored point and (`lat0`, `lon0`).
fn haversine(p: &Expr, lat0: f64, lon0: f64) -> Expr {
    let rad = |e: Expr| Expr::func("radians", vec![e]);
    let half_sin_sq = |d: Expr| {
        let s = Expr::func("sin", vec![d / sql::lit(2.0)]);
        s.clone() * s
    };
    let dlat = rad(lat_of(p) - sql::lit(lat0));
    let dlon = rad(lon_of(p) - sql::lit(lon0));
    let h = half_sin_sq(dlat)
        + sql::lit(lat0.to_radians().cos())
            * Expr::func("cos", vec![rad(lat_of(p))])
            * half_sin_sq(dlon);
    let h = Expr::func("least", vec![h, sql::lit(1.0)]);
    sql::lit(2.0 * EARTH_RADIUS_M) * Expr::func("asin", vec![Expr::func("sqrt", vec![h])])
}

pub fn filter_geo_distance(ctx: &Ctx, q: &GeoDistance) -> Result<Expr, EsError> {
    let Some(f) = geo_field(ctx, "geo_distance", &q.field, q.ignore_unmapped)? else {
        return Ok(never());
    };
    let (mut lat, mut lon) = (q.lat, q.lon);
    match q.validation {
        GeoValidation::Strict => {
            if !(-90.0..=90.0).contains(&lat) || lat.is_nan() {
                return Err(shard_error(format!("latitude is invalid: {lat:?}")));
            }
            if !(-180.0..=180.0).contains(&lon) || lon.is_nan() {
                return Err(shard_error(format!("longitude is invalid: {lon:?}")));
            }
        }
        GeoValidation::Coerce => (lat, lon) = normalize(lat, lon),
        GeoValidation::IgnoreMalformed => {}
    }
    let meters = sql::lit(q.meters);
    Ok(any_value(&f, move |p| {
        haversine(&p, lat, lon).lte(meters.clone())
    }))
}

pub fn score_geo_distance(_ctx: &Ctx, q: &GeoDistance) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_geo_utils() {
        assert_eq!(normalize(10.0, 190.0), (10.0, -170.0));
        assert_eq!(normalize(10.0, -190.0), (10.0, 170.0));
        assert_eq!(normalize(95.0, 0.0), (85.0, 180.0));
    }
}
