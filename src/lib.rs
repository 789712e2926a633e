//! aws-invite-operator: brings existing AWS accounts into an AWS Organization.
pub mod api;
pub mod aws;
pub mod controller;
pub mod reconcile;
pub mod runtime;
pub mod telemetry;

/// Selects rustls's process-wide crypto provider (ring). Both kube and the AWS SDK use rustls
/// and the build links two providers, so one must be chosen before the first TLS client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
