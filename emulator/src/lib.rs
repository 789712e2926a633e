//! orgs-emulator: a local AWS Organizations (+ STS AssumeRole / IAM GetRole) emulator that
//! speaks AWS's wire protocols, so the real AWS SDK clients talk to it unchanged.
//!
//! Start it in-process with [`Emulator::start`], point the SDKs' `endpoint_url` at
//! [`RunningEmulator::url`], and drive the other side (the invited account, the clock,
//! faults) with [`ControlClient`]. See README.md for the wire-level details.

#![forbid(unsafe_code)]

pub mod api;
mod call;
pub mod client;
mod control;
mod endpoint;
pub mod error;
mod jwks;
mod model;
mod ops;
mod pod_identity;
pub mod ratelimit;
pub mod seed;
mod server;
mod shared;
pub mod state;
pub mod wire;

pub use api::{CallRecord, Fault, FaultKind, FaultWhen, HandshakeInfo, TransferInfo};
pub use client::{ControlClient, ControlError};
pub use error::AwsError;
pub use seed::{
    Seed, SeedAccount, SeedError, SeedOidcProvider, SeedOrganization, SeedPodIdentityAssociation, SeedRole,
};
pub use server::{Emulator, EmulatorConfig, RunningEmulator, StartError};
pub use state::{ModelOptions, ResponseShape, State};
