//! Wiring: configuration → ClickHouse → catalog → the two HTTP servers, and a clean shutdown.

use crate::catalog::Catalog;
use crate::clickhouse::ClickHouse;
use crate::config::Config;
use crate::telemetry::Stats;
use std::ops::Deref;
use std::sync::Arc;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub cfg: Config,
    pub ch: Arc<ClickHouse>,
    pub catalog: Arc<Catalog>,
    pub stats: Arc<Stats>,
    pub cluster_uuid: String,
    /// The real Elasticsearch, when `elasticsearch_url` is set.
    pub elastic: Option<Arc<crate::elastic::Elastic>>,
    pub routing: Arc<crate::router::Routing>,
    /// A/B comparisons (the matcher's store).
    pub compare: Arc<crate::compare::store::Store>,
    /// The ClickHouse table of mismatches, with `store_mismatches = true`.
    pub mismatch_table: Option<crate::compare::table::Writer>,
    /// Dual-write failures and the transparent proxy's readiness report.
    pub records: Arc<crate::router::record::Records>,
    /// `[security]`, when enabled.
    pub security: Option<Arc<crate::security::Security>>,
    pub api_keys: Arc<crate::security::api_keys::Store>,
    /// The 429 bounds ([`crate::es_api::admission`]).
    pub admission: crate::es_api::admission::Admission,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub async fn new(cfg: Config) -> anyhow::Result<AppState> {
        let ch = Arc::new(ClickHouse::connect(&cfg).await?);
        let catalog = Arc::new(Catalog::new(ch.clone()));
        catalog.watch();
        let cluster_uuid = crate::ids::index_uuid(&format!("cluster:{}", cfg.clickhouse_database));
        let stats = Arc::new(Stats::new(&ch.metrics));
        let elastic = match &cfg.elasticsearch_url {
            Some(u) => Some(Arc::new(crate::elastic::Elastic::new(
                u,
                cfg.elasticsearch_ca_cert.as_deref(),
            )?)),
            None => None,
        };
        let routing = Arc::new(crate::router::Routing::new(&cfg));
        let cfg_security = cfg.security.clone();
        let (admission_searches, admission_bytes) =
            (cfg.search_queue_size, cfg.indexing_pressure_memory_limit);
        let catalog_for_keys = catalog.clone();
        let mismatch_table = if cfg.store_mismatches {
            use crate::compare::table;
            let db = table::database(&ch.database);
            // Created now; should ClickHouse refuse, the writer tries again before its first insert.
            let ready = match table::ensure(&ch, &db).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(database = %db, table = table::TABLE, error = %e,
                        "cannot create the table of A/B mismatches yet");
                    false
                }
            };
            Some(table::Writer::start(
                ch.clone(),
                stats.clone(),
                db,
                cfg.node_name.clone(),
                ready,
            ))
        } else {
            None
        };
        Ok(AppState(Arc::new(Inner {
            cfg,
            ch,
            catalog,
            stats,
            cluster_uuid,
            elastic,
            routing,
            compare: Arc::default(),
            mismatch_table,
            records: Arc::default(),
            security: crate::security::Security::new(&cfg_security),
            api_keys: Arc::new(crate::security::api_keys::Store::new(catalog_for_keys)),
            admission: crate::es_api::admission::Admission::new(
                admission_searches,
                admission_bytes,
            ),
        })))
    }
}

/// A running daemon: both listeners bound. Used by `main` and by the integration tests.
pub struct Running {
    pub state: AppState,
    pub es_addr: std::net::SocketAddr,
    pub ui_addr: std::net::SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    let state = AppState::new(cfg.clone()).await?;
    let es = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (ES API): {e}", cfg.listen))?;
    let ui = tokio::net::TcpListener::bind(cfg.ui_listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (debug UI): {e}", cfg.ui_listen))?;
    let es_addr = es.local_addr()?;
    let ui_addr = ui.local_addr()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let tls = match (&cfg.security.tls_cert, &cfg.security.tls_key) {
        (Some(c), Some(k)) => Some(crate::security::tls::load(c, k).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let mut listeners = vec![(ui, crate::debug_ui::router(state.clone()))];
    match tls {
        Some(tls) => tasks.push(tokio::spawn(crate::security::tls::serve(
            es,
            tls,
            crate::es_api::router(state.clone()),
            rx.clone(),
        ))),
        None => listeners.push((es, crate::es_api::router(state.clone()))),
    }
    for (listener, app) in listeners {
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
        }));
    }
    tracing::info!(es = %es_addr, ui = %ui_addr, clickhouse = %state.ch.url,
        security = state.security.is_some(), tls = cfg.security.tls_cert.is_some(),
        elasticsearch = state.cfg.elasticsearch_url.as_deref(), mode = ?state.cfg.mode,
        "elastichouse listening");
    Ok(Running {
        state,
        es_addr,
        ui_addr,
        shutdown: tx,
        tasks,
    })
}

impl Running {
    /// Stops accepting requests, finishes those in flight, stops the embedded engine.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(e) = &self.state.ch.embedded {
            e.stop().await;
        }
    }
}
