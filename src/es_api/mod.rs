//! The Elasticsearch REST API: routes, media types, `X-Elastic-Product`, `pretty`, errors.

pub mod admission;
pub mod aliases;
pub mod async_search;
pub mod bulk;
pub mod by_query;
pub mod cat;
pub mod cluster;
pub mod cursor;
pub mod data_streams;
pub mod docs;
pub mod enrich;
pub mod esql;
pub mod essql;
pub mod failure_store;
pub mod field_caps;
pub mod indices;
pub mod info;
pub mod ingest;
pub mod msearch;
pub mod node_stats;
pub mod pit;
pub mod reindex;
pub mod resolve;
pub mod scroll;
pub mod search;
pub mod tasks;
pub mod templates;
pub mod terms_enum;
pub mod update_script;

use crate::error::EsError;
use crate::server::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde_json::Value;
use std::collections::HashMap;
use tracing::Instrument;

/// Query-string parameters of a request.
pub type Params = HashMap<String, String>;

/// A JSON answer with a status code.
pub struct EsJson(pub StatusCode, pub Value);

impl IntoResponse for EsJson {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.1).unwrap_or_default();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

pub fn ok(v: Value) -> EsJson {
    EsJson(StatusCode::OK, v)
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = EsJson(status, self.to_json()).into_response();
        resp.extensions_mut()
            .insert(crate::telemetry::metrics::ErrorType(self.kind.clone()));
        // Picked up by the logging middleware and the debug UI.
        if let Some(f) = self.unsupported_feature()
            && let Ok(v) = HeaderValue::from_str(f)
        {
            resp.headers_mut().insert("x-elastichouse-unsupported", v);
        }
        resp
    }
}

pub type ApiResult = Result<Response, EsError>;

/// Reads a JSON request body; an empty body is `None`.
pub fn parse_body(body: &[u8]) -> Result<Option<Value>, EsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| json_parse_error(&e))
}

/// Elasticsearch's answer to a body that is not valid JSON.
pub fn json_parse_error(e: &serde_json::Error) -> EsError {
    EsError::x_content_parse(format!(
        "[{}:{}] {}",
        e.line(),
        e.column(),
        json_error_text(e)
    ))
}

