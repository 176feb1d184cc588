// The qlog events whose names and fields quiche's data model (the `qlog`
// crate) shares with draft-ietf-quic-qlog-quic-events-13: each record of
// these must parse as the crate's typed event. (It names
// udp_datagrams_* "datagrams_*" and key_discarded "key_retired", and lacks
// some of the draft's trigger values; those are checked by hand.)
// Included by the qlog read-back tests and by tools/qlog_check.rs.
const TYPED: &[&str] = &[
    "quic:connection_started",
    "quic:parameters_set",
    "quic:version_information",
    "quic:alpn_information",
    "quic:packet_sent",
    "quic:packet_received",
    "quic:packet_lost",
    "quic:key_updated",
    "quic:recovery_metrics_updated",
    "quic:congestion_state_updated",
    "quic:timer_updated",
    "quic:mtu_updated",
    "quic:stream_state_updated",
    "quic:tuple_assigned",
    "quic:migration_state_updated",
];
