//! qlog traces read back: a transfer with loss, a key update and a close,
//! logged on both sides, parsed with quiche's qlog reader and data model
//! (an independent implementation of the drafts), and checked against what
//! the connections report.

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::pair::{configs, Link, Pair, Rng, MS};
use super::streams::pattern;
use crate::conn::Stats;
use crate::qlog::{QlogOutput, QlogSink, QlogTrace};

/// A sink that keeps each connection's records in memory.
fn memory_sink() -> (QlogSink, Arc<Mutex<Vec<u8>>>) {
    let store = Arc::new(Mutex::new(Vec::new()));
    let s = store.clone();
    let sink: QlogSink = Arc::new(move |_: &QlogTrace<'_>| {
        let s = s.clone();
        let out: QlogOutput = Box::new(move |b: &[u8]| {
            s.lock().unwrap().extend_from_slice(b);
            b.len()
        });
        Some(out)
    });
    (sink, store)
}

include!("../../tests/tools/qlog_typed.rs");

/// What a trace says, for comparing with the connection.
#[derive(Debug, Default)]
struct Trace {
    vantage: String,
    names: Vec<String>,
    datagram_bytes_sent: u64,
    datagram_bytes_received: u64,
    packets_sent: Vec<(String, u64)>,
    /// Sent packets that count as in flight (RFC 9002 §2): with an
    /// ack-eliciting frame or padding, PMTU probes aside.
    in_flight: HashSet<(String, u64)>,
    packets_received: Vec<(String, u64)>,
    lost: Vec<(String, u64)>,
    key_updates: Vec<(String, String)>,
    closed: Vec<Value>,
    /// "<id> <side> <state>" of each stream_state_updated.
    stream_states: Vec<String>,
    /// Per record: the new congestion state, if it is one.
    phases: Vec<String>,
    stream_bytes_received: u64,
}

fn read_trace(bytes: &[u8]) -> Trace {
    assert_eq!(bytes.first(), Some(&0x1e), "JSON-SEQ: starts with RS");
    // The header, through the qlog crate's reader.
    let reader = qlog::reader::QlogSeqReader::new(Box::new(Cursor::new(bytes.to_vec())))
        .expect("the header record parses as a QlogFileSeq");
    assert_eq!(
        reader.qlog.file_schema,
        "urn:ietf:params:qlog:file:sequential"
    );
    assert_eq!(
        reader.qlog.serialization_format,
        "application/qlog+json-seq"
    );
    let vp = reader
        .qlog
        .trace
        .vantage_point
        .clone()
        .expect("vantage point");
    let mut t = Trace {
        vantage: serde_json::to_value(&vp.ty)
            .unwrap()
            .as_str()
            .unwrap()
            .into(),
        ..Trace::default()
    };
    let events = reader.count();
    // Every record, one by one.
    let mut last_time = f64::MIN;
    let records: Vec<&[u8]> = bytes.split(|b| *b == 0x1e).skip(2).collect();
    assert_eq!(records.len(), events, "the reader read every record");
    for raw in records {
        assert!(raw.ends_with(b"\n"), "a record ends with a newline");
        let v: Value = serde_json::from_slice(raw).expect("a record is JSON");
        let time = v["time"].as_f64().expect("time");
        assert!(
            time >= last_time,
            "time goes back: {time} after {last_time}"
        );
        last_time = time;
        let name = v["name"].as_str().expect("name").to_string();
        let data = &v["data"];
        assert!(data.is_object(), "{name}: data is an object");
        if TYPED.contains(&name.as_str()) {
            if let Err(e) = serde_json::from_slice::<qlog::events::Event>(raw) {
                panic!("{name} does not parse as qlog's event: {e}\n{v}");
            }
        }
        match name.as_str() {
            "quic:udp_datagrams_sent" | "quic:udp_datagrams_received" => {
                assert_eq!(data["count"], 1);
                let len = data["raw"][0]["length"].as_u64().expect("raw length");
                assert!(["Not-ECT", "ECT(0)", "ECT(1)", "CE"]
                    .contains(&data["ecn"][0].as_str().expect("ecn")));
                if name.ends_with("sent") {
                    t.datagram_bytes_sent += len;
                } else {
                    t.datagram_bytes_received += len;
                }
            }
            "quic:packet_sent" | "quic:packet_received" => {
                let h = &data["header"];
                let pt = h["packet_type"].as_str().unwrap().to_string();
                let pn = h["packet_number"].as_u64().unwrap();
                if name.ends_with("sent") {
                    let frames = data["frames"].as_array().expect("frames");
                    let counts = frames.iter().any(|f| {
                        !["ack", "connection_close"].contains(&f["frame_type"].as_str().unwrap())
                    });
                    if counts && data["is_mtu_probe_packet"] != true {
                        t.in_flight.insert((pt.clone(), pn));
                    }
                    t.packets_sent.push((pt, pn));
                } else {
                    for f in data["frames"].as_array().expect("frames") {
                        if f["frame_type"] == "stream" {
                            t.stream_bytes_received += f["raw"]["payload_length"].as_u64().unwrap();
                        }
                    }
                    t.packets_received.push((pt, pn));
                }
            }
            "quic:packet_lost" => {
                let h = &data["header"];
                let pt = h["packet_type"].as_str().unwrap().to_string();
                t.lost.push((pt, h["packet_number"].as_u64().unwrap()));
                let trigger = data["trigger"]
                    .as_str()
                    .expect("a loss found by a threshold");
                assert!(["reordering_threshold", "time_threshold"].contains(&trigger));
            }
            "quic:packet_dropped" => {
                let trigger = data["trigger"].as_str().expect("trigger");
                assert!(
                    [
                        "internal_error",
                        "rejected",
                        "unsupported",
                        "invalid",
                        "duplicate",
                        "connection_unknown",
                        "decryption_failure",
                        "key_unavailable",
                        "general"
                    ]
                    .contains(&trigger),
                    "{trigger}"
                );
            }
            "quic:key_updated" | "quic:key_discarded" => {
                let kt = data["key_type"].as_str().expect("key_type").to_string();
                assert!(kt.ends_with("_secret"), "{kt}");
                let trigger = data["trigger"].as_str().unwrap_or("").to_string();
                if name.ends_with("updated") {
                    t.key_updates.push((kt, trigger));
                }
            }
            "quic:connection_closed" => t.closed.push(data.clone()),
            "quic:stream_state_updated" => {
                let sid = data["stream_id"].as_u64().unwrap();
                let side = data["stream_side"].as_str().unwrap();
                let new = data["new"].as_str().unwrap();
                t.stream_states.push(format!("{sid} {side} {new}"));
            }
            _ => {}
        }
        t.phases
            .push(data["new"].as_str().unwrap_or_default().to_string());
        t.names.push(name);
    }
    t
}