fn json_error_text(e: &serde_json::Error) -> String {
    let s = e.to_string();
    // serde_json appends " at line L column C"; the position is already in the prefix.
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// True for `?flag`, `?flag=true` and `?flag=` (Elasticsearch's boolean parameter parsing).
pub fn flag(params: &Params, name: &str) -> Result<bool, EsError> {
    match params.get(name).map(String::as_str) {
        None => Ok(false),
        Some("") | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(EsError::illegal_argument(format!(
            "Failed to parse value [{v}] as only [true] or [false] are allowed."
        ))),
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(info::root).head(info::root_head))
        .route("/_bulk", post(bulk::bulk).put(bulk::bulk))
        .route(
            "/{index}/_bulk",
            post(bulk::bulk_index).put(bulk::bulk_index),
        )
        .route("/_search", get(search::search_all).post(search::search_all))
        .route("/{index}/_search", get(search::search).post(search::search))
        .route(
            "/_search/scroll",
            get(scroll::scroll)
                .post(scroll::scroll)
                .delete(scroll::clear_scroll),
        )
        .route(
            "/_search/scroll/{id}",
            get(scroll::scroll_with_id)
                .post(scroll::scroll_with_id)
                .delete(scroll::clear_scroll_ids),
        )
        .route(
            "/_msearch",
            get(msearch::msearch_all).post(msearch::msearch_all),
        )
        .route(
            "/{index}/_msearch",
            get(msearch::msearch).post(msearch::msearch),
        )
        .route("/{index}/_pit", post(pit::open))
        .route("/_pit", axum::routing::delete(pit::close))
        .route("/_query", post(esql::query))
        .route("/_enrich/policy", get(enrich::get_all))
        .route(
            "/_enrich/policy/{name}",
            get(enrich::get).put(enrich::put).delete(enrich::delete),
        )
        .route(
            "/_enrich/policy/{name}/_execute",
            post(enrich::execute).put(enrich::execute),
        )
        .route("/_sql", post(essql::query).get(essql::query))
        .route("/_sql/close", post(essql::close))
        .route("/_sql/async/{id}", get(essql::async_get))
        .route("/_sql/async/status/{id}", get(essql::async_status))
        .route(
            "/_sql/async/delete/{id}",
            axum::routing::delete(essql::async_delete),
        )
        .route(
            "/_sql/translate",
            post(essql::translate).get(essql::translate),
        )
        .route("/_query/async", post(esql::query_async))
        .route(
            "/_query/async/{id}",
            get(esql::async_get).delete(esql::async_delete),
        )
        .route("/_count", get(search::count_all).post(search::count_all))
        .route("/{index}/_count", get(search::count).post(search::count))
        .route("/_mget", get(docs::mget_all).post(docs::mget_all))
        .route("/{index}/_mget", get(docs::mget).post(docs::mget))
        .route("/_mapping", get(indices::get_mapping_all))
        // Elasticsearch's REST handlers take the plural too (RestGetMappingAction).
        .route("/_mappings", get(indices::get_mapping_all))
        .route(
            "/{index}/_mappings",
            get(indices::get_mapping)
                .put(indices::put_mapping)
                .post(indices::put_mapping),
        )
        .route(
            "/{index}/_mapping",
            get(indices::get_mapping)
                .put(indices::put_mapping)
                .post(indices::put_mapping),
        )
        .route(
            "/_refresh",
            post(indices::refresh_all).get(indices::refresh_all),
        )
        .route(
            "/{index}/_refresh",
            post(indices::refresh).get(indices::refresh),
        )
        .route(
            "/_aliases",
            post(aliases::update_aliases).get(aliases::get_all),
        )
        .route("/_alias", get(aliases::get_all))
        .route(
            "/_alias/{name}",
            get(aliases::get_named).head(aliases::head_named),
        )
        .route(
            "/{index}/_alias",
            get(aliases::get_of_index).head(aliases::get_of_index),
        )
        .route("/{index}/_aliases", get(aliases::get_of_index))
        .route(
            "/{index}/_alias/{name}",
            put(aliases::put_alias)
                .post(aliases::put_alias)
                .delete(aliases::delete_alias)
                .get(aliases::get_of_index_named)
                .head(aliases::head_of_index_named),
        )
        .route(
            "/{index}/_aliases/{name}",
            put(aliases::put_alias)
                .post(aliases::put_alias)
                .delete(aliases::delete_alias)
                .get(aliases::get_of_index_named)
                .head(aliases::head_of_index_named),
        )
        .route("/_index_template", get(templates::get_index_templates))
        .route(
            "/_index_template/{name}",
            put(templates::put_index_template)
                .post(templates::put_index_template)
                .get(templates::get_index_template)
                .head(templates::head_index_template)
                .delete(templates::delete_index_template),
        )
        .route(
            "/_index_template/_simulate_index/{name}",
            post(templates::simulate_index),
        )
        .route(
            "/_component_template",
            get(templates::get_component_templates),
        )
        .route(
            "/_component_template/{name}",
            put(templates::put_component_template)
                .post(templates::put_component_template)
                .get(templates::get_component_template)
                .head(templates::head_component_template)
                .delete(templates::delete_component_template),
        )
        .route("/_template", any(templates::legacy_template))
        .route("/_template/{name}", any(templates::legacy_template))
        .route("/_data_stream", get(data_streams::get_all))
        .route(
            "/_data_stream/{name}",
            get(data_streams::get)
                .put(data_streams::put)
                .delete(data_streams::delete),
        )
        .route(
            "/_data_stream/{name}/_options",
            get(failure_store::get_options)
                .put(failure_store::put_options)
                .delete(failure_store::delete_options),
        )
        .route("/_resolve/index/{name}", get(resolve::resolve_index))
        .route("/{index}/_rollover", post(data_streams::rollover))
        .route("/_cat/aliases", get(aliases::cat_all))
        .route("/_cat/aliases/{name}", get(aliases::cat_named))
        .route("/_cat/indices", get(cat::indices_all))
        .route("/_cat/indices/{index}", get(cat::indices))
        .route("/_cat/count", get(cat::count_all))
        .route("/_cat/health", get(cat::health))
        .route("/_cat/count/{index}", get(cat::count))
        .route(
            "/{index}",
            put(indices::create)
                .delete(indices::delete)
                .get(indices::get)
                .head(indices::exists),
        )
        .route("/{index}/_doc", post(docs::index_auto_id))
        .route(
            "/{index}/_doc/{id}",
            put(docs::index_with_id)
                .post(docs::index_with_id)
                .get(docs::get)
                .head(docs::exists)
                .delete(docs::delete),
        )
        .route(
            "/{index}/_create/{id}",
            put(docs::create).post(docs::create),
        )
        .route("/{index}/_update/{id}", post(docs::update))
        .route(
            "/{index}/_source/{id}",
            get(docs::get_source).head(docs::exists_source),
        )
        .route(
            "/_field_caps",
            get(field_caps::field_caps_all).post(field_caps::field_caps_all),
        )
        .route(
            "/{index}/_field_caps",
            get(field_caps::field_caps).post(field_caps::field_caps),
        )
        .route(
            "/{index}/_terms_enum",
            get(terms_enum::terms_enum).post(terms_enum::terms_enum),
        )
        .route("/_async_search", post(async_search::submit_all))
        .route("/{index}/_async_search", post(async_search::submit))
        .route(
            "/_async_search/{id}",
            get(async_search::get).delete(async_search::delete),
        )
        .route("/_async_search/status/{id}", get(async_search::status))
        .route("/_nodes", get(cluster::nodes))
        .route("/_nodes/stats", get(node_stats::all))
        .route("/_nodes/stats/{metric}", get(node_stats::metric))
        .route("/_nodes/{node_id}/stats", get(node_stats::node))
        .route(
            "/_nodes/{node_id}/stats/{metric}",
            get(node_stats::node_metric),
        )
        .route("/_nodes/{node_id}", get(cluster::nodes_one))
        .route("/_nodes/{node_id}/{metrics}", get(cluster::nodes_two))
        .route(
            "/_nodes/{node_id}/info/{metrics}",
            get(cluster::nodes_info_metrics),
        )
        .route("/_cluster/health", get(cluster::health))
        .route("/_cluster/health/{index}", get(cluster::health_index))
        .route("/_cluster/settings", get(cluster::get_settings))
        .route("/_xpack", get(cluster::xpack))
        .route("/_xpack/usage", get(cluster::xpack_usage))
        .route("/_license", get(cluster::license))
        .route(
            "/_security/_authenticate",
            get(crate::security::api_keys::authenticate),
        )
        .route(
            "/_security/api_key",
            post(crate::security::api_keys::create)
                .put(crate::security::api_keys::create)
                .get(crate::security::api_keys::get)
                .delete(crate::security::api_keys::invalidate),
        )
        // Ingest pipelines (src/es_api/ingest.rs).
        .route("/_ingest/pipeline", get(ingest::get_pipelines))
        .route(
            "/_ingest/pipeline/_simulate",
            get(ingest::simulate).post(ingest::simulate),
        )
        .route(
            "/_ingest/pipeline/{id}",
            get(ingest::get_pipeline)
                .put(ingest::put_pipeline)
                .delete(ingest::delete_pipeline),
        )
        .route(
            "/_ingest/pipeline/{id}/_simulate",
            get(ingest::simulate_id).post(ingest::simulate_id),
        )
        .route("/_ingest/processor/grok", get(ingest::grok_patterns))
        // Write-by-query and tasks (src/es_api/by_query.rs, reindex.rs, tasks.rs).
        .route("/{index}/_delete_by_query", post(by_query::delete_by_query))
        .route("/{index}/_update_by_query", post(by_query::update_by_query))
        .route("/_reindex", post(reindex::reindex))
        .route("/_tasks", get(tasks::list))
        .route("/_tasks/{id}", get(tasks::get))
        .route("/_tasks/{id}/_cancel", post(tasks::cancel))
        .fallback(any(no_handler))
        // Routing (elastichouse / Elasticsearch / both) runs inside the trace es_layer opens.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::router::layer::layer,
        ))
        // Back-pressure: 429 past the search and indexing-pressure bounds (after authentication,
        // so unauthenticated requests cannot fill them).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admission::layer,
        ))
        // Authentication and authorization, inside the trace (so refusals show on the debug UI)
        // and before routing (nothing reaches either backend unauthenticated).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::security::layer::es_layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), es_layer))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        // The last net: a panic while serving one request answers that request a 500 in
        // Elasticsearch's error shape, and the daemon goes on serving the others.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// Elasticsearch's answer to an unexpected failure inside a request (`RestResponse` of an
