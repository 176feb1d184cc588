//! Driving the TLS handshake (RFC 9001 §4): starting it, feeding it CRYPTO
//! data, installing the keys it yields, checking the peer's transport
//! parameters, and completing and confirming the handshake.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{cid, ApiError, CloseError, Connection, Event, Termination};
use crate::cid::ConnectionId;
use crate::crypto::{DirectionalKeys, InitialKeys};
use crate::error::{code, TransportError};
use crate::recovery::Space;
use crate::side::Side;
use crate::tls::{alert, Level, LocalParams, TlsSession, YieldedSecret};
use crate::transport_params::{PreferredAddress, TransportParameters, VersionInformation};
use crate::version;

impl Connection {
    /// Starts a client connection to `peer` (aioquic's `connect`): the
    /// ClientHello is then ready for `send`.
    pub fn connect(&mut self, peer: SocketAddr, now: u64) -> Result<(), ApiError> {
        if self.side != Side::Client {
            return Err(ApiError::InvalidState("only a client connects"));
        }
        if self.hs.is_started() || !matches!(self.close, super::close::CloseState::Open) {
            return Err(ApiError::InvalidState("already connected"));
        }
        self.paths.active.set_validated(peer);
        self.last_now = now;
        let dcid = self.ids.original_dcid;
        self.peer_cids.set_initial(dcid);
        self.install_initial_keys(&dcid)
            .map_err(|e| ApiError::Tls(e.reason.into()))?;
        self.start_tls(now)?;
        self.start_idle_timer(now);
        self.start_handshake_timer(now);
        self.qlog_started(now);
        Ok(())
    }

    /// Initial keys from the client's DCID (RFC 9001 §5.2).
    pub(super) fn install_initial_keys(&mut self, dcid: &[u8]) -> Result<(), TransportError> {
        let keys =
            InitialKeys::new(self.version, dcid, self.side == Side::Client).map_err(|_| {
                TransportError::new(code::INTERNAL_ERROR, 0, "Initial key derivation failed")
            })?;
        let space = &mut self.spaces[Space::Initial as usize];
        space.seal = Some(keys.seal);
        space.open = Some(keys.open);
        self.qlog_keys(true, "initial", None, None, "tls");
        Ok(())
    }

    /// Server: answer in `version` from now on, keeping the Initial receive
    /// keys of the original version until a Handshake packet arrives.
    fn switch_server_version(&mut self, version: u32) -> Result<(), TransportError> {
        self.vneg.initial_open_original = self.spaces[Space::Initial as usize].open.take();
        self.version = version;
        let dcid = self.ids.initial_dcid;
        self.install_initial_keys(&dcid)
    }

    /// Server: the first Initial from a client arrived.
    pub(super) fn accept(
        &mut self,
        version: u32,
        dcid: &[u8],
        scid: &[u8],
        from: SocketAddr,
        now: u64,
    ) -> Result<(), TransportError> {
        self.version = version;
        self.vneg.original = version;
        self.paths.active.set_validated(from);
        let scid = ConnectionId::new(scid).unwrap_or_default();
        self.peer_cids.set_initial(scid);
        self.ids.peer_initial_scid = scid;
        self.ids.peer_cid_set = true;
        self.ids.initial_dcid = ConnectionId::new(dcid).unwrap_or_default();
        self.install_initial_keys(dcid)?;
        self.start_tls(now)
            .map_err(|_| TransportError::new(code::INTERNAL_ERROR, 0, "TLS setup failed"))?;
        self.start_idle_timer(now);
        self.start_handshake_timer(now);
        self.qlog_started(now);
        Ok(())
    }

    /// The transport parameters we send (RFC 9000 §18.2).
    pub(super) fn local_params(&self) -> TransportParameters {
        let c = &self.config;
        let local0 = &self.local_cids.active[0];
        let mut tp = TransportParameters {
            max_idle_timeout: c.transport.idle_timeout / 1_000_000,
            initial_max_data: c.transport.max_data,
            initial_max_stream_data_bidi_local: c.transport.max_stream_data,
            initial_max_stream_data_bidi_remote: c.transport.max_stream_data,
            initial_max_stream_data_uni: c.transport.max_stream_data,
            initial_max_streams_bidi: c.transport.max_streams_bidi,
            initial_max_streams_uni: c.transport.max_streams_uni,
            active_connection_id_limit: cid::LOCAL_ACTIVE_CID_LIMIT,
            initial_source_connection_id: Some(local0.cid),
            max_datagram_frame_size: c.transport.max_datagram_frame_size,
            disable_active_migration: c.transport.disable_active_migration,
            version_information: Some(VersionInformation {
                chosen: self.version,
                available: self.available_versions(),
            }),
            ..Default::default()
        };
        if self.side == Side::Server {
            tp.original_destination_connection_id = Some(self.ids.original_dcid);
            tp.retry_source_connection_id = self.ids.retry_scid;
            tp.stateless_reset_token = Some(local0.reset_token);
            tp.preferred_address = self.preferred_address_param();
        }
        tp
    }

