//! Security as Elasticsearch's: users with bcrypt passwords, roles with index and cluster
//! privileges, API keys, service tokens, 401/403 shapes, the debug UI's credentials and Host check,
//! TLS, and the refusal to listen beyond loopback without authentication. Against the real engine.
//!
//! References: security-privileges.html, built-in-roles.html, security-api-authenticate.html,
//! security-api-create-api-key.html, security-api-get-api-key.html,
//! security-api-invalidate-api-key.html, service-accounts.html; the messages of
//! `AuthenticationService` (`missing authentication credentials for REST request [...]`,
//! `unable to authenticate user [...] for REST request [...]`) and
//! `AuthorizationDenialMessages#actionDenied`.

use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use elastichouse::security::config::{ServiceTokenConfig, UserConfig};
use elastichouse::security::{IndexGrant, RoleDescriptor};
use serde_json::{Value, json};
use std::sync::OnceLock;

const PASSWORD: &str = "s3cret-pass";
const KIBANA_TOKEN_SECRET: &str = "kibana-token-secret";

fn hash(p: &str) -> String {
    bcrypt::hash(p, 4).unwrap()
}

fn user(name: &str, roles: &[&str]) -> UserConfig {
    UserConfig {
        username: name.into(),
        password_hash: hash(PASSWORD),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        full_name: None,
        email: None,
    }
}

fn grant(names: &[&str], privileges: &[&str]) -> IndexGrant {
    IndexGrant {
        names: names.iter().map(|s| s.to_string()).collect(),
        privileges: privileges.iter().map(|s| s.to_string()).collect(),
    }
}

fn secured() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        start_daemon(|cfg| {
            let sec = &mut cfg.security;
            sec.users = vec![
                user("elastic", &["superuser"]),
                user("reader", &["logs_reader"]),
                user("writer", &["logs_writer"]),
                user("nobody", &[]),
            ];
            sec.roles.insert(
                "logs_reader".into(),
                RoleDescriptor {
                    cluster: vec![],
                    indices: vec![grant(&["sec-logs-*"], &["read"])],
                },
            );
            sec.roles.insert(
                "logs_writer".into(),
                RoleDescriptor {
                    cluster: vec!["monitor".into()],
                    indices: vec![grant(&["sec-logs-*"], &["write", "create_index", "read"])],
                },
            );
            sec.service_tokens = vec![ServiceTokenConfig {
                name: "elastic/kibana/kibana-token".into(),
                secret_hash: hash(KIBANA_TOKEN_SECRET),
            }];
            sec.validate().expect("valid security config");
        })
    })
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

