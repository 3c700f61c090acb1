//! API keys (security-api-create-api-key.html): created, listed and invalidated through
//! `/_security/api_key`, kept as documents of the catalog's metadata table in ClickHouse, so every
//! daemon on the same ClickHouse accepts them. Only a SHA-256 of each key's secret is stored (the
//! secret is 22 random URL-safe characters, 128 bits: a slow hash adds nothing against guessing).

use super::{AuthKind, Principal, RoleDescriptor, Security, unauthenticated};
use crate::catalog::Catalog;
use crate::error::EsError;
use crate::es_api::{ApiResult, EsJson, Params, parse_body};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const KIND: &str = "api_key";

pub struct Store {
    catalog: Arc<Catalog>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn secret_hash(secret: &str) -> String {
    hex(&super::sha256(&[b"api key secret", secret.as_bytes()]))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Role descriptors as the API takes them (`{"name": {"cluster": [...], "indices": [...]}}`).
/// Parts of a role elastichouse does not enforce (field and document level security, run_as,
/// application privileges, remote indices) are refused by name rather than ignored.
fn parse_role_descriptors(v: &Value) -> Result<Vec<(String, RoleDescriptor)>, EsError> {
    let Some(obj) = v.as_object() else {
        return Err(EsError::parsing(
            "[role_descriptors] must be an object of role names to role descriptors",
        ));
    };
    let mut out = Vec::new();
    for (name, body) in obj {
        let Some(b) = body.as_object() else {
            return Err(EsError::parsing(format!(
                "failed to parse role [{name}]. expected an object"
            )));
        };
        for key in b.keys() {
            match key.as_str() {
                "cluster" | "indices" | "metadata" => {}
                "applications" | "run_as" | "remote_indices" | "remote_cluster" | "global"
                | "transient_metadata" | "description" => {
                    return Err(EsError::unsupported(format!(
                        "role descriptor field [{key}] (role [{name}])"
                    )));
                }
                other => {
                    return Err(EsError::parsing(format!(
                        "failed to parse role [{name}]. unexpected field [{other}]"
                    )));
                }
            }
        }
        if let Some(ix) = b.get("indices").and_then(Value::as_array) {
            for g in ix {
                for key in g
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    match key.as_str() {
                        "names" | "privileges" | "allow_restricted_indices" => {}
                        "field_security" | "query" => {
                            return Err(EsError::unsupported(format!(
                                "index privileges with [{key}] (document and field level security, role [{name}])"
                            )));
                        }
                        other => {
                            return Err(EsError::parsing(format!(
                                "failed to parse indices privileges for role [{name}]. unexpected field [{other}]"
                            )));
                        }
                    }
                }
            }
        }
        let mut plain = b.clone();
        plain.remove("metadata");
        if let Some(Value::Array(ix)) = plain.get_mut("indices") {
            for g in ix.iter_mut() {
                if let Some(o) = g.as_object_mut() {
                    o.remove("allow_restricted_indices");
                }
            }
        }
        let rd: RoleDescriptor = serde_json::from_value(Value::Object(plain))
            .map_err(|e| EsError::parsing(format!("failed to parse role [{name}]: {e}")))?;
        rd.validate(name).map_err(EsError::illegal_argument)?;
        out.push((name.clone(), rd));
    }
    Ok(out)
}

impl Store {
    pub fn new(catalog: Arc<Catalog>) -> Store {
        Store { catalog }
    }

    async fn all(&self) -> Result<Vec<(String, Value)>, EsError> {
        let docs = self.catalog.metadata_docs().await?;
        Ok(docs
            .iter()
            .filter(|((kind, _), _)| kind == KIND)
            .map(|((_, id), body)| (id.clone(), body.clone()))
            .collect())
    }