    /// Our preferred_address parameter (RFC 9000 §18.2): the configured
    /// addresses, absent ones as zeros, with the CID of sequence 1.
    fn preferred_address_param(&self) -> Option<PreferredAddress> {
        let c = &self.config;
        if c.transport.preferred_v4.is_none() && c.transport.preferred_v6.is_none() {
            return None;
        }
        let cid = self.local_cids.active.iter().find(|c| c.seq == 1)?;
        Some(PreferredAddress {
            ipv4: c
                .transport
                .preferred_v4
                .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            ipv6: c.transport.preferred_v6.unwrap_or(SocketAddrV6::new(
                Ipv6Addr::UNSPECIFIED,
                0,
                0,
                0,
            )),
            cid: cid.cid,
            reset_token: cid.reset_token,
        })
    }

    /// The versions our Version Information lists (RFC 9368 §3): a
    /// client's in preference order, its chosen one included; a server's
    /// deployed versions.
    pub(super) fn available_versions(&self) -> Vec<u32> {
        let mut v = self.config.transport.supported_versions.clone();
        if self.side == Side::Client && !v.contains(&self.version) {
            v.insert(0, self.version);
        }
        v
    }

    pub(super) fn start_tls(&mut self, now: u64) -> Result<(), ApiError> {
        let tp = self.local_params();
        let params = if self.side == Side::Client {
            let mut bytes = Vec::new();
            tp.encode(&mut bytes);
            LocalParams::Fixed(bytes)
        } else {
            // RFC 9368 §2.3: the version we answer in, and so the Version
            // Information we send, depends on the client's offer.
            let (original, ours) = (
                self.vneg.original,
                self.config.transport.supported_versions.clone(),
            );
            LocalParams::FromPeer(Box::new(move |peer: &TransportParameters| {
                let mut tp = tp.clone();
                let chosen = negotiated_version(original, peer, &ours);
                tp.version_information = Some(VersionInformation {
                    chosen,
                    available: ours.clone(),
                });
                let mut bytes = Vec::new();
                tp.encode(&mut bytes);
                bytes
            }))
        };
        let resume = self.resume.as_ref().map(|t| &t.tls_session[..]);
        let session = TlsSession::new(
            &self.tls_ctx,
            &self.config.tls,
            params,
            resume,
            self.early_policy(),
        )
        .map_err(|e| ApiError::Tls(e.reason.into()))?;
        self.tls = Some(session);
        self.hs.start();
        self.drive_tls(now);
        if self.side == Side::Client {
            self.start_early_data();
        }
        Ok(())
    }

    /// Hands CRYPTO bytes of `level` to TLS.
    pub(super) fn feed_tls(&mut self, level: Level, bytes: &[u8]) {
        if let Some(tls) = &mut self.tls {
            tls.provide(level, bytes);
            self.tls_fed = true;
        }
    }

    /// Runs TLS and acts on everything it produced.
    pub(super) fn drive_tls(&mut self, now: u64) {
        let Some(tls) = &mut self.tls else { return };
        if self.hs.is_complete() && !tls.has_work() {
            return;
        }
        let result = tls.advance();
        let secrets = tls.take_secrets();
        let params = tls.take_peer_params();
        let outgoing = [
            (Space::Initial, tls.take_outgoing(Level::Initial)),
            (Space::Handshake, tls.take_outgoing(Level::Handshake)),
            (Space::Application, tls.take_outgoing(Level::OneRtt)),
        ];
        let complete = tls.is_complete();
        // A server's version switch comes before the keys of the flight it
        // answers with (RFC 9369 §4.1: all its CRYPTO frames go in the
        // negotiated version).
        if let (Side::Server, Some(Ok(p))) = (self.side, &params) {
            let v = negotiated_version(
                self.vneg.original,
                p,
                &self.config.transport.supported_versions,
            );
            if v != self.version {
                if let Err(e) = self.switch_server_version(v) {
                    return self.fail(e, now);
                }
            }
        }
        for y in secrets {
            if let Err(e) = self.install_secret(y) {
                return self.fail(e, now);
            }
        }
        for (space, bytes) in outgoing {
            let s = &mut self.spaces[space as usize];
            if !bytes.is_empty() && !s.discarded {
                s.crypto_send.write(&bytes);
            }
        }
        if let Err(e) = result {
            return self.fail(e, now);
        }
        if let Some(params) = params {
            match params.and_then(|p| self.apply_peer_params(p, now)) {
                Ok(()) => {}
                Err(e) => return self.fail(e, now),
            }
        }
        if complete && !self.hs.is_complete() {
            self.on_handshake_complete(now);
        }
        if self.hs.is_complete() {
            self.report_tickets();
            if let Some(tls) = &mut self.tls {
                tls.retire_if_done();
            }
        }
    }

