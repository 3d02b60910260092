//! What `GET /metrics` reports, in the Prometheus text format.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

pub struct Metrics {
    registry: Registry,
    pub issued: Counter,
    pub issue_refused: Counter,
    pub pending: Gauge,
    pub batches: Family<Labels, Gauge>,
    /// Seconds from a batch's seal to its anchor reaching depth.
    pub anchor_latency: Histogram,
    pub chain_errors: Counter,
    pub gas_used: Counter,
    pub fees_paid_wei: Counter<f64, std::sync::atomic::AtomicU64>,
    pub transactions: Counter,
    pub status_slots: Gauge,
    /// Anchors sent and not yet at their depth.
    pub anchors_in_flight: Gauge,
    /// Free bytes on the store's filesystem.
    pub store_free_bytes: Gauge,
    /// Delivery attempts of notifications, by sink and outcome.
    pub notifications: Family<Labels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cairn");
        let issued = Counter::default();
        registry.register(
            "credentials_issued",
            "Credentials signed and stored",
            issued.clone(),
        );
        let issue_refused = Counter::default();
        registry.register(
            "credentials_refused",
            "Issuance requests refused as malformed or duplicate",
            issue_refused.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "credentials_pending",
            "Credentials issued and waiting for a batch",
            pending.clone(),
        );
        let batches = Family::<Labels, Gauge>::default();
        registry.register("batches", "Batches by state", batches.clone());
        let anchor_latency = Histogram::new([1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0]);
        registry.register(
            "anchor_latency_seconds",
            "From a batch's seal to its anchor at the configured depth",
            anchor_latency.clone(),
        );
        let chain_errors = Counter::default();
        registry.register(
            "chain_errors",
            "Failed chain operations (each retried)",
            chain_errors.clone(),
        );
        let gas_used = Counter::default();
        registry.register(
            "gas_used",
            "Gas used by the node's registry transactions",
            gas_used.clone(),
        );
        let fees_paid_wei = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "fees_paid_wei",
            "Wei paid for the node's registry transactions",
            fees_paid_wei.clone(),
        );
        let transactions = Counter::default();
        registry.register(
            "transactions_sent",
            "Registry transactions sent, replacements included",
            transactions.clone(),
        );
        let status_slots = Gauge::default();
        registry.register(
            "status_slots_taken",
            "Status list slots handed out to stored credentials (slots of failed issuances are given back)",
            status_slots.clone(),
        );
        let anchors_in_flight = Gauge::default();
        registry.register(
            "anchors_in_flight",
            "Anchor transactions sent and not yet at the configured depth",
            anchors_in_flight.clone(),
        );
        let store_free_bytes = Gauge::default();
        registry.register(
            "store_free_bytes",
            "Free bytes on the filesystem of the node's store",
            store_free_bytes.clone(),
        );
        let notifications = Family::<Labels, Counter>::default();
        registry.register(
            "notifications",
            "Notification delivery attempts by sink (webhook, mail) and outcome (delivered, retried, refused)",
            notifications.clone(),
        );
        Self {
            notifications,
            registry,
            status_slots,
            anchors_in_flight,
            store_free_bytes,
            issued,
            issue_refused,
            pending,
            batches,
            anchor_latency,
            chain_errors,
            gas_used,
            fees_paid_wei,
            transactions,
        }
    }

    pub fn set_batches(&self, sealed: u64, anchored: u64) {
        self.batches
            .get_or_create(&vec![("state", "sealed")])
            .set(sealed as i64);
        self.batches
            .get_or_create(&vec![("state", "anchored")])
            .set(anchored as i64);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
