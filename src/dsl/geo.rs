//! Geo queries on geo_point fields: geo_bounding_box, geo_distance.
//! (GeoBoundingBoxQueryBuilder.java, GeoDistanceQueryBuilder.java)
//!
//! STUB: not implemented yet; every query here is rejected with a 400 naming it.

use super::{Query, unsupported_query};
use crate::error::EsError;
use serde_json::Value;

/// The `geo_bounding_box` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeoBoundingBox {
    pub boost: f64,
}

pub fn parse_geo_bounding_box(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("geo_bounding_box"))
}

/// The `geo_distance` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeoDistance {
    pub boost: f64,
}

pub fn parse_geo_distance(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("geo_distance"))
}