async fn call(auth: Option<&str>, method: &str, path: &str, body: Option<&str>) -> Resp {
    let d = secured();
    let mut r = client().request(method.parse().unwrap(), format!("http://{}{}", d.es, path));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    if let Some(b) = body {
        let ct = if path.contains("_bulk") {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        r = r.header("content-type", ct).body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

async fn as_user(user: &str, method: &str, path: &str, body: Option<&str>) -> Resp {
    call(Some(&basic(user, PASSWORD)), method, path, body).await
}

/// Seeds `sec-logs-a` and `sec-secret` as the superuser.
async fn seed() {
    static SEEDED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SEEDED
        .get_or_init(|| async {
            let body = concat!(
                "{\"index\":{\"_index\":\"sec-logs-a\",\"_id\":\"1\"}}\n{\"msg\":\"hello\"}\n",
                "{\"index\":{\"_index\":\"sec-secret\",\"_id\":\"1\"}}\n{\"msg\":\"salaries\"}\n"
            );
            let r = as_user("elastic", "POST", "/_bulk?refresh=true", Some(body)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json()["errors"], false, "{}", r.text);
        })
        .await;
}

/// No credentials: 401 `security_exception` "missing authentication credentials for REST request
/// [path?query]", with Elasticsearch's three challenges as `WWW-Authenticate` headers and in the
/// error's `header` (AuthenticationService, DefaultAuthenticationFailureHandler).
#[tokio::test]
async fn missing_credentials_are_a_401_with_challenges() {
    let r = call(None, "GET", "/_cluster/health?pretty", None).await;
    let e = assert_es_error(&r, 401, "security_exception");
    assert_eq!(
        e["reason"],
        "missing authentication credentials for REST request [/_cluster/health?pretty]"
    );
    let challenges: Vec<&str> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        challenges,
        vec![
            "Basic realm=\"security\", charset=\"UTF-8\"",
            "Bearer realm=\"security\"",
            "ApiKey"
        ]
    );
    assert_eq!(
        e["root_cause"][0]["header"]["WWW-Authenticate"][2],
        "ApiKey"
    );
}

/// A wrong password: 401 "unable to authenticate user [u] for REST request [path]"; an unknown user
/// answers the same (nothing tells which users exist).
#[tokio::test]
async fn wrong_password_or_unknown_user_is_a_401() {
    for user in ["elastic", "no-such-user"] {
        let r = call(Some(&basic(user, "wrong")), "GET", "/", None).await;
        let e = assert_es_error(&r, 401, "security_exception");
        assert_eq!(
            e["reason"],
            format!("unable to authenticate user [{user}] for REST request [/]")
        );
    }
}

/// `GET /_security/_authenticate` answers who the credentials are (security-api-authenticate.html).
#[tokio::test]
async fn authenticate_answers_the_user() {
    let r = as_user("reader", "GET", "/_security/_authenticate", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["username"], "reader");
    assert_eq!(v["roles"], json!(["logs_reader"]));
    assert_eq!(v["authentication_type"], "realm");
    assert_eq!(v["authentication_realm"]["type"], "file");
    assert_eq!(v["enabled"], true);
}

/// Hits there are, and all from the indices the reader may read.
fn only_readable_indices(hits: &Value) {
    let list = hits.as_array().unwrap();
    assert!(!list.is_empty(), "{hits}");
    assert!(
        list.iter()
            .all(|h| h["_index"].as_str().unwrap().starts_with("sec-logs-")),
        "{hits}"
    );
}

/// Index privileges: `read` on `sec-logs-*` lets a user search there; a concrete index outside its
/// patterns is a 403 naming the action, the user, its roles and the privileges that would grant
/// it; a wildcard search sees only the indices the user may read (Elasticsearch resolves wildcards
/// against authorized indices).
#[tokio::test]
async fn read_privileges_on_index_patterns() {
    seed().await;
    let r = as_user("reader", "POST", "/sec-logs-a/_search", Some("{}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["total"]["value"], 1);

    let r = as_user("reader", "POST", "/sec-secret/_search", Some("{}")).await;
    let e = assert_es_error(&r, 403, "security_exception");
    assert_eq!(
        e["reason"],
        "action [indices:data/read/search] is unauthorized for user [reader] with roles [logs_reader] on indices [sec-secret], this action is granted by the index privileges [read,all]"
    );

    let r = as_user("reader", "POST", "/sec-*/_search", Some("{}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    only_readable_indices(&r.json()["hits"]["hits"]);
    // The same in an async search, which runs in a task of its own.
    let r = as_user(
        "reader",
        "POST",
        "/sec-*/_async_search?wait_for_completion_timeout=30s",
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    only_readable_indices(&r.json()["response"]["hits"]["hits"]);
    // A scroll continues (its search was authorized when it started).
    let r = as_user(
        "reader",
        "POST",
        "/sec-logs-a/_search?scroll=1m",
        Some("{\"size\":1}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let scroll_id = r.json()["_scroll_id"].as_str().unwrap().to_string();
    let r = as_user(
        "reader",
        "POST",
        "/_search/scroll",
        Some(&json!({"scroll": "1m", "scroll_id": scroll_id}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The same with the index named in an _msearch header line.
    let body = "{\"index\":\"sec-secret\"}\n{}\n";
    let r = call(
        Some(&basic("reader", PASSWORD)),
        "POST",
        "/_msearch",
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["responses"][0]["error"]["type"],
        "security_exception",
        "{}",
        r.text
    );

    let r = as_user(
        "reader",
        "PUT",
        "/sec-logs-a/_doc/2",
        Some("{\"msg\":\"x\"}"),
    )
    .await;
    let e = assert_es_error(&r, 403, "security_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("action [indices:data/write/index] is unauthorized for user [reader]"),
        "{e}"
    );
    // A user without roles can authenticate but do nothing.
    let r = as_user("nobody", "GET", "/_cluster/health", None).await;
    assert_es_error(&r, 403, "security_exception");
}

/// `_bulk` checks each item against its own index: the items the user may write succeed, the
/// others are 403 items, and the request is a 200 with `errors: true`.
#[tokio::test]
async fn bulk_items_are_authorized_one_by_one() {
    seed().await;
    let body = concat!(
        "{\"index\":{\"_index\":\"sec-logs-w\",\"_id\":\"1\"}}\n{\"msg\":\"ok\"}\n",
        "{\"index\":{\"_index\":\"sec-secret\",\"_id\":\"2\"}}\n{\"msg\":\"no\"}\n"
    );
    let r = as_user("writer", "POST", "/_bulk?refresh=true", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["errors"], true);
    assert_eq!(v["items"][0]["index"]["status"], 201, "{v}");
    assert_eq!(v["items"][1]["index"]["status"], 403, "{v}");
    assert_eq!(
        v["items"][1]["index"]["error"]["type"],
        "security_exception"
    );
    let r = as_user("elastic", "GET", "/sec-secret/_doc/2", None).await;
    assert_eq!(
        r.status, 404,
        "nothing written to the refused index: {}",
        r.text
    );
    let r = as_user("elastic", "GET", "/sec-logs-w/_doc/1", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `_mget` authorizes every item on its own index, not only the index of the path: an item of
/// an index the user may not read is that item's `security_exception`, the others are answered
/// (Elasticsearch authorizes `indices:data/read/mget[shard]` per index of the request).
#[tokio::test]
async fn mget_items_are_authorized_one_by_one() {
    seed().await;
    let body =
        r#"{"docs": [{"_index": "sec-logs-a", "_id": "1"}, {"_index": "sec-secret", "_id": "1"}]}"#;
    let r = as_user("reader", "POST", "/sec-logs-a/_mget", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["docs"][0]["found"], true, "{v}");
    assert_eq!(v["docs"][0]["_source"]["msg"], "hello", "{v}");
    assert_eq!(v["docs"][1]["error"]["type"], "security_exception", "{v}");
    assert!(!r.text.contains("salaries"), "{}", r.text);
}

/// Scroll and point-in-time ids are continued only by a user who may read their indices:
/// Elasticsearch binds a search context to its owner and answers anyone else as if it were
/// missing (`search_context_missing_exception`, 404; SecuritySearchOperationListener). Our ids
/// are self-contained, so the indices they carry are checked again on every use.
#[tokio::test]
async fn scroll_and_pit_ids_do_not_cross_users() {
    seed().await;
    let r = as_user(
        "elastic",
        "POST",
        "/sec-secret/_search?scroll=1m",
        Some(r#"{"size": 1, "query": {"match_all": {}}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let scroll_id = r.json()["_scroll_id"].as_str().unwrap().to_string();
    let body = json!({"scroll": "1m", "scroll_id": scroll_id}).to_string();
    let r = as_user("reader", "POST", "/_search/scroll", Some(&body)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.json()["error"]["root_cause"][0]["type"],
        "search_context_missing_exception"
    );
    assert!(!r.text.contains("salaries"), "{}", r.text);
    // The owner continues it.
    let r = as_user("elastic", "POST", "/_search/scroll", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = as_user("elastic", "POST", "/sec-secret/_pit?keep_alive=1m", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pit = r.json()["id"].as_str().unwrap().to_string();
    let body = json!({"pit": {"id": pit}, "query": {"match_all": {}}}).to_string();
    let r = as_user("reader", "POST", "/_search", Some(&body)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.json()["error"]["root_cause"][0]["type"],
        "search_context_missing_exception"
    );
    let r = as_user("elastic", "POST", "/_search", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("salaries"), "{}", r.text);
}

/// API keys: created by a user (`manage_own_api_key` or more), used as `Authorization: ApiKey
/// <base64(id:api_key)>`, limited by their own role descriptors *and* their owner's privileges,
/// listed with GET and invalidated with DELETE, after which they no longer authenticate.
#[tokio::test]
async fn api_keys_create_use_list_invalidate() {
    seed().await;
    let r = as_user(
        "elastic",
        "POST",
        "/_security/api_key",
        Some(
            &json!({"name": "shipper", "expiration": "1d",
                "role_descriptors": {"logs": {"indices": [{"names": ["sec-logs-*"], "privileges": ["read"]}]}}})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "shipper");
    assert!(created["expiration"].as_i64().is_some());
    let encoded = created["encoded"].as_str().unwrap().to_string();
    assert_eq!(
        STANDARD.decode(&encoded).unwrap(),
        format!("{id}:{}", created["api_key"].as_str().unwrap()).into_bytes()
    );
    let key = format!("ApiKey {encoded}");

    let r = call(Some(&key), "GET", "/_security/_authenticate", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let who = r.json();
    assert_eq!(who["username"], "elastic");
    assert_eq!(who["authentication_type"], "api_key");
    assert_eq!(who["api_key"]["id"], id.as_str());

    let r = call(Some(&key), "POST", "/sec-logs-a/_search", Some("{}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The key's descriptors narrow its superuser owner.
    let r = call(Some(&key), "POST", "/sec-secret/_search", Some("{}")).await;
    let e = assert_es_error(&r, 403, "security_exception");
    assert_eq!(
        e["reason"],
        format!(
            "action [indices:data/read/search] is unauthorized for API key id [{id}] of user [elastic] on indices [sec-secret], this action is granted by the index privileges [read,all]"
        )
    );

    let r = as_user(
        "elastic",
        "GET",
        &format!("/_security/api_key?id={id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.json();
    assert_eq!(listed["api_keys"][0]["name"], "shipper");
    assert_eq!(listed["api_keys"][0]["invalidated"], false);
    assert!(
        listed["api_keys"][0].get("api_key").is_none(),
        "the secret is never shown again"
    );
    // Another user sees none of elastic's keys.
    let r = as_user("writer", "GET", "/_security/api_key", None).await;
    assert!(
        r.status == 403 || r.json()["api_keys"] == json!([]),
        "{}",
        r.text
    );

    let r = as_user(
        "elastic",
        "DELETE",
        "/_security/api_key",
        Some(&json!({"ids": [id]}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["invalidated_api_keys"], json!([id]));
    let r = call(Some(&key), "POST", "/sec-logs-a/_search", Some("{}")).await;
    assert_es_error(&r, 401, "security_exception");
    // Invalidating again reports it as previously invalidated.
    let r = as_user(
        "elastic",
        "DELETE",
        "/_security/api_key",
        Some(&json!({"ids": [id]}).to_string()),
    )
    .await;
    assert_eq!(r.json()["previously_invalidated_api_keys"], json!([id]));
    // A wrong secret for a real id is a 401 too.
    let forged = STANDARD.encode(format!("{id}:not-the-secret"));
    let r = call(Some(&format!("ApiKey {forged}")), "GET", "/", None).await;
    assert_es_error(&r, 401, "security_exception");
}

/// Parts of a role descriptor that elastichouse does not enforce (document and field level
/// security) are refused by name, never silently dropped.
#[tokio::test]
async fn api_key_with_field_security_is_refused_by_name() {
    let body = json!({"name": "dls", "role_descriptors": {"r": {"indices": [
        {"names": ["sec-logs-*"], "privileges": ["read"], "query": {"term": {"user": "x"}}}]}}});
    let r = as_user(
        "elastic",
        "POST",
        "/_security/api_key",
        Some(&body.to_string()),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e["reason"].as_str().unwrap().contains("[query]"), "{e}");
    let r = as_user("elastic", "POST", "/_security/api_key", Some("{}")).await;
    assert_es_error(&r, 400, "action_request_validation_exception");
}

/// A service account token (`Authorization: Bearer`, Kibana's `elastic/kibana`): the token is the
/// base64 of the bytes 0,1,0,1 and `elastic/kibana/<name>:<secret>` (service-accounts.html); it has
/// Kibana's privileges: cluster monitoring and its own indices, not the users' data.
#[tokio::test]
async fn kibana_service_token() {
    let mut raw = vec![0u8, 1, 0, 1];
    raw.extend_from_slice(format!("elastic/kibana/kibana-token:{KIBANA_TOKEN_SECRET}").as_bytes());
    let bearer = format!("Bearer {}", STANDARD.encode(&raw));
    let r = call(Some(&bearer), "GET", "/_security/_authenticate", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["username"], "elastic/kibana");
    assert_eq!(v["authentication_type"], "token");
    assert_eq!(v["token"]["name"], "kibana-token");
    // Cluster monitoring, as Kibana polls it (its own `.kibana*` indices go to Elasticsearch).
    let r = call(Some(&bearer), "GET", "/_cluster/health", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(Some(&bearer), "POST", "/sec-secret/_search", Some("{}")).await;
    let e = assert_es_error(&r, 403, "security_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("for service account [elastic/kibana]"),
        "{e}"
    );
    let mut bad = vec![0u8, 1, 0, 1];
    bad.extend_from_slice(b"elastic/kibana/kibana-token:wrong");
    let r = call(
        Some(&format!("Bearer {}", STANDARD.encode(&bad))),
        "GET",
        "/",
        None,
    )
    .await;
    assert_es_error(&r, 401, "security_exception");
}

async fn ui(auth: Option<&str>, host: Option<&str>, path: &str) -> (u16, String) {
    let d = secured();
    let mut r = client().get(format!("http://{}{}", d.ui, path));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    if let Some(h) = host {
        r = r.header("host", h);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The debug UI shows request bodies: with security on it wants the same credentials (a user with
/// the `manage` or `all` cluster privilege), and on a loopback bind it answers only requests for
/// localhost (a DNS-rebinding page cannot read it).
#[tokio::test]
async fn debug_ui_needs_credentials_and_a_loopback_host() {
    assert_eq!(ui(None, None, "/").await.0, 401);
    assert_eq!(
        ui(Some(&basic("elastic", PASSWORD)), None, "/").await.0,
        200
    );
    assert_eq!(ui(Some(&basic("reader", PASSWORD)), None, "/").await.0, 403);
    assert_eq!(ui(Some(&basic("elastic", "wrong")), None, "/").await.0, 401);
    let (status, text) = ui(
        Some(&basic("elastic", PASSWORD)),
        Some("rebind.example:9999"),
        "/api/requests",
    )
    .await;
    assert_eq!(status, 403, "{text}");
    // The shared daemon without security: the Host check alone.
    let d = daemon();
    let r = client()
        .get(format!("http://{}/", d.ui))
        .header("host", "rebind.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(ui_get("/").await.status, 200);
}

/// Without `[security]` users the ES API may not listen beyond loopback unless that is asked for
/// explicitly; bad hashes and unknown privileges are configuration errors.
#[test]
fn configuration_guards() {
    use elastichouse::config::{Config, FileConfig, Overrides};
    let open = FileConfig {
        listen: Some("0.0.0.0:9200".into()),
        ..Default::default()
    };
    let err = Config::resolve(open.clone(), Overrides::default()).unwrap_err();
    assert!(err.contains("not a loopback address"), "{err}");
    let allowed = Overrides {
        allow_unauthenticated_non_loopback: Some(true),
        ..Default::default()
    };
    assert!(Config::resolve(open, allowed).is_ok());

    let toml_with = |s: &str| -> Result<Config, String> {
        let f: FileConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        Config::resolve(f, Overrides::default())
    };
    let err = toml_with(
        "[security]\n[[security.users]]\nusername = \"a\"\npassword_hash = \"plain\"\nroles = [\"superuser\"]\n",
    )
    .unwrap_err();
    assert!(err.contains("not a bcrypt hash"), "{err}");
    let err = toml_with(&format!(
        "[security]\n[[security.users]]\nusername = \"a\"\npassword_hash = \"{}\"\nroles = [\"r\"]\n[security.roles.r]\nindices = [{{ names = \"x-*\", privileges = [\"reed\"] }}]\n",
        hash("p")
    ))
    .unwrap_err();
    assert!(err.contains("unknown index privilege [reed]"), "{err}");
    let ok = toml_with(&format!(
        "listen = \"0.0.0.0:9200\"\n[security]\n[[security.users]]\nusername = \"a\"\npassword_hash = \"{}\"\nroles = [\"r\"]\n[security.roles.r]\ncluster = [\"monitor\"]\nindices = [{{ names = \"x-*\", privileges = [\"read\"] }}]\n",
        hash("p")
    ));
    assert!(ok.is_ok(), "{ok:?}");
}

/// TLS on the ES API port: with `tls_cert`/`tls_key` the daemon speaks https (a client that trusts
/// the CA reaches it; plain http does not).
#[tokio::test]
async fn https_on_the_es_port() {
    let dir = tempfile::tempdir().unwrap();
    let TestCerts { ca, cert, key } = localhost_certs();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let d = start_daemon(|cfg| {
        cfg.security.tls_cert = Some(cert_path.clone());
        cfg.security.tls_key = Some(key_path.clone());
    });
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = c
        .get(format!("https://localhost:{}/", d.es.port()))
        .send()
        .await
        .expect("https request");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tagline"], "You Know, for Search");
    let plain = client()
        .get(format!("http://localhost:{}/", d.es.port()))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain http must not be served on the TLS port"
    );
}