/// exception that is not an `ElasticsearchException`: status 500, type `exception`).
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = what, "request handler panicked");
    let mut resp = EsError::new(
        500,
        "exception",
        format!("elastichouse failed while handling the request: {what}"),
    )
    .into_response();
    resp.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    resp
}

/// Elasticsearch's answer to a body over `http.max_content_length`: 413 Request Entity Too Large
/// with an empty body, as Netty's HttpObjectAggregator (Netty4HttpServerTransport) sends it before
/// any REST handler runs.
fn content_too_long(limit: u64) -> Response {
    tracing::warn!(
        limit,
        "request body over http.max_content_length refused with 413"
    );
    let mut resp = StatusCode::PAYLOAD_TOO_LARGE.into_response();
    // The client may still be sending: do not keep reading an oversized body.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Counts the (decompressed) body as handlers read it and fails the read past `limit`, noting it in
/// `over` so that the answer becomes a 413 whatever the handler made of the failed read.
fn limit_body(body: Body, limit: u64, over: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Body {
    use futures::StreamExt;
    let mut seen: u64 = 0;
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            over.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(axum::Error::new(std::io::Error::other(format!(
                "the request body is larger than http.max_content_length [{limit}]"
            ))));
        }
        Ok(chunk)
    }))
}

/// An API elastichouse does not implement: passed through to Elasticsearch when one is configured,
/// else Elasticsearch's answer for a path/method it has no handler for
/// (RestController#handleBadRequest).
async fn no_handler(State(state): State<AppState>, req: Request) -> Response {
    if let Some(es) = &state.elastic {
        return es.forward(req).await.unwrap_or_else(|e| e.into_response());
    }
    no_handler_error(req.method(), req.uri().path()).into_response()
}

