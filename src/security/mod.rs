//! Authentication and authorization as Elasticsearch's security does them (docs/security.md):
//! users of a file realm (bcrypt), API keys stored in ClickHouse (so every daemon knows them),
//! service account tokens, roles with cluster and index privileges, 401/403 in Elasticsearch's
//! shape, TLS on the ES API port.
//!
//! The ES API middleware ([`layer::es_layer`]) authenticates each request, finds the action it is
//! ([`actions::classify`]) and checks cluster privileges and the index names in the path; it then
//! runs the request inside [`CURRENT`], so the places that turn names into indices — the catalog's
//! resolution of index expressions and `_bulk`'s items — check explicit names (403) and drop
//! names a wildcard reached that the user may not see, as Elasticsearch does.

pub mod actions;
pub mod api_keys;
pub mod config;
pub mod layer;
pub mod tls;

use crate::catalog::glob_match;
use crate::error::EsError;
use base64::Engine as _;
pub use config::{IndexGrant, RoleDescriptor, SecurityConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

tokio::task_local! {
    /// Who is asking, and for which action, while a request of the ES API runs.
    pub static CURRENT: Arc<Authz>;
}

/// The authenticated principal and the action of the running request.
pub struct Authz {
    pub principal: Arc<Principal>,
    pub action: actions::Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthKind {
    /// A user of the file realm (the configuration).
    Realm,
    ApiKey {
        id: String,
        name: String,
    },
    ServiceAccount {
        token: String,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub username: String,
    pub roles: Vec<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub kind: AuthKind,
    /// What the principal may do: the union of these descriptors …
    pub grants: Vec<RoleDescriptor>,
    /// … limited, for an API key with role descriptors of its own, by its owner's (both must
    /// grant: Elasticsearch's `limited_by`).
    pub limited_by: Option<Vec<RoleDescriptor>>,
}

/// Privileges granted by a set of role descriptors.
fn set_grants_index(set: &[RoleDescriptor], index: &str, granting: &[&str]) -> bool {
    set.iter().any(|r| {
        r.indices.iter().any(|g| {
            g.privileges.iter().any(|p| granting.contains(&p.as_str()))
                && g.names.iter().any(|pat| name_matches(pat, index))
        })
    })
}

fn set_grants_cluster(set: &[RoleDescriptor], granting: &[&str]) -> bool {
    set.iter()
        .any(|r| r.cluster.iter().any(|p| granting.contains(&p.as_str())))
}

/// Index name patterns of roles: `*` wildcards as Elasticsearch's (Automatons#patterns); a
/// pattern does not reach dot-prefixed names unless it starts with a dot or is `*`.
fn name_matches(pattern: &str, index: &str) -> bool {
    glob_match(pattern, index)
}

impl Principal {
    pub fn grants_index(&self, index: &str, granting: &[&str]) -> bool {
        set_grants_index(&self.grants, index, granting)
            && self
                .limited_by
                .as_ref()
                .is_none_or(|l| set_grants_index(l, index, granting))
    }

    pub fn grants_cluster(&self, granting: &[&str]) -> bool {
        set_grants_cluster(&self.grants, granting)
            && self
                .limited_by
                .as_ref()
                .is_none_or(|l| set_grants_cluster(l, granting))
    }

    /// `user [x] with roles [a,b]`, `API key id [k] of user [x]`, `service account [elastic/kibana]`
    /// (AuthorizationDenialMessages#actionDenied).
    pub fn describe(&self) -> String {
        match &self.kind {
            AuthKind::Realm => format!(
                "user [{}] with roles [{}]",
                self.username,
                self.roles.join(",")
            ),
            AuthKind::ApiKey { id, .. } => {
                format!("API key id [{id}] of user [{}]", self.username)
            }
            AuthKind::ServiceAccount { .. } => format!("service account [{}]", self.username),
        }
    }

    /// The body of `GET /_security/_authenticate` (RestAuthenticateAction: the user, its realms
    /// and the authentication type).
    pub fn authenticate_body(&self) -> Value {
        let (realm, realm_type, auth_type) = match &self.kind {
            AuthKind::Realm => ("file", "file", "realm"),
            AuthKind::ApiKey { .. } => ("_es_api_key", "_es_api_key", "api_key"),
            AuthKind::ServiceAccount { .. } => ("_service_account", "_service_account", "token"),
        };
        let mut body = json!({
            "username": self.username,
            "roles": self.roles,
            "full_name": self.full_name,
            "email": self.email,
            "metadata": {},
            "enabled": true,
            "authentication_realm": {"name": realm, "type": realm_type},
            "lookup_realm": {"name": realm, "type": realm_type},
            "authentication_type": auth_type,
        });
        match &self.kind {
            AuthKind::ApiKey { id, name } => {
                body["api_key"] = json!({"id": id, "name": name});
                // The owner's realm is the lookup realm of an API key's authentication.
                body["lookup_realm"] = json!({"name": "file", "type": "file"});
            }
            AuthKind::ServiceAccount { token } => {
                body["token"] = json!({"name": token, "type": "_service_account_file"});
            }
            AuthKind::Realm => {}
        }
        body
    }
}

fn role(cluster: &[&str], indices: &[(&[&str], &[&str])]) -> RoleDescriptor {
    RoleDescriptor {
        cluster: cluster.iter().map(|s| s.to_string()).collect(),
        indices: indices
            .iter()
            .map(|(names, privs)| IndexGrant {
                names: names.iter().map(|s| s.to_string()).collect(),
                privileges: privs.iter().map(|s| s.to_string()).collect(),
            })
            .collect(),
    }
}

/// Kibana's own indices (the system indices its `kibana_system` role manages).
const KIBANA_INDICES: &[&str] = &[
    ".kibana*",
    ".reporting-*",
    ".apm-agent-configuration*",
    ".apm-custom-link*",
    ".alerts*",
    ".internal.alerts*",
    ".preview.alerts*",
    ".lists*",
    ".items*",
    ".fleet*",
    ".ds-.kibana*",
    ".siem-signals*",
    ".monitoring-*",
    ".tasks*",
];

/// Elasticsearch's built-in roles that elastichouse knows (built-in-roles.html), reduced to the
/// privileges elastichouse checks.
pub fn builtin_role(name: &str) -> Option<RoleDescriptor> {
    Some(match name {
        "superuser" => role(&["all"], &[(&["*", ".*"], &["all"])]),
        "kibana_system" => role(
            &[
                "monitor",
                "manage_index_templates",
                "manage_pipeline",
                "manage_ilm",
                "manage_api_key",
            ],
            &[
                (KIBANA_INDICES, &["all"]),
                (&["*"], &["view_index_metadata", "monitor"]),
            ],
        ),
        "viewer" => role(
            &["monitor"],
            &[(&["*"], &["read", "view_index_metadata", "monitor"])],
        ),
        "editor" => role(
            &["monitor"],
            &[(&["*"], &["read", "write", "view_index_metadata", "monitor"])],
        ),
        "monitoring_user" => role(&["monitor"], &[]),
        _ => return None,
    })
}

/// The privileges of a service account (service-accounts.html): Kibana's is close to
/// `kibana_system`.
pub fn service_account_role(account: &str) -> Option<RoleDescriptor> {
    match account {
        "elastic/kibana" => builtin_role("kibana_system"),
        "elastic/fleet-server" => Some(role(
            &["monitor", "manage_own_api_key"],
            &[
                (
                    &[
                        "logs-*",
                        "metrics-*",
                        "traces-*",
                        ".logs-endpoint.*",
                        "synthetics-*",
                    ],
                    &["write", "create_index", "auto_configure"],
                ),
                (&[".fleet-*"], &["all"]),
            ],
        )),
        _ => None,
    }
}

/// How long a verified password or token is remembered (Elasticsearch's realm cache,
/// `cache.ttl`, 20 minutes), so bcrypt runs once per credential, not per request.
const CREDENTIAL_CACHE_TTL: Duration = Duration::from_secs(20 * 60);
/// API keys are re-read this often: an invalidation on another daemon takes effect within it.
const API_KEY_CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_ENTRIES: usize = 10_000;

/// Verified credentials: sha256(scheme, credential) → principal, with the time it was verified.
type CredentialCache = HashMap<[u8; 32], (Instant, Arc<Principal>)>;

/// The runtime of `[security]`.
pub struct Security {
    cfg: SecurityConfig,
    cache: Mutex<CredentialCache>,
}

/// The credentials of a request, from its `Authorization` header.
pub enum Credentials {
    Basic { user: String, password: String },
    ApiKey { id: String, key: String },
    Bearer(String),
}

pub fn parse_authorization(header: &str) -> Result<Credentials, EsError> {
    let (scheme, value) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let value = value.trim();
    let decode = |v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let Some((user, password)) = decode(value).and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            }) else {
                return Err(unauthenticated("invalid basic authentication header value"));
            };
            Ok(Credentials::Basic { user, password })
        }
        "apikey" => {
            let Some((id, key)) = decode(value).and_then(|s| {
                s.split_once(':')
                    .map(|(i, k)| (i.to_string(), k.to_string()))
            }) else {
                return Err(unauthenticated("invalid ApiKey value"));
            };
            Ok(Credentials::ApiKey { id, key })
        }
        "bearer" => Ok(Credentials::Bearer(value.to_string())),
        _ => Err(unauthenticated(&format!(
            "unsupported authentication scheme [{scheme}]"
        ))),
    }
}