/// A transfer over a lossy link with a key update and an application
/// close, traced on both sides.
#[test]
fn traces_of_a_lossy_transfer_with_a_key_update_and_a_close_read_back() {
    let (mut c, mut s) = configs();
    let (client_sink, client_log) = memory_sink();
    let (server_sink, server_log) = memory_sink();
    c.set_qlog(Some(client_sink));
    s.set_qlog(Some(server_sink));
    let mut p = Pair::new(c, s);
    p.rng = Rng::new(7);
    p.delay = 10 * MS;
    let link = Link {
        loss: 0.03,
        ..Link::default()
    };
    p.links = [link.clone(), link];
    p.handshake();
    p.client.request_key_update().unwrap();
    let body = pattern(400_000, 3);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    let start = p.now;
    assert!(p.run_until(start + 120_000 * MS, |p| p.client_rx.finished.contains(&1)));
    assert!(p.client_rx.bytes(1) == body, "the body arrived intact");
    p.client.close(true, 7, None, b"done here", p.now).unwrap();
    assert!(p.run_to_close(), "both sides closed");
    let (cs, ss): (Stats, Stats) = (p.client.stats(), p.server().stats());
    drop(p); // the traces' last records are handed over
    let client = read_trace(&client_log.lock().unwrap());
    let server = read_trace(&server_log.lock().unwrap());

    for (t, st, side) in [(&client, &cs, "client"), (&server, &ss, "server")] {
        assert_eq!(t.vantage, side);
        assert_eq!(st.qlog_records_dropped, 0);
        // Every datagram is in the trace, byte for byte.
        assert_eq!(t.datagram_bytes_sent, st.bytes_sent, "{side}: bytes sent");
        assert_eq!(
            t.datagram_bytes_received, st.bytes_received,
            "{side}: bytes received"
        );
        // Every loss the connection counted (it counts packets in flight;
        // the trace has ACK-only ones too), and no packet number twice.
        let in_flight_lost = t.lost.iter().filter(|p| t.in_flight.contains(*p)).count();
        assert_eq!(
            in_flight_lost as u64, st.packets_lost,
            "{side}: packets lost"
        );
        assert!(
            t.lost.iter().all(|p| t.packets_sent.contains(p)),
            "{side}: lost unsent"
        );
        let unique: HashSet<_> = t.packets_sent.iter().collect();
        assert_eq!(
            unique.len(),
            t.packets_sent.len(),
            "{side}: a number sent twice"
        );
        for name in [
            "quic:connection_started",
            "quic:parameters_set",
            "quic:version_information",
            "quic:alpn_information",
            "quic:recovery_metrics_updated",
            "quic:timer_updated",
            "quic:key_discarded",
        ] {
            assert!(t.names.iter().any(|n| n == name), "{side}: no {name}");
        }
        assert_eq!(
            t.names
                .iter()
                .filter(|n| *n == "quic:parameters_set")
                .count(),
            2,
            "{side}: ours and the peer's"
        );
        // The close: the client's application closed with code 7.
        assert_eq!(t.closed.len(), 1, "{side}: one connection_closed");
        let closed = &t.closed[0];
        assert_eq!(closed["application_error"], "unknown");
        assert_eq!(closed["error_code"], 7);
        assert_eq!(closed["reason"], "done here");
        assert_eq!(closed["trigger"], "application");
        let initiator = if side == "client" { "local" } else { "remote" };
        assert_eq!(closed["initiator"], initiator, "{side}");
    }
    // The sender's controller: slow start, a loss, recovery.
    let phases: Vec<&str> = server
        .names
        .iter()
        .zip(&server.phases)
        .filter(|(n, _)| *n == "quic:congestion_state_updated")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(phases.first(), Some(&"slow_start"), "{phases:?}");
    assert!(phases.contains(&"recovery"), "{phases:?}");
    // The server's stream 1, opened on both sides, each half.
    for t in [&client, &server] {
        for half in ["1 sending open", "1 receiving open"] {
            assert!(
                t.stream_states.iter().any(|s| s == half),
                "{:?}",
                t.stream_states
            );
        }
    }
    // What one side received, the other sent.
    let sent: HashSet<_> = server.packets_sent.iter().collect();
    assert!(client.packets_received.iter().all(|p| sent.contains(p)));
    assert!(ss.packets_lost > 0, "the link lost some");
    // The body's bytes, in the client's STREAM frames (resent ones twice).
    assert!(client.stream_bytes_received >= body.len() as u64);
    // The key update: the client's own write key first, then the server
    // following it.
    let updates = |t: &Trace, key: &str, trigger: &str| {
        t.key_updates.iter().any(|(k, g)| k == key && g == trigger)
    };
    assert!(updates(&client, "client_1rtt_secret", "local_update"));
    assert!(updates(&server, "client_1rtt_secret", "remote_update"));
    assert!(updates(&server, "server_1rtt_secret", "remote_update"));
    assert!(updates(&client, "server_1rtt_secret", "remote_update"));
}