fn no_handler_error(method: &Method, path: &str) -> EsError {
    if path.split('/').any(|seg| seg.starts_with('_')) {
        // An Elasticsearch API (`_ingest/pipeline`, `logs/_rollover`, …) rather than a mistyped
        // path: say which one needs Elasticsearch.
        return needs_elasticsearch(method, path);
    }
    EsError::new(
        400,
        "illegal_argument_exception",
        format!("no handler found for uri [{path}] and method [{method}]"),
    )
    .with(
        "elastichouse.unsupported_feature",
        format!("{method} {path}"),
    )
}

/// Whether a scroll, point-in-time or async-search id was issued by elastichouse (the router sends
/// a continuation to the backend that issued its id).
pub fn issued_here(id: &str) -> bool {
    cursor::ScrollState::decode(id).is_ok()
        || cursor::PitState::decode(id).is_ok()
        || async_search::is_own_id(id)
}

/// An Elasticsearch API elastichouse does not implement, asked without an `elasticsearch_url` to
/// pass it to (issue: "a clear error that says which Elasticsearch feature needed it").
pub fn needs_elasticsearch(method: &Method, path: &str) -> EsError {
    EsError::illegal_argument(format!(
        "elastichouse does not implement [{method} {path}]: it passes the Elasticsearch APIs it \
         does not implement to Elasticsearch, and no elasticsearch_url is configured"
    ))
    .with(
        "elastichouse.unsupported_feature",
        format!("{method} {path}"),
    )
}

const ACCEPTED_TYPES: [&str; 6] = [
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
    "application/smile",
    "application/cbor",
];

/// What every response passes through: media-type checks, `X-Elastic-Product`, `pretty`, logging.
async fn es_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let compat = compatible_media_type(req.headers());
    let pretty = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|p| p == "pretty" || p == "pretty=true");
    let filter = axum::extract::Query::<Params>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.get("filter_path").cloned())
        .and_then(|f| crate::render::filter_path::FilterPath::parse(&f));

    // Request id, span and trace for the debug UI; ClickHouse statements run inside are attributed
    // to this request through the task-local scope.
    let (trace, req, span) = state.stats.begin(req);
    // `http.max_content_length` (HttpTransportSettings, 100mb by default), measured on the
    // decompressed body.
    let max_len = state.cfg.http_max_content_length;
    let over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let declared_too_long = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max_len);
    let req = req.map(|b| limit_body(b, max_len, over.clone()));
    let mut resp = crate::telemetry::trace::scope(trace.clone(), async {
        if declared_too_long {
            return content_too_long(max_len);
        }
        match check_content_type(req.headers()) {
            Err(r) => r,
            Ok(()) => next.run(req).await,
        }
    })
    .instrument(span.clone())
    .await;
    if over.load(std::sync::atomic::Ordering::Relaxed) {
        resp = content_too_long(max_len);
    }

    // Elasticsearch's own answer (pass-through) goes back as it came.
    if resp.extensions().get::<crate::elastic::Proxied>().is_some() {
        return state
            .stats
            .finish(&trace, resp, None)
            .instrument(span)
            .await;
    }
    if (pretty || filter.is_some()) && is_json(&resp) {
        resp = reshape(resp, pretty, filter.as_ref()).await;
    }
    let h = resp.headers_mut();
    h.insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    if let Some(ct) = compat
        && is_json_headers(h)
    {
        h.insert(header::CONTENT_TYPE, ct);
    }
    let unsupported = h
        .remove("x-elastichouse-unsupported")
        .map(|f| f.to_str().unwrap_or("?").to_string());
    state
        .stats
        .finish(&trace, resp, unsupported)
        .instrument(span)
        .await
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Elasticsearch answers a `compatible-with` request with the same vendor media type.
fn compatible_media_type(h: &HeaderMap) -> Option<HeaderValue> {
    let accept = header_str(h, "accept").or_else(|| header_str(h, "content-type"))?;
    let v = accept
        .split(',')
        .find(|p| p.contains("vnd.elasticsearch+json"))?;
    let version = v
        .split("compatible-with=")
        .nth(1)?
        .trim()
        .trim_end_matches(';');
    HeaderValue::from_str(&format!(
        "application/vnd.elasticsearch+json;compatible-with={version}"
    ))
    .ok()
}