/// The `WWW-Authenticate` challenges Elasticsearch sends with a 401 (basic, bearer tokens, API
/// keys).
pub const CHALLENGES: [&str; 3] = [
    "Basic realm=\"security\", charset=\"UTF-8\"",
    "Bearer realm=\"security\"",
    "ApiKey",
];

/// A 401 `security_exception` with the challenges in its `header` (as Elasticsearch shows them).
pub fn unauthenticated(reason: &str) -> EsError {
    EsError::new(401, "security_exception", reason)
        .with("header", json!({"WWW-Authenticate": CHALLENGES}))
}

pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

impl Security {
    pub fn new(cfg: &SecurityConfig) -> Option<Arc<Security>> {
        cfg.is_enabled().then(|| {
            Arc::new(Security {
                cfg: cfg.clone(),
                cache: Mutex::new(HashMap::new()),
            })
        })
    }

    /// The role descriptors of named roles (built-in or configured); unknown names grant nothing.
    pub fn roles(&self, names: &[String]) -> Vec<RoleDescriptor> {
        names
            .iter()
            .filter_map(|n| builtin_role(n).or_else(|| self.cfg.roles.get(n).cloned()))
            .collect()
    }

    fn cached(&self, key: &[u8; 32], ttl: Duration) -> Option<Arc<Principal>> {
        let cache = self.cache.lock();
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, p)| p.clone())
    }

    fn remember(&self, key: [u8; 32], p: Arc<Principal>) {
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < API_KEY_CACHE_TTL);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), p));
    }

    /// Forgets every cached API key authentication (after an invalidation here).
    pub fn forget_api_keys(&self) {
        self.cache
            .lock()
            .retain(|_, (_, p)| !matches!(p.kind, AuthKind::ApiKey { .. }));
    }

    /// A user of the file realm by name (API key owners are looked up here).
    pub fn user(&self, name: &str) -> Option<&config::UserConfig> {
        self.cfg.users.iter().find(|u| u.username == name)
    }

    fn realm_principal(&self, u: &config::UserConfig) -> Principal {
        Principal {
            username: u.username.clone(),
            roles: u.roles.clone(),
            full_name: u.full_name.clone(),
            email: u.email.clone(),
            kind: AuthKind::Realm,
            grants: self.roles(&u.roles),
            limited_by: None,
        }
    }

    /// Verifies the credentials; `path` is the request's (for Elasticsearch's messages).
    pub async fn authenticate(
        &self,
        creds: Credentials,
        path: &str,
        keys: &api_keys::Store,
    ) -> Result<Arc<Principal>, EsError> {
        match creds {
            Credentials::Basic { user, password } => {
                let key = sha256(&[b"basic", user.as_bytes(), password.as_bytes()]);
                if let Some(p) = self.cached(&key, CREDENTIAL_CACHE_TTL) {
                    return Ok(p);
                }
                let failed = || {
                    unauthenticated(&format!(
                        "unable to authenticate user [{user}] for REST request [{path}]"
                    ))
                };
                let Some(u) = self.user(&user) else {
                    return Err(failed());
                };
                if !verify_bcrypt(&password, &u.password_hash).await {
                    return Err(failed());
                }
                let p = Arc::new(self.realm_principal(u));
                self.remember(key, p.clone());
                Ok(p)
            }
            Credentials::ApiKey { id, key: secret } => {
                let key = sha256(&[b"apikey", id.as_bytes(), secret.as_bytes()]);
                if let Some(p) = self.cached(&key, API_KEY_CACHE_TTL) {
                    return Ok(p);
                }
                let p = Arc::new(keys.authenticate(self, &id, &secret).await?);
                self.remember(key, p.clone());
                Ok(p)
            }
            Credentials::Bearer(token) => {
                let key = sha256(&[b"bearer", token.as_bytes()]);
                if let Some(p) = self.cached(&key, CREDENTIAL_CACHE_TTL) {
                    return Ok(p);
                }
                let p = Arc::new(self.service_token(&token).await?);
                self.remember(key, p.clone());
                Ok(p)
            }
        }
    }

    /// A service account token: base64 of the bytes 0,1,0,1 and `namespace/service/name:secret`
    /// (Elasticsearch's ServiceAccountToken format).
    async fn service_token(&self, token: &str) -> Result<Principal, EsError> {
        let bad = || unauthenticated("unable to authenticate with provided credentials");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
            .map_err(|_| bad())?;
        let text = raw
            .strip_prefix(&[0u8, 1, 0, 1][..])
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(bad)?;
        let (qualified, secret) = text.split_once(':').ok_or_else(bad)?;
        let Some(t) = self.cfg.service_tokens.iter().find(|t| t.name == qualified) else {
            return Err(bad());
        };
        if !verify_bcrypt(secret, &t.secret_hash).await {
            return Err(bad());
        }
        let (account, token_name) = qualified.rsplit_once('/').ok_or_else(bad)?;
        Ok(Principal {
            username: account.to_string(),
            roles: vec![],
            full_name: Some(format!("Service account - {account}")),
            email: None,
            kind: AuthKind::ServiceAccount {
                token: token_name.to_string(),
            },
            grants: service_account_role(account).into_iter().collect(),
            limited_by: None,
        })
    }
}