/// Logging off: no trace, and the stats say nothing was dropped.
#[test]
fn without_a_sink_nothing_is_traced() {
    let mut p = Pair::default_pair();
    p.download(10_000, "no qlog");
    assert_eq!(p.client.stats().qlog_records_dropped, 0);
    assert!(!p.client.qlog_enabled_for_test());
}

/// A client whose address changes mid-transfer (a NAT rebinding): the
/// server's trace assigns the new tuple and says the migration completed,
/// both in the draft's shape.
#[test]
fn a_migration_is_traced() {
    let (c, mut s) = configs();
    let (server_sink, server_log) = memory_sink();
    s.set_qlog(Some(server_sink));
    let mut p = Pair::new(c, s);
    p.handshake();
    let body = pattern(300_000, 9);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    assert!(
        p.run_until(p.now + 60_000 * MS, |p| p.client_rx.bytes(1).len()
            > 100_000)
    );
    let new: std::net::SocketAddr = "10.0.0.1:5555".parse().unwrap();
    p.client_seen_as = new;
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&1)));
    assert_eq!(p.server().peer_addr(), Some(new));
    drop(p);
    let log = server_log.lock().unwrap().clone();
    let trace = read_trace(&log);
    let records: Vec<Value> = log
        .split(|b| *b == 0x1e)
        .skip(2)
        .map(|r| serde_json::from_slice(r).unwrap())
        .collect();
    let assigned: Vec<&Value> = records
        .iter()
        .filter(|r| r["name"] == "quic:tuple_assigned")
        .collect();
    assert_eq!(assigned.len(), 1, "{:?}", trace.names);
    let a = &assigned[0]["data"];
    assert_eq!(a["tuple_remote"]["ip_v4"], "10.0.0.1");
    assert_eq!(a["tuple_remote"]["port_v4"], 5555);
    let migrated = records
        .iter()
        .find(|r| r["name"] == "quic:migration_state_updated")
        .expect("migration_state_updated");
    assert_eq!(migrated["data"]["new"], "migration_complete");
    assert_eq!(migrated["data"]["tuple_id"], a["tuple_id"]);
    for r in [assigned[0], migrated] {
        let raw = serde_json::to_vec(r).unwrap();
        serde_json::from_slice::<qlog::events::Event>(&raw).expect("qlog's typed event");
    }
}
