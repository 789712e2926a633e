//! Talking to AWS: per-profile clients, error classes, the handshake observer and the IAM
//! access check. Everything that is not I/O (indexes, classification, policy checks) is pure
//! and tested without AWS.

mod calls;
mod client;
mod error;
mod handshake_index;
mod iam_access;
mod membership_index;
mod observer;
mod organizations;
mod rate_limit;
mod sweep_gate;
mod transfer_observer;
mod transfers;
mod trust_policy;

pub use crate::handshake::{Handshake, HandshakeState};
pub use calls::{AwsAction, AwsCallObserver, NoopObserver};
pub use client::{
    ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, DEFAULT_REGION, DEFAULT_SESSION_NAME, MAX_ATTEMPTS, OPERATION_TIMEOUT,
    ProfileClients, StaticKeys, retry_config, timeout_config,
};
pub use error::{AwsError, Classification, ErrorClass, Transport, classify};
pub use handshake_index::{Changes, HandshakeIndex, QUOTA_WINDOW};
pub use iam_access::{IamCheck, verify_member_role};
pub use membership_index::MembershipIndex;
pub use observer::{HandshakeObserver, ProfileView, SweepError, spawn_profile_poller};
pub use organizations::{MAX_PAGES, MemberAccount, OrganizationInfo, convert_handshake, invited_account, to_timestamp};
pub use rate_limit::{OperationGroup, RateLimiter};
pub use transfer_observer::{TransferObserver, TransferView, customer_of, spawn_transfer_poller};
pub use transfers::{TransferInvitation, TransferTarget, convert_transfer, handshake_transfer_id};
pub use trust_policy::{Refusal, Verdict, evaluate as evaluate_trust_policy};