    fn install_secret(&mut self, y: YieldedSecret) -> Result<(), TransportError> {
        let (level, phase) = match y.level {
            Level::Initial => ("initial", None),
            Level::Handshake => ("handshake", None),
            Level::ZeroRtt => ("0rtt", None),
            Level::OneRtt => ("1rtt", Some(0)),
        };
        self.qlog_keys(true, level, Some(y.write), phase, "tls");
        let space = match y.level {
            Level::Handshake => Space::Handshake,
            Level::OneRtt => Space::Application,
            Level::ZeroRtt => {
                let failed =
                    |_| TransportError::new(code::INTERNAL_ERROR, 0, "key derivation failed");
                let keys = DirectionalKeys::new(y.suite, self.version, &y.secret, y.write)
                    .map_err(failed)?;
                self.install_early_keys(keys, y.write);
                return Ok(());
            }
            // Initial secrets never come from TLS.
            Level::Initial => return Ok(()),
        };
        let failed = |_| TransportError::new(code::INTERNAL_ERROR, 0, "key derivation failed");
        let keys =
            DirectionalKeys::new(y.suite, self.version, &y.secret, y.write).map_err(failed)?;
        if space == Space::Application {
            self.key_gens
                .on_secret(y.suite, self.version, y.write, y.secret)
                .map_err(failed)?;
        }
        let s = &mut self.spaces[space as usize];
        if y.write {
            s.seal = Some(keys);
        } else {
            s.open = Some(keys);
        }
        if space == Space::Application && y.write {
            self.end_early_sending();
        }
        Ok(())
    }

    /// Checks and applies the peer's transport parameters (RFC 9000 §7.3,
    /// §7.4).
    fn apply_peer_params(
        &mut self,
        tp: TransportParameters,
        now: u64,
    ) -> Result<(), TransportError> {
        let bad = TransportError::transport_parameter;
        // RFC 9000 §7.3: connection ID authentication.
        if tp.initial_source_connection_id != Some(self.ids.peer_initial_scid) {
            return Err(bad("initial_source_connection_id does not match"));
        }
        if self.side == Side::Client {
            if tp.original_destination_connection_id != Some(self.ids.original_dcid) {
                return Err(bad("original_destination_connection_id does not match"));
            }
            if tp.retry_source_connection_id != self.ids.retry_accepted {
                return Err(bad("retry_source_connection_id does not match"));
            }
            if let Some(token) = tp.stateless_reset_token {
                self.peer_cids.set_initial_token(token);
            }
            if let Some(pa) = &tp.preferred_address {
                // RFC 9000 §18.2: not from a server with zero-length CIDs.
                if self.ids.peer_initial_scid.is_empty() {
                    return Err(bad("preferred_address with zero-length connection IDs"));
                }
                self.peer_cids.add_preferred(pa.cid, pa.reset_token);
            }
        }
        self.check_version_information(&tp)?;
        self.recovery.max_ack_delay = tp.max_ack_delay * 1_000_000;
        self.streams.on_peer_params(&tp);
        let pto = self.recovery.pto();
        self.idle.negotiate(
            self.config.transport.idle_timeout,
            tp.max_idle_timeout,
            now,
            pto,
        );
        self.qlog_peer_params(&tp);
        self.peer_params = Some(tp);
        Ok(())
    }

    /// RFC 9368 §4: the peer's Version Information against the versions in
    /// use, and a client's downgrade check after Version Negotiation.
    fn check_version_information(&self, tp: &TransportParameters) -> Result<(), TransportError> {
        let vn_error = |reason| TransportError::new(code::VERSION_NEGOTIATION_ERROR, 0, reason);
        let Some(vi) = &tp.version_information else {
            if self.side == Side::Client && self.vneg.reacted {
                return Err(vn_error("no version_information after Version Negotiation"));
            }
            return Ok(());
        };
        if self.side == Side::Server {
            if vi.chosen != self.vneg.original {
                return Err(vn_error("client's chosen version is not the one it used"));
            }
            return Ok(());
        }
        if vi.chosen != self.version {
            return Err(vn_error("server's chosen version is not the one in use"));
        }
        if self.vneg.reacted {
            // We would have picked the same version had the Version
            // Negotiation packet listed what the server really supports.
            let mut offered = vi.available.clone();
            offered.push(vi.chosen);
            let ours = self.available_versions();
            if version::choose_after_negotiation(&ours, &offered) != Some(self.version) {
                return Err(vn_error("version downgrade detected"));
            }
        }
        Ok(())
    }

