//! Process runtime: the health/metrics HTTP server, leader election on a Lease and shutdown
//! signals.

pub mod http;
pub mod leader;
pub mod metrics_access;
pub mod shutdown;

/// Installs `ring` as the process-wide rustls crypto provider.
///
/// Both `ring` (kube) and `aws-lc-rs` (the AWS SDK) are linked, so rustls cannot choose one by
/// itself and panics when the first TLS client config is built. Call this once at start-up (and
/// in tests) before creating a `kube::Client`; later calls do nothing.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
