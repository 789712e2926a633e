//! Process runtime: the health/metrics HTTP server, leader election on a Lease and shutdown
//! signals.

pub mod http;
pub mod leader;
pub mod shutdown;