    fn on_handshake_complete(&mut self, now: u64) {
        self.hs.complete();
        self.handshake_deadline = None;
        let (alpn, resumed) = match &self.tls {
            Some(t) => (t.alpn(), t.session_resumed()),
            None => (None, false),
        };
        // RFC 9001 §8.1: a client that offered ALPN needs an answer.
        if self.side == Side::Client && !self.config.tls.alpn_protocols.is_empty() && alpn.is_none()
        {
            return self.fail(
                TransportError::new(
                    code::CRYPTO_ERROR_BASE + u64::from(alert::NO_APPLICATION_PROTOCOL),
                    0,
                    "server selected no application protocol",
                ),
                now,
            );
        }
        if self.peer_params.is_none() {
            return self.fail(
                TransportError::new(
                    code::CRYPTO_ERROR_BASE + u64::from(alert::MISSING_EXTENSION),
                    0,
                    "no transport parameters",
                ),
                now,
            );
        }
        let early_data_accepted = match self.settle_early_data() {
            Ok(a) => a,
            Err(e) => return self.fail(e, now),
        };
        self.qlog_negotiated(alpn.as_deref());
        if alpn.is_some() {
            self.reports
                .events
                .push(Event::ProtocolNegotiated { alpn: alpn.clone() });
        }
        self.reports.events.push(Event::HandshakeCompleted {
            alpn,
            early_data_accepted,
            session_resumed: resumed,
        });
        if self.side == Side::Server {
            // RFC 9001 §4.1.2: the server's handshake is confirmed now,
            // and it owes HANDSHAKE_DONE.
            self.confirm_handshake(now);
            self.queue_new_token();
        }
        self.replenish_cids();
    }

    /// Issues connection IDs up to the peer's active_connection_id_limit,
    /// telling the application about each.
    pub(super) fn replenish_cids(&mut self) {
        let limit = self
            .peer_params
            .as_ref()
            .map_or(2, |p| p.active_connection_id_limit);
        for cid in self
            .local_cids
            .replenish(&*self.config.endpoint.random, limit)
        {
            self.reports.events.push(Event::ConnectionIdIssued { cid });
        }
    }

    /// The handshake is confirmed (RFC 9001 §4.1.2): Handshake keys go
    /// (§4.9.2).
    pub(super) fn confirm_handshake(&mut self, now: u64) {
        if !self.hs.confirm(self.side == Side::Server) {
            return;
        }
        self.discard_space(Space::Handshake, now);
        self.start_ticket_wait(now);
        self.probe_preferred_address(now);
    }

    /// Drops a space's keys and its packets in flight (RFC 9001 §4.9).
    pub(super) fn discard_space(&mut self, space: Space, now: u64) {
        if self.spaces[space as usize].discarded {
            return;
        }
        self.spaces[space as usize].discard();
        let level = ["initial", "handshake", "1rtt"][space as usize];
        self.qlog_keys(false, level, None, None, "tls");
        if space == Space::Initial {
            self.vneg.initial_open_original = None;
        }
        let status = self.status();
        self.recovery.discard_space(space, now, status);
    }

    /// Records a CONNECTION_CLOSE from the peer.
    pub(super) fn on_peer_close(
        &mut self,
        is_app: bool,
        error_code: u64,
        frame_type: u64,
        reason: &[u8],
        now: u64,
    ) {
        let err = CloseError {
            is_app,
            code: error_code,
            frame_type: (!is_app).then_some(frame_type),
            reason: reason[..reason.len().min(super::close::MAX_REASON_LEN)].to_vec(),
        };
        let cause = if is_app {
            Termination::PeerApplication
        } else {
            Termination::PeerTransport
        };
        self.enter_draining(err, cause, now);
    }
}

/// The version a server answers a client's first flight of `original` in:
/// its preference among the versions the client listed as compatible.
fn negotiated_version(original: u32, client: &TransportParameters, ours: &[u32]) -> u32 {
    let available = client
        .version_information
        .as_ref()
        .filter(|vi| vi.chosen == original)
        .map(|vi| vi.available.as_slice());
    version::choose_compatible(original, available, ours)
}
