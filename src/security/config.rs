//! `[security]` in the configuration file: users, roles, service tokens, TLS, and whether the ES API
//! may listen beyond loopback without authentication (docs/security.md).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Require authentication on the ES API and the debug UI. Default: on as soon as a user or a
    /// service token is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Users of the file realm; passwords as bcrypt hashes (`elastichouse hash-password`, or
    /// Elasticsearch's `users` file entries, which are bcrypt too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserConfig>,
    /// Roles beside the built-in ones (superuser, kibana_system, viewer, editor).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, RoleDescriptor>,
    /// Service account tokens (`Authorization: Bearer …`), as Kibana's `elastic/kibana` uses them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_tokens: Vec<ServiceTokenConfig>,
    /// Listen on a non-loopback address without authentication (refused at startup otherwise).
    #[serde(default)]
    pub allow_unauthenticated_non_loopback: bool,
    /// PEM certificate chain and private key: the ES API speaks https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`).
    #[serde(skip_serializing)]
    pub password_hash: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenConfig {
    /// `namespace/service/token-name`, e.g. `elastic/kibana/my-token`.
    pub name: String,
    /// bcrypt hash of the token's secret.
    #[serde(skip_serializing)]
    pub secret_hash: String,
}

/// A role: cluster privileges and index privileges on index name patterns, as Elasticsearch's
/// role descriptors (security-privileges.html).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleDescriptor {
    #[serde(default)]
    pub cluster: Vec<String>,
    #[serde(default)]
    pub indices: Vec<IndexGrant>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexGrant {
    #[serde(deserialize_with = "one_or_many")]
    pub names: Vec<String>,
    pub privileges: Vec<String>,
}

/// Elasticsearch accepts `"names": "logs-*"` as well as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Privilege names Elasticsearch defines (security-privileges.html); a role naming another is a
/// configuration error, not a silently useless grant.
pub const CLUSTER_PRIVILEGES: &[&str] = &[
    "all",
    "monitor",
    "manage",
    "manage_index_templates",
    "manage_ingest_pipelines",
    "manage_pipeline",
    "read_pipeline",
    "manage_ilm",
    "read_ilm",
    "manage_security",
    "manage_api_key",
    "manage_own_api_key",
    "manage_service_account",
    "monitor_ml",
    "manage_ml",
    "manage_transform",
    "monitor_transform",
    "none",
];

pub const INDEX_PRIVILEGES: &[&str] = &[
    "all",
    "read",
    "write",
    "index",
    "create",
    "create_doc",
    "delete",
    "create_index",
    "delete_index",
    "manage",
    "monitor",
    "maintenance",
    "view_index_metadata",
    "auto_configure",
    "read_cross_cluster",
    "manage_follow_index",
    "manage_ilm",
    "manage_data_stream_lifecycle",
    "none",
];

impl RoleDescriptor {
    pub fn validate(&self, role: &str) -> Result<(), String> {
        for p in &self.cluster {
            if !CLUSTER_PRIVILEGES.contains(&p.as_str()) {
                return Err(format!(
                    "role [{role}]: unknown cluster privilege [{p}]; known: {}",
                    CLUSTER_PRIVILEGES.join(", ")
                ));
            }
        }
        for g in &self.indices {
            if g.names.is_empty() {
                return Err(format!("role [{role}]: an index grant needs names"));
            }
            for p in &g.privileges {
                if !INDEX_PRIVILEGES.contains(&p.as_str()) {
                    return Err(format!(
                        "role [{role}]: unknown index privilege [{p}]; known: {}",
                        INDEX_PRIVILEGES.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

impl SecurityConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled
            .unwrap_or(!self.users.is_empty() || !self.service_tokens.is_empty())
    }

    /// Checks what can be checked without the network: hashes, role names and privileges,
    /// TLS files readable.
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in &self.roles {
            if super::builtin_role(name).is_some() {
                return Err(format!(
                    "security.roles: [{name}] is a built-in role and cannot be redefined"
                ));
            }
            r.validate(name)?;
        }
        for u in &self.users {
            if u.username.is_empty() || u.username.contains(':') {
                return Err(format!(
                    "security.users: [{}] is not a valid user name",
                    u.username
                ));
            }
            if !is_bcrypt(&u.password_hash) {
                return Err(format!(
                    "security.users: the password_hash of [{}] is not a bcrypt hash ($2a$/$2b$/$2y$); make one with `elastichouse hash-password`",
                    u.username
                ));
            }
            for r in &u.roles {
                if super::builtin_role(r).is_none() && !self.roles.contains_key(r) {
                    return Err(format!(
                        "security.users: user [{}] has the unknown role [{r}]",
                        u.username
                    ));
                }
            }
        }
        for t in &self.service_tokens {
            let parts: Vec<&str> = t.name.split('/').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(format!(
                    "security.service_tokens: [{}] must be namespace/service/token-name",
                    t.name
                ));
            }
            if super::service_account_role(&format!("{}/{}", parts[0], parts[1])).is_none() {
                return Err(format!(
                    "security.service_tokens: [{}/{}] is not a known service account (elastic/kibana, elastic/fleet-server)",
                    parts[0], parts[1]
                ));
            }
            if !is_bcrypt(&t.secret_hash) {
                return Err(format!(
                    "security.service_tokens: the secret_hash of [{}] is not a bcrypt hash",
                    t.name
                ));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err("security: tls_cert and tls_key go together".into());
            }
            (Some(c), Some(k)) => {
                super::tls::load(c, k)?;
            }
            (None, None) => {}
        }
        Ok(())
    }
}

fn is_bcrypt(h: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| h.starts_with(p))
        && h.len() == 60
}