/// bcrypt on the blocking pool: a cost-10 hash takes tens of milliseconds of CPU.
async fn verify_bcrypt(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// The 403 of an action on an index (AuthorizationDenialMessages#actionDenied).
pub fn index_denied(p: &Principal, action: &actions::Action, index: &str) -> EsError {
    EsError::new(
        403,
        "security_exception",
        format!(
            "action [{}] is unauthorized for {} on indices [{index}], this action is granted by the index privileges [{}]",
            action.name,
            p.describe(),
            action.granting.join(",")
        ),
    )
}

pub fn cluster_denied(p: &Principal, action: &actions::Action) -> EsError {
    EsError::new(
        403,
        "security_exception",
        format!(
            "action [{}] is unauthorized for {}, this action is granted by the cluster privileges [{}]",
            action.name,
            p.describe(),
            action.granting.join(",")
        ),
    )
}

/// `fut` with the running request's principal and action, for work a request hands to a task of
/// its own (an async search, the local side of an A/B query): task-locals do not cross
/// `tokio::spawn`, and the checks must not be lost on the way.
pub fn inherit<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let current = CURRENT.try_with(Arc::clone).ok();
    async move {
        match current {
            Some(a) => CURRENT.scope(a, fut).await,
            None => fut.await,
        }
    }
}

