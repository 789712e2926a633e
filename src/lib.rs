//! aws-invite-operator: brings existing AWS accounts into an AWS Organization.

#![forbid(unsafe_code)]

pub mod api;
pub mod aws;
pub mod controller;
pub mod handshake;
pub mod reason;
pub mod reconcile;
pub mod runtime;
pub mod telemetry;
pub mod tenancy;
pub mod transfer;