/// Whether the request carries a body (RestRequest#hasContent): a non-zero Content-Length, or a
/// chunked or compressed body whose length is not declared.
fn has_content(h: &HeaderMap) -> bool {
    match h.get(header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok().and_then(|v| v.parse::<u64>().ok()) != Some(0),
        None => h.contains_key(header::TRANSFER_ENCODING),
    }
}

/// RestController#dispatchRequest: a body needs a Content-Type Elasticsearch can parse, else
/// 406 with `{"error":"Content-Type header is missing","status":406}` (or `… [x] is not
/// supported`); the browser-safelisted types (text/plain, form data) are refused too.
fn check_content_type(h: &HeaderMap) -> Result<(), Response> {
    let Some(ct) = header_str(h, "content-type") else {
        if has_content(h) {
            let body = serde_json::json!({
                "error": "Content-Type header is missing",
                "status": 406
            });
            return Err(EsJson(StatusCode::NOT_ACCEPTABLE, body).into_response());
        }
        return Ok(());
    };
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ACCEPTED_TYPES.contains(&base.as_str()) || base.is_empty() {
        return Ok(());
    }
    // RestController: {"error":"Content-Type header [text/plain] is not supported","status":406}
    let body = serde_json::json!({
        "error": format!("Content-Type header [{ct}] is not supported"),
        "status": 406
    });
    Err(EsJson(StatusCode::NOT_ACCEPTABLE, body).into_response())
}

fn is_json_headers(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn is_json(r: &Response) -> bool {
    is_json_headers(r.headers())
}

/// Post-processing of a JSON response: `filter_path` (response filtering), then `pretty`.
async fn reshape(
    resp: Response,
    pretty: bool,
    filter: Option<&crate::render::filter_path::FilterPath>,
) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let out = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => {
            let v = match filter {
                Some(f) => f.apply(v),
                None => v,
            };
            if pretty {
                let mut s = serde_json::to_vec_pretty(&v).unwrap_or_default();
                s.push(b'\n');
                s
            } else {
                serde_json::to_vec(&v).unwrap_or_default()
            }
        }
        Err(_) => bytes.to_vec(),
    };
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
        // The last net of issue 11: no input should reach a panic, and if one does, that request
        // gets Elasticsearch's 500 error shape while the listener keeps serving.
        async fn boom() -> &'static str {
            panic!("a bug")
        }
        let app: Router = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let r = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
        assert_eq!(r.status().as_u16(), 500);
        assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], 500);
        assert_eq!(v["error"]["type"], "exception");
        assert_eq!(
            v["error"]["reason"],
            "elastichouse failed while handling the request: a bug"
        );
        let r = reqwest::get(format!("http://{addr}/ok")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    #[test]
    fn content_type_rules() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        assert!(check_content_type(&h(&[])).is_ok());
        assert!(check_content_type(&h(&[("content-length", "0")])).is_ok());
        assert!(check_content_type(&h(&[("content-length", "5")])).is_err());
        assert!(check_content_type(&h(&[("transfer-encoding", "chunked")])).is_err());
        assert!(
            check_content_type(&h(&[
                ("content-length", "5"),
                ("content-type", "application/json; charset=UTF-8")
            ]))
            .is_ok()
        );
        assert!(
            check_content_type(&h(&[
                ("content-length", "5"),
                ("content-type", "text/plain")
            ]))
            .is_err()
        );
    }
}
