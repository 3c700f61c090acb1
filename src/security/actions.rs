//! Which Elasticsearch action a REST request is, and which privileges grant it: the action names
//! of Elasticsearch's transport actions (`indices:data/read/search`, …) and the privilege lists
//! that `IndexPrivilege#findPrivilegesThatGrant` / `ClusterPrivilegeResolver` give for them, used
//! both to decide and to word the 403.

use axum::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Checked against cluster privileges.
    Cluster,
    /// Checked against index privileges, on the names of the path (and, where the body names
    /// indices, where they are resolved).
    Index,
    /// Any authenticated principal (`_security/_authenticate`, continuations of its own searches,
    /// API key management, which checks its own privileges).
    Authenticated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub scope: Scope,
    pub granting: &'static [&'static str],
}

const READ: &[&str] = &["read", "all"];
const VIEW: &[&str] = &["view_index_metadata", "manage", "all"];
const MANAGE: &[&str] = &["manage", "all"];
const MONITOR: &[&str] = &["monitor", "manage", "all"];
const C_MONITOR: &[&str] = &["monitor", "manage", "all"];
const C_MANAGE: &[&str] = &["manage", "all"];

const fn index(name: &'static str, granting: &'static [&'static str]) -> Action {
    Action {
        name,
        scope: Scope::Index,
        granting,
    }
}

const fn cluster(name: &'static str, granting: &'static [&'static str]) -> Action {
    Action {
        name,
        scope: Scope::Cluster,
        granting,
    }
}

const AUTHENTICATED: Action = Action {
    name: "cluster:admin/xpack/security/user/authenticate",
    scope: Scope::Authenticated,
    granting: &[],
};

pub const SEARCH: Action = index("indices:data/read/search", READ);

/// The action of one `_bulk` item (`index`, `create`, `update`, `delete`).
pub fn bulk_item(op: &str) -> Action {
    match op {
        "create" => index(
            "indices:data/write/index",
            &["create_doc", "create", "index", "write", "all"],
        ),
        "delete" => index("indices:data/write/delete", &["delete", "write", "all"]),
        "update" => index("indices:data/write/update", &["index", "write", "all"]),
        _ => index(
            "indices:data/write/index",
            &["create", "index", "write", "all"],
        ),
    }
}

/// The action of a request, from its method and path. `names` are the index names the path
/// holds (empty for cluster-level APIs).
pub fn classify(method: &Method, path: &str) -> (Action, Vec<String>) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let read = matches!(*method, Method::GET | Method::HEAD);
    let (names, rest): (Vec<String>, &[&str]) = match segs.first() {
        Some(s) if !s.starts_with('_') => (
            crate::router::split_indices(&crate::router::percent_decode(s)),
            &segs[1..],
        ),
        _ => (vec![], &segs[..]),
    };
    if !names.is_empty() {
        return (index_action(method, rest), names);
    }
    let api = segs.first().copied().unwrap_or("");
    let action = match api {
        "" => cluster("cluster:monitor/main", C_MONITOR),
        "_security" => match segs.get(1).copied() {
            Some("_authenticate") | Some("api_key") => AUTHENTICATED,
            _ => cluster("cluster:admin/xpack/security", &["manage_security", "all"]),
        },
        // Continuations of searches (their ids were handed to this principal).
        "_search" if segs.get(1) == Some(&"scroll") => AUTHENTICATED,
        "_pit" if *method == Method::DELETE => AUTHENTICATED,
        "_async_search" if segs.len() > 1 => AUTHENTICATED,
        // Searches over every index (or the ones their bodies name): checked where the names are
        // resolved, wildcards reduced to what the principal may read.
        "_search" | "_msearch" | "_count" | "_async_search" | "_pit" | "_field_caps" | "_mget"
        | "_query" | "_sql" | "_eql" | "_terms_enum" => SEARCH,
        "_bulk" => index(
            "indices:data/write/bulk",
            &["create_doc", "create", "delete", "index", "write", "all"],
        ),
        "_index_template" | "_component_template" | "_template" if !read => cluster(
            "indices:admin/index_template/put",
            &["manage_index_templates", "manage", "all"],
        ),
        "_ingest" if !read => cluster(
            "cluster:admin/ingest/pipeline/put",
            &[
                "manage_ingest_pipelines",
                "manage_pipeline",
                "manage",
                "all",
            ],
        ),
        "_ingest" => cluster(
            "cluster:admin/ingest/pipeline/get",
            &[
                "read_pipeline",
                "manage_ingest_pipelines",
                "manage_pipeline",
                "manage",
                "all",
            ],
        ),
        "_data_stream" if segs.len() > 1 && !read => {
            return (
                index(
                    "indices:admin/data_stream/create",
                    &["create_index", "manage", "all"],
                ),
                crate::router::split_indices(&crate::router::percent_decode(segs[1])),
            );
        }
        "_data_stream" if segs.len() > 1 => {
            return (
                index("indices:admin/data_stream/get", VIEW),
                crate::router::split_indices(&crate::router::percent_decode(segs[1])),
            );
        }
        "_cat"
        | "_cluster"
        | "_nodes"
        | "_xpack"
        | "_license"
        | "_tasks"
        | "_resolve"
        | "_index_template"
        | "_component_template"
        | "_template"
        | "_alias"
        | "_aliases"
        | "_mapping"
        | "_settings"
        | "_stats"
        | "_data_stream"
        | "_ilm"
        | "_snapshot"
            if read =>
        {
            cluster("cluster:monitor/state", C_MONITOR)
        }
        _ if read => cluster("cluster:monitor/state", C_MONITOR),
        _ => cluster("cluster:admin/settings/update", C_MANAGE),
    };
    (action, vec![])
}

fn index_action(method: &Method, rest: &[&str]) -> Action {
    let read = matches!(*method, Method::GET | Method::HEAD);
    let api = rest.first().copied().unwrap_or("");
    match api {
        "_search" | "_count" | "_msearch" | "_async_search" | "_pit" | "_validate" | "_explain"
        | "_terms_enum" | "_knn_search" | "_eql" => SEARCH,
        "_doc" | "_source" if read => index("indices:data/read/get", READ),
        "_mget" => index("indices:data/read/mget", READ),
        "_termvectors" | "_mtermvectors" => index("indices:data/read/tv", READ),
        "_field_caps" => index(
            "indices:data/read/field_caps",
            &["view_index_metadata", "read", "manage", "all"],
        ),
        "_doc" if *method == Method::DELETE => {
            index("indices:data/write/delete", &["delete", "write", "all"])
        }
        "_doc" | "_create" => index(
            "indices:data/write/index",
            &["create_doc", "create", "index", "write", "all"],
        ),
        "_update" => index("indices:data/write/update", &["index", "write", "all"]),
        "_bulk" => index(
            "indices:data/write/bulk",
            &["create_doc", "create", "delete", "index", "write", "all"],
        ),
        "_delete_by_query" => index(
            "indices:data/write/delete/byquery",
            &["delete", "write", "all"],
        ),
        "_update_by_query" => index(
            "indices:data/write/update/byquery",
            &["index", "write", "all"],
        ),
        "_refresh" | "_flush" | "_forcemerge" => {
            index("indices:admin/refresh", &["maintenance", "manage", "all"])
        }
        "" if *method == Method::PUT => {
            index("indices:admin/create", &["create_index", "manage", "all"])
        }
        "" if *method == Method::DELETE => {
            index("indices:admin/delete", &["delete_index", "manage", "all"])
        }
        "" => index("indices:admin/get", VIEW),
        "_mapping" | "_mappings" if read => index("indices:admin/mappings/get", VIEW),
        "_mapping" | "_mappings" => index("indices:admin/mapping/put", MANAGE),
        "_settings" if read => index(
            "indices:monitor/settings/get",
            &["view_index_metadata", "monitor", "manage", "all"],
        ),
        "_settings" => index("indices:admin/settings/update", MANAGE),
        "_alias" | "_aliases" if read => index("indices:admin/aliases/get", VIEW),
        "_alias" | "_aliases" => index("indices:admin/aliases", MANAGE),
        "_stats" | "_segments" | "_recovery" => index("indices:monitor/stats", MONITOR),
        "_rollover" => index("indices:admin/rollover", MANAGE),
        _ if read => index("indices:admin/get", VIEW),
        _ => index("indices:admin/settings/update", MANAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action names and granting privileges of Elasticsearch's transport actions
    /// (SearchTransportService / TransportSearchAction NAME, IndexPrivilege).
    #[test]
    fn requests_map_to_elasticsearch_actions() {
        let (a, n) = classify(&Method::POST, "/logs-*,web/_search");
        assert_eq!(a.name, "indices:data/read/search");
        assert_eq!(a.granting, &["read", "all"]);
        assert_eq!(n, vec!["logs-*", "web"]);
        let (a, n) = classify(&Method::PUT, "/web/_doc/1");
        assert_eq!(a.name, "indices:data/write/index");
        assert_eq!(n, vec!["web"]);
        assert_eq!(
            classify(&Method::PUT, "/web").0.name,
            "indices:admin/create"
        );
        assert_eq!(
            classify(&Method::DELETE, "/web").0.name,
            "indices:admin/delete"
        );
        assert_eq!(classify(&Method::GET, "/").0.name, "cluster:monitor/main");
        assert_eq!(
            classify(&Method::GET, "/_security/_authenticate").0.scope,
            Scope::Authenticated
        );
        let (a, n) = classify(&Method::POST, "/_bulk");
        assert_eq!(a.scope, Scope::Index);
        assert!(n.is_empty());
        assert_eq!(
            classify(&Method::PUT, "/_index_template/t").0.name,
            "indices:admin/index_template/put"
        );
    }
}
