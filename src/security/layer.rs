//! The middlewares: authentication and authorization of ES API requests, and the debug UI's
//! credentials and Host check.

use super::actions::{self, Scope};
use super::{Authz, CHALLENGES, CURRENT, parse_authorization, unauthenticated};
use crate::error::EsError;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn with_challenges(e: EsError) -> Response {
    let challenge = e.status == 401;
    let mut resp = e.into_response();
    if challenge {
        for c in CHALLENGES {
            resp.headers_mut()
                .append(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
    }
    resp
}

/// ES API: without `[security]` a no-op. With it, every request carries credentials (basic, API
/// key or a service token), the action's cluster privilege or the path's index names are checked,
/// and the request runs inside [`CURRENT`] for the checks of names found later.
pub async fn es_layer(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    // The action is found once per request; the admission layer inside reads it.
    let (action, names) = actions::classify(req.method(), req.uri().path());
    req.extensions_mut().insert(action);
    let Some(sec) = s.security.clone() else {
        return next.run(req).await;
    };
    let shown = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let creds = match req.headers().get(header::AUTHORIZATION) {
        None => {
            return with_challenges(unauthenticated(&format!(
                "missing authentication credentials for REST request [{shown}]"
            )));
        }
        Some(h) => match h
            .to_str()
            .map_err(|_| ())
            .and_then(|v| parse_authorization(v).map_err(|_| ()))
        {
            Ok(c) => c,
            Err(()) => {
                return with_challenges(unauthenticated(&format!(
                    "missing authentication credentials for REST request [{shown}]"
                )));
            }
        },
    };
    let principal = match sec.authenticate(creds, &shown, &s.api_keys).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(path = %req.uri().path(), reason = %e.reason, "authentication failed");
            return with_challenges(e);
        }
    };
    let denied = match action.scope {
        Scope::Authenticated => None,
        Scope::Cluster => (!principal.grants_cluster(action.granting))
            .then(|| super::cluster_denied(&principal, &action)),
        // Wildcards are narrowed where they are resolved; concrete names are checked here.
        Scope::Index => names
            .iter()
            .find(|n| !n.contains('*') && !principal.grants_index(n, action.granting))
            .map(|n| super::index_denied(&principal, &action, n)),
    };
    if let Some(e) = denied {
        tracing::warn!(user = %principal.username, action = action.name,
            path = %req.uri().path(), "request denied");
        return e.into_response();
    }
    let authz = Arc::new(Authz { principal, action });
    CURRENT.scope(authz, next.run(req)).await
}

/// Whether a `Host` header names this machine's loopback (DNS rebinding: a page on another name
/// that resolves to 127.0.0.1 must not reach the debug UI).
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Cluster privileges the debug UI needs: it shows every request body.
const UI_PRIVILEGES: &[&str] = &["manage", "all"];

/// Debug UI: a Host check when it listens on loopback, and with `[security]` the same
/// credentials as the ES API (a user with the `manage` or `all` cluster privilege).
pub async fn ui_layer(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.cfg.ui_listen.ip().is_loopback() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_host(host) {
            tracing::warn!(host, "debug UI request with a foreign Host refused");
            return (
                StatusCode::FORBIDDEN,
                "the debug UI listens on loopback and answers only requests for localhost\n",
            )
                .into_response();
        }
    }
    let Some(sec) = s.security.clone() else {
        return next.run(req).await;
    };
    let challenge = || {
        let mut r = (StatusCode::UNAUTHORIZED, "authentication required\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"elastichouse debug UI\", charset=\"UTF-8\""),
        );
        r
    };
    let Some(creds) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|v| parse_authorization(v).ok())
    else {
        return challenge();
    };
    let path = req.uri().path().to_string();
    match sec.authenticate(creds, &path, &s.api_keys).await {
        Ok(p) if p.grants_cluster(UI_PRIVILEGES) => next.run(req).await,
        Ok(p) => (
            StatusCode::FORBIDDEN,
            format!(
                "{} may not use the debug UI: it needs the cluster privilege manage or all\n",
                p.describe()
            ),
        )
            .into_response(),
        Err(_) => challenge(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_loopback() {
        for h in [
            "localhost",
            "localhost:9999",
            "127.0.0.1:9999",
            "[::1]:9999",
            "LOCALHOST",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example:9999",
            "",
            "10.0.0.1:9999",
            "localhost.evil.example",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }
}
