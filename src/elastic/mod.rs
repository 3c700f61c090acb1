//! The client of the real Elasticsearch (`elasticsearch_url`): pass-through, dual write, A/B.
//!
//! [`Elastic::forward`] streams a request to Elasticsearch and its answer back unchanged (status,
//! headers, body), dropping only hop-by-hop headers (RFC 9110 §7.6.1). [`Elastic::send`] sends a
//! body already in memory and reads the whole answer (dual write and A/B need both answers).
//! Answers from Elasticsearch carry the [`Proxied`] extension so the API layer leaves them alone
//! (no `pretty`/`filter_path` reshaping, no header rewriting: Elasticsearch did its own).

use crate::error::EsError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use futures::TryStreamExt;
use std::time::Duration;

/// Marks a response that came from Elasticsearch.
#[derive(Debug, Clone, Copy)]
pub struct Proxied;

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn is_hop_by_hop(name: &HeaderName, connection_listed: &[String]) -> bool {
    let n = name.as_str();
    HOP_BY_HOP.contains(&n) || connection_listed.iter().any(|c| c == n)
}

/// The headers of `h` that go on to the next hop: no hop-by-hop headers, no `Host` (the client sets
/// the upstream's).
pub fn end_to_end(h: &HeaderMap) -> HeaderMap {
    let listed: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(h.len());
    for (name, value) in h {
        if is_hop_by_hop(name, &listed) || name == header::HOST {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// A whole answer of Elasticsearch.
#[derive(Debug, Clone)]
pub struct Buffered {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Buffered {
    pub fn into_response(self) -> Response {
        let mut r = Response::new(Body::from(self.body));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r.headers_mut().remove(header::CONTENT_LENGTH);
        r.extensions_mut().insert(Proxied);
        r
    }
}

pub struct Elastic {
    client: reqwest::Client,
    /// Without a trailing slash.
    pub base: String,
}

/// The error of a request that needs Elasticsearch when none is configured.
pub fn not_configured(method: &Method, path: &str) -> EsError {
    EsError::illegal_argument(format!(
        "[{method} {path}] needs Elasticsearch, and no elasticsearch_url is configured"
    ))
    .with(
        "elastichouse.unsupported_feature",
        format!("{method} {path} (needs Elasticsearch)"),
    )
}

impl Elastic {
    pub fn new(url: &str) -> anyhow::Result<Elastic> {
        let client = reqwest::Client::builder()
            // Bodies pass through as they are: no decompression, no redirects followed.
            .no_gzip()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Elastic {
            client,
            base: url.trim_end_matches('/').to_string(),
        })
    }

    fn url(&self, uri: &Uri) -> String {
        let pq = uri.path_and_query().map_or("/", |p| p.as_str());
        format!("{}{pq}", self.base)
    }

    fn unreachable(&self, method: &Method, uri: &Uri, e: &reqwest::Error) -> EsError {
        EsError::new(
            502,
            "elasticsearch_unreachable_exception",
            format!(
                "elastichouse could not get an answer from Elasticsearch at {} for [{method} {}]: {e}",
                self.base,
                uri.path()
            ),
        )
    }

    /// Streams the request to Elasticsearch and its answer back.
    pub async fn forward(&self, req: Request) -> Result<Response, EsError> {
        let (parts, body) = req.into_parts();
        let headers = end_to_end(&parts.headers);
        let stream = body.into_data_stream();
        let resp = self
            .client
            .request(parts.method.clone(), self.url(&parts.uri))
            .headers(headers)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .map_err(|e| self.unreachable(&parts.method, &parts.uri, &e))?;
        Ok(stream_back(resp))
    }

    /// Sends a body held in memory and reads the whole answer. `Accept-Encoding` is dropped so the
    /// answer can be read (compared, checked for item errors).
    pub async fn send(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Buffered, EsError> {
        let mut h = end_to_end(headers);
        h.remove(header::CONTENT_LENGTH);
        h.remove(header::ACCEPT_ENCODING);
        let resp = self
            .client
            .request(method.clone(), self.url(uri))
            .headers(h)
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(method, uri, &e))?;
        let status = resp.status();
        let headers = end_to_end(resp.headers());
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.unreachable(method, uri, &e))?;
        Ok(Buffered {
            status,
            headers,
            body,
        })
    }
}

fn stream_back(resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = end_to_end(resp.headers());
    let body = Body::from_stream(resp.bytes_stream().map_err(std::io::Error::other));
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r.extensions_mut().insert(Proxied);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_hop_by_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("host", "me:9200".parse().unwrap());
        h.insert("x-opaque-id", "panel-1".parse().unwrap());
        h.append("x-multi", "a".parse().unwrap());
        h.append("x-multi", "b".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let out = end_to_end(&h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["x-opaque-id", "x-multi", "content-type"]);
        assert_eq!(out.get_all("x-multi").iter().count(), 2);
    }
}
