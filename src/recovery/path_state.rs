//! What loss recovery keeps per network path (RFC 9000 §9.4): the RTT
//! estimate, the congestion controller with the reduction it may still
//! undo, and the pacer. A move to a new path replaces it whole; loss
//! detection's packet records stay with the connection, as packet numbers
//! span paths.
//!
//! Why it lives in `Recovery` and not in `conn::Path` (the addresses,
//! validation and amplification budget of a path): data only ever flows
//! on one path at a time, and §9.4 allows exactly that, "a single
//! congestion control context and a single loss recovery context",
//! switched when the connection moves (`Recovery::reset_path`). Every ACK
//! and loss updates this state and the packet records together, so
//! keeping them in one place spares each recovery call a second borrow.
//! Probes are not congestion controlled: they carry PATH_CHALLENGE only,
//! on their own timer (§9.4's exception), bounded by the amplification
//! limit. ECN validation (RFC 9000 §13.4.2) is here too: it is judged from
//! the ACKs of the packets this state tracks, and a new path tests again.
//! State that belongs to an address rather than to the flow of data (the
//! PMTU) goes on `conn::Path`.

use super::congestion::{Algorithm, Controller};
use super::ecn::EcnValidation;
use super::pacer::Pacer;
use super::rtt::RttEstimator;
use super::Space;

/// The congestion state of one path.
#[derive(Debug)]
pub struct PathState {
    /// The RTT estimate.
    pub rtt: RttEstimator,
    /// The congestion controller.
    pub cc: Controller,
    /// How to undo the last reduction, should its losses all prove
    /// spurious.
    pub(super) undo: Option<Undo>,
    pub(super) pacer: Pacer,
    /// Whether this path carries our ECN marks.
    pub(super) ecn: EcnValidation,
}

impl PathState {
    /// A path with no sample yet: `initial_rtt`, the initial window.
    pub fn new(initial_rtt: u64, algorithm: Algorithm, mds: u64) -> Self {
        Self {
            rtt: RttEstimator::new(initial_rtt),
            cc: Controller::new(algorithm, mds),
            undo: None,
            pacer: Pacer::default(),
            ecn: EcnValidation::new(true),
        }
    }
}

/// The window before a reduction, and what must prove spurious to restore
/// it.
#[derive(Debug)]
pub(super) struct Undo {
    pub(super) prior: Controller,
    pub(super) space: Space,
    /// The lowest packet number of the losses that caused it.
    pub(super) first_pn: u64,
    /// Its episode's losses not yet found spurious.
    pub(super) outstanding: u64,
}
