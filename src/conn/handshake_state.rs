//! Where the handshake stands (RFC 9001 §4.1.1, §4.1.2): not started (a
//! client before `connect`, a server before the client's first Initial),
//! running, complete, confirmed; what the client learns on the way (its address
//! validated) and what the server owes at the end (HANDSHAKE_DONE).

/// The handshake's progress, only ever forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum HandshakeState {
    /// No TLS yet: a client that has not connected, a server waiting for
    /// the Initial that makes it.
    #[default]
    NotStarted,
    /// TLS runs. Client: `acked` once the server acknowledged one of our
    /// Handshake packets, which proves our address (RFC 9002 §A.6).
    Running { acked: bool },
    /// TLS completed; a client waits for confirmation.
    Complete { acked: bool },
    /// Confirmed (RFC 9001 §4.1.2): Handshake keys are gone. Server:
    /// HANDSHAKE_DONE is owed while `done_owed`.
    Confirmed { done_owed: bool },
}

impl HandshakeState {
    /// TLS started (a client connected, a server accepted an Initial).
    pub(super) fn start(&mut self) {
        if *self == HandshakeState::NotStarted {
            *self = HandshakeState::Running { acked: false };
        }
    }

    pub(super) fn is_started(&self) -> bool {
        *self != HandshakeState::NotStarted
    }

    /// TLS completed (confirmed included).
    pub(super) fn is_complete(&self) -> bool {
        matches!(
            self,
            HandshakeState::Complete { .. } | HandshakeState::Confirmed { .. }
        )
    }

    pub(super) fn is_confirmed(&self) -> bool {
        matches!(self, HandshakeState::Confirmed { .. })
    }

    /// Client: the server has validated our address (a Handshake packet
    /// of ours acknowledged, or the handshake confirmed).
    pub(super) fn address_proven(&self) -> bool {
        match *self {
            HandshakeState::NotStarted => false,
            HandshakeState::Running { acked } | HandshakeState::Complete { acked } => acked,
            HandshakeState::Confirmed { .. } => true,
        }
    }

    /// Client: one of our Handshake packets was acknowledged.
    pub(super) fn on_handshake_acked(&mut self) {
        match self {
            HandshakeState::Running { acked } | HandshakeState::Complete { acked } => *acked = true,
            HandshakeState::NotStarted | HandshakeState::Confirmed { .. } => {}
        }
    }

    /// TLS completed.
    pub(super) fn complete(&mut self) {
        if let HandshakeState::Running { acked } = *self {
            *self = HandshakeState::Complete { acked };
        }
    }

    /// The handshake is confirmed; a server then owes HANDSHAKE_DONE.
    /// False when it was already.
    pub(super) fn confirm(&mut self, server: bool) -> bool {
        if self.is_confirmed() {
            return false;
        }
        *self = HandshakeState::Confirmed { done_owed: server };
        true
    }

    /// Server: HANDSHAKE_DONE waits to be sent.
    pub(super) fn done_owed(&self) -> bool {
        matches!(self, HandshakeState::Confirmed { done_owed: true })
    }

    /// Server: HANDSHAKE_DONE was sent (false) or lost (true).
    pub(super) fn set_done_owed(&mut self, owed: bool) {
        if let HandshakeState::Confirmed { done_owed } = self {
            *done_owed = owed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_only_goes_forward() {
        let mut h = HandshakeState::default();
        assert!(!h.is_started() && !h.is_complete() && !h.address_proven());
        h.complete();
        assert!(!h.is_complete(), "not before it started");
        h.start();
        assert!(h.is_started() && !h.is_complete() && !h.address_proven());
        h.on_handshake_acked();
        assert!(h.address_proven());
        h.complete();
        assert!(h.is_complete() && !h.is_confirmed() && h.address_proven());
        assert!(h.confirm(true));
        assert!(h.done_owed());
        h.set_done_owed(false);
        assert!(!h.done_owed());
        assert!(!h.confirm(true), "confirmed once");
        assert!(!h.done_owed(), "a second confirmation owes nothing");
        h.complete();
        assert!(h.is_confirmed(), "never back");
    }
}
