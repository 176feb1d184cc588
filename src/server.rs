//! Stateless server helpers.