/// Whether the action's own check already covered it (continuations of a search the principal
/// started, API key management): names it meets are not checked again.
fn settled(a: &Authz) -> bool {
    a.action.scope == actions::Scope::Authenticated
}

/// Inside a request: may the principal run the request's action on `index`? Explicit names the
/// principal may not use are a 403. Outside a request (no security, or internal work) every name
/// is allowed.
pub fn check_index(index: &str) -> Result<(), EsError> {
    CURRENT
        .try_with(|a| {
            if settled(a) || a.principal.grants_index(index, a.action.granting) {
                Ok(())
            } else {
                Err(index_denied(&a.principal, &a.action, index))
            }
        })
        .unwrap_or(Ok(()))
}

/// Inside a request: may a wildcard of the request reach `index`? (Elasticsearch resolves
/// wildcards to the authorized indices only.)
pub fn visible(index: &str) -> bool {
    CURRENT
        .try_with(|a| settled(a) || a.principal.grants_index(index, a.action.granting))
        .unwrap_or(true)
}

/// Inside a request: may the principal read `index` through a cursor (a scroll id or a point in
/// time)? Cursor ids are self-contained, so the indices they name are checked again on every use:
/// an id made by someone else, or forged, reaches nothing the principal could not search itself.
/// Elasticsearch binds search contexts to their owner and answers anyone else as if the context
/// were missing (SecuritySearchOperationListener), which the caller does with `false`.
pub fn may_read_through_cursor(index: &str) -> bool {
    CURRENT
        .try_with(|a| a.principal.grants_index(index, actions::SEARCH.granting))
        .unwrap_or(true)
}

/// Inside a request: checks one `_bulk` item (its own action) on its index.
pub fn check_bulk_item(op: &str, index: &str) -> Result<(), EsError> {
    CURRENT
        .try_with(|a| {
            let action = actions::bulk_item(op);
            if a.principal.grants_index(index, action.granting) {
                Ok(())
            } else {
                Err(index_denied(&a.principal, &action, index))
            }
        })
        .unwrap_or(Ok(()))
}

/// The principal of the running request, if security is on.
pub fn current_principal() -> Option<Arc<Principal>> {
    CURRENT.try_with(|a| a.principal.clone()).ok()
}
