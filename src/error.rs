//! Elasticsearch-shaped errors.
//!
//! Every failure that reaches a client is an [`EsError`], rendered exactly like Elasticsearch's
//! `ElasticsearchException#generateFailureXContent` / `BytesRestResponse` output:
//! `{"error":{"root_cause":[…],"type":…,"reason":…,…},"status":N}`.
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/ElasticsearchException.java)

use serde_json::{Map, Value, json};

/// An error as Elasticsearch reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct EsError {
    /// HTTP status code.
    pub status: u16,
    /// Elasticsearch's exception type, e.g. `index_not_found_exception`.
    pub kind: String,
    pub reason: String,
    /// Extra fields Elasticsearch adds next to `type`/`reason` (`index`, `index_uuid`, `line`, `col`, …),
    /// kept in insertion order.
    pub extra: Map<String, Value>,
    pub caused_by: Option<Box<EsError>>,
}

pub type EsResult<T> = Result<T, EsError>;

impl EsError {
    pub fn new(status: u16, kind: impl Into<String>, reason: impl Into<String>) -> Self {
        EsError {
            status,
            kind: kind.into(),
            reason: reason.into(),
            extra: Map::new(),
            caused_by: None,
        }
    }

    /// Adds a field next to `type` and `reason`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn caused_by(mut self, cause: EsError) -> Self {
        self.caused_by = Some(Box::new(cause));
        self
    }

    /// `index_not_found_exception`, 404, as `IndexNotFoundException` renders it.
    pub fn index_not_found(index: &str) -> Self {
        EsError::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
        .with("resource.type", "index_or_alias")
        .with("resource.id", index)
        .with("index_uuid", "_na_")
        .with("index", index)
    }

    /// `resource_already_exists_exception`, 400.
    pub fn index_already_exists(index: &str, uuid: &str) -> Self {
        EsError::new(
            400,
            "resource_already_exists_exception",
            format!("index [{index}/{uuid}] already exists"),
        )
        .with("index_uuid", uuid)
        .with("index", index)
    }

    /// `invalid_index_name_exception`, 400.
    pub fn invalid_index_name(index: &str, why: &str) -> Self {
        EsError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{index}], {why}"),
        )
        .with("index_uuid", "_na_")
        .with("index", index)
    }

    pub fn parsing(reason: impl Into<String>) -> Self {
        EsError::new(400, "parsing_exception", reason)
    }

    pub fn x_content_parse(reason: impl Into<String>) -> Self {
        EsError::new(400, "x_content_parse_exception", reason)
    }

    pub fn illegal_argument(reason: impl Into<String>) -> Self {
        EsError::new(400, "illegal_argument_exception", reason)
    }

    pub fn action_request_validation(reason: impl Into<String>) -> Self {
        EsError::new(400, "action_request_validation_exception", reason)
    }

    pub fn mapper_parsing(reason: impl Into<String>) -> Self {
        EsError::new(400, "mapper_parsing_exception", reason)
    }

    pub fn document_parsing(reason: impl Into<String>) -> Self {
        EsError::new(400, "document_parsing_exception", reason)
    }

    pub fn strict_dynamic_mapping(reason: impl Into<String>) -> Self {
        EsError::new(400, "strict_dynamic_mapping_exception", reason)
    }

    /// `version_conflict_engine_exception`, 409.
    pub fn version_conflict(index: &str, id: &str, detail: &str) -> Self {
        EsError::new(
            409,
            "version_conflict_engine_exception",
            format!("[{id}]: version conflict, {detail}"),
        )
        .with("index_uuid", crate::ids::index_uuid(index))
        .with("shard", "0")
        .with("index", index)
    }

    /// `document_missing_exception`, 404 (update of an absent document).
    pub fn document_missing(index: &str, id: &str) -> Self {
        EsError::new(
            404,
            "document_missing_exception",
            format!("[{id}]: document missing"),
        )
        .with("index_uuid", crate::ids::index_uuid(index))
        .with("shard", "0")
        .with("index", index)
    }

    /// A feature of Elasticsearch that elastichouse does not implement (yet): a clear 400 naming it.
    /// Recorded on the debug UI by the API layer.
    pub fn unsupported(feature: impl Into<String>) -> Self {
        let feature = feature.into();
        EsError::new(
            400,
            "illegal_argument_exception",
            format!("elastichouse does not support [{feature}] yet"),
        )
        .with("elastichouse.unsupported_feature", feature)
    }

    /// The feature name if this is an "unsupported by elastichouse" error.
    pub fn unsupported_feature(&self) -> Option<&str> {
        self.extra
            .get("elastichouse.unsupported_feature")
            .and_then(Value::as_str)
    }

    /// A failure of the storage layer.
    pub fn storage(reason: impl Into<String>) -> Self {
        EsError::new(500, "exception", reason)
    }

    /// The storage (ClickHouse) cannot be reached or did not answer in time: 503, which clients
    /// and shippers retry, with the type Elasticsearch answers when no copy of a shard is
    /// available (NoShardAvailableActionException, RestStatus.SERVICE_UNAVAILABLE).
    pub fn storage_unavailable(detail: &str) -> Self {
        EsError::new(
            503,
            "no_shard_available_action_exception",
            format!("ClickHouse is unavailable: {detail}"),
        )
    }

    /// The `{type, reason, …}` object of this error (and its causes).
    pub fn body(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(self.kind.clone()));
        obj.insert("reason".into(), Value::String(self.reason.clone()));
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        if let Some(cause) = &self.caused_by {
            obj.insert("caused_by".into(), cause.body());
        }
        Value::Object(obj)
    }

    fn root_cause_body(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(self.kind.clone()));
        obj.insert("reason".into(), Value::String(self.reason.clone()));
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    /// The deepest cause, as Elasticsearch puts it in `root_cause`.
    pub fn root_cause(&self) -> &EsError {
        match &self.caused_by {
            Some(c) => c.root_cause(),
            None => self,
        }
    }

    /// The complete response body.
    pub fn to_json(&self) -> Value {
        let mut error = self.body();
        if let Value::Object(m) = &mut error {
            let mut with_root = Map::new();
            with_root.insert(
                "root_cause".into(),
                json!([self.root_cause().root_cause_body()]),
            );
            with_root.extend(std::mem::take(m));
            *m = with_root;
        }
        json!({ "error": error, "status": self.status })
    }
}

impl std::fmt::Display for EsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

impl std::error::Error for EsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_not_found_shape() {
        // Shape of a real Elasticsearch 8.x answer to GET /missing/_search.
        let v = EsError::index_not_found("missing").to_json();
        assert_eq!(v["status"], 404);
        assert_eq!(v["error"]["type"], "index_not_found_exception");
        assert_eq!(v["error"]["reason"], "no such index [missing]");
        assert_eq!(v["error"]["root_cause"][0]["index"], "missing");
        assert_eq!(
            v["error"]["root_cause"][0]["resource.type"],
            "index_or_alias"
        );
        let keys: Vec<_> = v["error"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[0], "root_cause");
    }

    #[test]
    fn root_cause_is_deepest() {
        let e = EsError::mapper_parsing("failed to parse")
            .caused_by(EsError::illegal_argument("bad value"));
        let v = e.to_json();
        assert_eq!(
            v["error"]["root_cause"][0]["type"],
            "illegal_argument_exception"
        );
        assert_eq!(v["error"]["caused_by"]["reason"], "bad value");
    }
}