    /// The principal of an API key, or Elasticsearch's 401.
    pub async fn authenticate(
        &self,
        sec: &Security,
        id: &str,
        secret: &str,
    ) -> Result<Principal, EsError> {
        let bad = || unauthenticated("unable to authenticate with provided credentials");
        let docs = self.catalog.metadata_docs().await?;
        let Some(doc) = docs.get(&(KIND.to_string(), id.to_string())) else {
            return Err(bad());
        };
        let stored = doc["hash"].as_str().unwrap_or_default();
        let given = secret_hash(secret);
        // Constant-time comparison of the two hex digests.
        let same = stored.len() == given.len()
            && stored
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same || doc["invalidated"].as_bool().unwrap_or(false) {
            return Err(bad());
        }
        if doc["expiration"].as_i64().is_some_and(|e| e <= now_ms()) {
            return Err(unauthenticated("api key is expired"));
        }
        let username = doc["username"].as_str().unwrap_or_default().to_string();
        let own: Vec<RoleDescriptor> = match doc.get("role_descriptors") {
            Some(v) => parse_role_descriptors(v)?
                .into_iter()
                .map(|(_, r)| r)
                .collect(),
            None => vec![],
        };
        let limited: Vec<RoleDescriptor> = doc["limited_by"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| serde_json::from_value(r.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let (grants, limited_by) = if own.is_empty() {
            (limited, None)
        } else {
            (own, Some(limited))
        };
        let roles = sec
            .user(&username)
            .map(|u| u.roles.clone())
            .unwrap_or_default();
        Ok(Principal {
            username,
            roles,
            full_name: None,
            email: None,
            kind: AuthKind::ApiKey {
                id: id.to_string(),
                name: doc["name"].as_str().unwrap_or_default().to_string(),
            },
            grants,
            limited_by,
        })
    }
}

fn require_security(s: &AppState) -> Result<(Arc<Security>, Arc<Principal>), EsError> {
    match (&s.security, super::current_principal()) {
        (Some(sec), Some(p)) => Ok((sec.clone(), p)),
        _ => Err(EsError::new(
            400,
            "illegal_argument_exception",
            "API keys need security: configure [security] users (docs/security.md)",
        )),
    }
}

const MANAGE_OWN: &[&str] = &[
    "manage_own_api_key",
    "manage_api_key",
    "manage_security",
    "all",
];
const MANAGE_ALL: &[&str] = &["manage_api_key", "manage_security", "all"];

fn denied(p: &Principal, name: &'static str, granting: &'static [&'static str]) -> EsError {
    super::cluster_denied(
        p,
        &super::actions::Action {
            name,
            scope: super::actions::Scope::Cluster,
            granting,
        },
    )
}

/// `POST|PUT /_security/api_key`.
pub async fn create(State(s): State<AppState>, body: Bytes) -> ApiResult {
    let (_, p) = require_security(&s)?;
    const ACTION: &str = "cluster:admin/xpack/security/api_key/create";
    if !p.grants_cluster(MANAGE_OWN) {
        return Err(denied(&p, ACTION, MANAGE_OWN));
    }
    if !matches!(p.kind, AuthKind::Realm) {
        return Err(EsError::unsupported(
            "creating an API key when authenticated by an API key or a service token",
        ));
    }
    let body = parse_body(&body)?.unwrap_or(json!({}));
    let Some(obj) = body.as_object() else {
        return Err(EsError::parsing("request body must be an object"));
    };
    for key in obj.keys() {
        if !["name", "expiration", "role_descriptors", "metadata"].contains(&key.as_str()) {
            return Err(EsError::x_content_parse(format!(
                "[api_key_request] unknown field [{key}]"
            )));
        }
    }
    let Some(name) = obj
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: api key name is required;",
        ));
    };
    let expiration = match obj.get("expiration") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => {
            Some(now_ms() + crate::es_api::cursor::parse_time_value(v, "expiration")?)
        }
        Some(_) => {
            return Err(EsError::parsing(
                "[expiration] must be a time value like 1d",
            ));
        }
    };
    let role_descriptors = obj.get("role_descriptors").cloned().unwrap_or(json!({}));
    parse_role_descriptors(&role_descriptors)?;
    let id = crate::ids::generate_id();
    let secret: [u8; 16] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let limited_by: Vec<Value> = p
        .grants
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let doc = json!({
        "name": name,
        "hash": secret_hash(&secret),
        "creation": now_ms(),
        "expiration": expiration,
        "invalidated": false,
        "username": p.username,
        "realm": "file",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
        "role_descriptors": role_descriptors,
        "limited_by": limited_by,
    });
    s.catalog.put_metadata_doc(KIND, &id, Some(&doc)).await?;
    tracing::info!(api_key = %id, name, user = %p.username, "API key created");
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("name".into(), json!(name));
    if let Some(e) = expiration {
        out.insert("expiration".into(), json!(e));
    }
    out.insert("api_key".into(), json!(secret));
    out.insert(
        "encoded".into(),
        json!(STANDARD.encode(format!("{id}:{secret}"))),
    );
    Ok(EsJson(StatusCode::OK, Value::Object(out)).into_response())
}

fn visible_to(p: &Principal, doc: &Value, owner_only: bool) -> bool {
    let own = doc["username"].as_str() == Some(p.username.as_str());
    own || (!owner_only && p.grants_cluster(MANAGE_ALL))
}

