//! Talking to AWS: per-profile clients, error classes, the handshake observer and the IAM
//! access check. Everything that is not I/O (indexes, classification, policy checks) is pure
//! and tested without AWS.

mod handshake;

pub use handshake::{Handshake, HandshakeState};
