//! Prometheus metrics at `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/api/v1/rooms/{id}`), never the raw path, so ids
    /// and invite codes do not become label values.
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub ws_connections: Gauge,
    pub rooms: Gauge,
    pub rooms_created: Counter,
    pub messages: Counter,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_duration: Family<RequestLabels, Histogram>,
    sfu: SfuGauges,
    turn: TurnGauges,
}

/// The TURN relay's counters, copied in at every scrape.
#[derive(Default)]
struct TurnGauges {
    allocations: Gauge,
    packets_relayed: Gauge,
    bytes_relayed: Gauge,
    refusals: Family<RefusalLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: String,
}

/// The SFU's own counters, copied in at every scrape.
#[derive(Default)]
struct SfuGauges {
    participants: Gauge,
    tracks: Gauge,
    packets_in: Gauge,
    packets_out: Gauge,
    bytes_in: Gauge,
    bytes_out: Gauge,
    packets_dropped: Gauge,
    layer_switches: Gauge,
    keyframe_requests: Gauge,
    packets_reported: Gauge,
    packets_reported_lost: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mesh");
        let ws_connections = Gauge::default();
        let rooms = Gauge::default();
        let rooms_created = Counter::default();
        let messages = Counter::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        let http_duration = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "ws_connections",
            "Open WebSocket connections",
            ws_connections.clone(),
        );
        registry.register("rooms", "Rooms on the server", rooms.clone());
        registry.register(
            "rooms_created",
            "Rooms created since start",
            rooms_created.clone(),
        );
        registry.register(
            "messages",
            "Chat messages stored since start",
            messages.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            http_duration.clone(),
        );
        let sfu = SfuGauges::default();
        for (name, help, gauge) in [
            (
                "sfu_participants",
                "Participants connected to the SFU",
                &sfu.participants,
            ),
            ("sfu_tracks", "Tracks published to the SFU", &sfu.tracks),
            (
                "sfu_packets_in",
                "Media packets received by the SFU since start",
                &sfu.packets_in,
            ),
            (
                "sfu_packets_out",
                "Media packets sent by the SFU since start",
                &sfu.packets_out,
            ),
            (
                "sfu_bytes_in",
                "Media bytes received by the SFU since start",
                &sfu.bytes_in,
            ),
            (
                "sfu_bytes_out",
                "Media bytes sent by the SFU since start",
                &sfu.bytes_out,
            ),
            (
                "sfu_packets_dropped",
                "Datagrams the SFU dropped since start",
                &sfu.packets_dropped,
            ),
            (
                "sfu_layer_switches",
                "Simulcast layer switches since start",
                &sfu.layer_switches,
            ),
            (
                "sfu_keyframe_requests",
                "Keyframe requests sent to publishers since start",
                &sfu.keyframe_requests,
            ),
            (
                "sfu_subscriber_packets_reported",
                "Packets sent to subscribers that their receiver reports covered since start",
                &sfu.packets_reported,
            ),
            (
                "sfu_subscriber_packets_lost",
                "Of those, packets the subscribers reported lost since start",
                &sfu.packets_reported_lost,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        let turn = TurnGauges::default();
        registry.register(
            "turn_allocations",
            "Live TURN allocations",
            turn.allocations.clone(),
        );
        registry.register(
            "turn_packets_relayed",
            "Packets relayed by TURN since start",
            turn.packets_relayed.clone(),
        );
        registry.register(
            "turn_bytes_relayed",
            "Bytes relayed by TURN since start",
            turn.bytes_relayed.clone(),
        );
        registry.register(
            "turn_refusals",
            "TURN requests refused since start, by reason",
            turn.refusals.clone(),
        );
        Metrics {
            registry,
            sfu,
            turn,
            ws_connections,
            rooms,
            rooms_created,
            messages,
            http_requests,
            http_duration,
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, labels: RequestLabels, elapsed: Duration) {
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_sfu(&self, snapshot: &mesh_sfu::MetricsSnapshot) {
        let set = |gauge: &Gauge, value: u64| {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&self.sfu.participants, snapshot.participants);
        set(&self.sfu.tracks, snapshot.tracks_published);
        set(&self.sfu.packets_in, snapshot.packets_in);
        set(&self.sfu.packets_out, snapshot.packets_out);
        set(&self.sfu.bytes_in, snapshot.bytes_in);
        set(&self.sfu.bytes_out, snapshot.bytes_out);
        set(&self.sfu.packets_dropped, snapshot.packets_dropped);
        set(&self.sfu.layer_switches, snapshot.layer_switches);
        set(&self.sfu.keyframe_requests, snapshot.keyframe_requests);
        set(&self.sfu.packets_reported, snapshot.packets_reported);
        set(
            &self.sfu.packets_reported_lost,
            snapshot.packets_reported_lost,
        );
    }

    pub fn record_turn(&self, snapshot: &mesh_turn::MetricsSnapshot) {
        let set = |gauge: &Gauge, value: u64| {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&self.turn.allocations, snapshot.allocations);
        set(&self.turn.packets_relayed, snapshot.packets_relayed);
        set(&self.turn.bytes_relayed, snapshot.bytes_relayed);
        let refusals = &snapshot.refusals;
        for (reason, count) in [
            ("unauthorized", refusals.unauthorized),
            ("expired_credentials", refusals.expired_credentials),
            ("forbidden_peer", refusals.forbidden_peer),
            ("user_quota", refusals.user_quota),
            ("capacity", refusals.capacity),
            ("bandwidth", refusals.bandwidth),
            ("bad_request", refusals.bad_request),
        ] {
            set(
                &self.turn.refusals.get_or_create(&RefusalLabels {
                    reason: reason.into(),
                }),
                count,
            );
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
