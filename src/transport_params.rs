//! TPs.