fn info(id: &str, doc: &Value) -> Value {
    let mut o = json!({
        "id": id,
        "name": doc["name"],
        "type": "rest",
        "creation": doc["creation"],
        "invalidated": doc["invalidated"],
        "username": doc["username"],
        "realm": doc["realm"],
        "metadata": doc.get("metadata").cloned().unwrap_or(json!({})),
        "role_descriptors": doc.get("role_descriptors").cloned().unwrap_or(json!({})),
    });
    if let Some(e) = doc["expiration"].as_i64() {
        o["expiration"] = json!(e);
    }
    if let Some(at) = doc["invalidation"].as_i64() {
        o["invalidation"] = json!(at);
    }
    o
}

/// `GET /_security/api_key` (`id`, `name` with `*` wildcards, `owner`, `username`).
pub async fn get(State(s): State<AppState>, Query(q): Query<Params>) -> ApiResult {
    let (_, p) = require_security(&s)?;
    let owner_only = crate::es_api::flag(&q, "owner")?;
    if !p.grants_cluster(MANAGE_OWN) {
        return Err(denied(
            &p,
            "cluster:admin/xpack/security/api_key/get",
            MANAGE_OWN,
        ));
    }
    if !owner_only
        && !p.grants_cluster(MANAGE_ALL)
        && q.get("username").is_some_and(|u| *u != p.username)
    {
        return Err(denied(
            &p,
            "cluster:admin/xpack/security/api_key/get",
            MANAGE_ALL,
        ));
    }
    let keys: Vec<Value> = s
        .api_keys
        .all()
        .await?
        .iter()
        .filter(|(id, doc)| {
            visible_to(&p, doc, owner_only || !p.grants_cluster(MANAGE_ALL))
                && q.get("id").is_none_or(|want| want == id)
                && q.get("name").is_none_or(|want| {
                    crate::catalog::glob_match(want, doc["name"].as_str().unwrap_or_default())
                })
                && q.get("username")
                    .is_none_or(|want| doc["username"].as_str() == Some(want.as_str()))
        })
        .map(|(id, doc)| info(id, doc))
        .collect();
    if keys.is_empty() && (q.contains_key("id") || q.contains_key("name")) {
        // Elasticsearch answers an empty list with 404 when a key was asked for by id or name.
        return Ok(EsJson(StatusCode::NOT_FOUND, json!({"api_keys": []})).into_response());
    }
    Ok(EsJson(StatusCode::OK, json!({ "api_keys": keys })).into_response())
}

/// `DELETE /_security/api_key` (`ids`, `id`, `name`, `owner`, `username`): invalidates.
pub async fn invalidate(State(s): State<AppState>, body: Bytes) -> ApiResult {
    let (sec, p) = require_security(&s)?;
    if !p.grants_cluster(MANAGE_OWN) {
        return Err(denied(
            &p,
            "cluster:admin/xpack/security/api_key/invalidate",
            MANAGE_OWN,
        ));
    }
    let body = parse_body(&body)?.unwrap_or(json!({}));
    let mut ids: Vec<String> = body["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(id) = body["id"].as_str() {
        ids.push(id.to_string());
    }
    let name = body["name"].as_str();
    let owner_only = body["owner"].as_bool().unwrap_or(false) || !p.grants_cluster(MANAGE_ALL);
    if ids.is_empty()
        && name.is_none()
        && !body["owner"].as_bool().unwrap_or(false)
        && body["username"].as_str().is_none()
    {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;",
        ));
    }
    let mut invalidated = Vec::new();
    let mut previously = Vec::new();
    for (id, mut doc) in s.api_keys.all().await? {
        if !visible_to(&p, &doc, owner_only)
            || (!ids.is_empty() && !ids.contains(&id))
            || name.is_some_and(|n| {
                !crate::catalog::glob_match(n, doc["name"].as_str().unwrap_or_default())
            })
            || body["username"]
                .as_str()
                .is_some_and(|u| doc["username"].as_str() != Some(u))
        {
            continue;
        }
        if doc["invalidated"].as_bool().unwrap_or(false) {
            previously.push(id);
            continue;
        }
        doc["invalidated"] = json!(true);
        doc["invalidation"] = json!(now_ms());
        s.catalog.put_metadata_doc(KIND, &id, Some(&doc)).await?;
        tracing::info!(api_key = %id, user = %p.username, "API key invalidated");
        invalidated.push(id);
    }
    sec.forget_api_keys();
    Ok(EsJson(
        StatusCode::OK,
        json!({
            "invalidated_api_keys": invalidated,
            "previously_invalidated_api_keys": previously,
            "error_count": 0,
        }),
    )
    .into_response())
}

/// `GET /_security/_authenticate`.
pub async fn authenticate(State(s): State<AppState>) -> ApiResult {
    match (&s.security, super::current_principal()) {
        (Some(_), Some(p)) => Ok(EsJson(StatusCode::OK, p.authenticate_body()).into_response()),
        _ => Err(crate::es_api::cluster::security_disabled().await),
    }
}
