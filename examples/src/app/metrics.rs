//! `/metrics` in dev mode: the library's counters and histograms (feature
//! `metrics` of clerk-core) in Prometheus' text format, through
//! `metrics-exporter-prometheus`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls reuse it)
/// and returns its handle, `None` when another recorder was installed
/// first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// The metrics page, `None` when no recorder could be installed.
pub fn render() -> Option<String> {
    handle().map(|h| {
        // Histograms are kept as samples until upkeep folds them.
        h.run_upkeep();
        h.render()
    })
}
