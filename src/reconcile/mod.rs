//! Pure decisions: what to do next and what the status says, from what was observed.
//! No I/O here; `controller` performs what these functions decide.

pub mod conditions;
pub mod invite;
pub mod profile;
pub mod standing;
pub mod transfer;
