//! The pure model of the emulated world: organizations, accounts, handshakes, roles and
//! issued credentials. Every method takes the emulator's `now`; nothing here does I/O or
//! reads the wall clock, so the behaviour is unit- and property-testable.
//!
//! One module per concern, each adding its own `impl State` block:
//! [`orgs`] (organizations and accounts), [`handshakes`] (invitations and their state machine),
//! [`sts_iam`] (callers, roles, AssumeRole), [`web_identity`] (OIDC providers,
//! AssumeRoleWithWebIdentity), [`tags`] (tags on accounts and the root) and
//! [`validate`] (input checks and paging).

mod handshakes;
mod orgs;
mod pod_identity;
mod sts_iam;
mod tags;
mod transfers;
mod validate;
mod web_identity;

pub use handshakes::{Handshake, HandshakeFilter, HandshakeState, InviteInput, Target};
pub use orgs::{Account, Organization};
pub use pod_identity::{POD_IDENTITY_AUDIENCE, PodIdentityAssociation, pod_identity_trust_allows};
pub use sts_iam::{Caller, Role, Session, parse_role_arn, trust_allows};
pub use tags::MAX_TAGS_PER_RESOURCE;
pub use transfers::{
    ACCEPT_LEAD_HOURS, Side, Transfer, TransferInviteInput, TransferOffer, TransferStatus, is_transfer_id, month_end,
    month_start,
};
pub use validate::{Page, check_max_results, is_account_id, is_handshake_id, is_org_id};
pub use web_identity::{
    KeySource, OidcProvider, STS_AUDIENCE, VerificationKey, WebIdentityRequest, WebIdentitySession, issuer_host_path,
    unverified_issuer, web_identity_trust_allows,
};

use crate::seed::{Seed, SeedError};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Emulator time.
pub type Time = DateTime<Utc>;

/// How long an invitation stays OPEN.
pub const HANDSHAKE_TTL_DAYS: i64 = 15;
/// How long an ended handshake stays visible.
pub const ENDED_VISIBILITY_DAYS: i64 = 30;
/// AWS's default account quota for a new organization.
pub const DEFAULT_ACCOUNT_QUOTA: u32 = 10;
/// Minimum number of invitations per rolling 24 h.
pub const MIN_DAILY_INVITATIONS: u32 = 20;
/// Maximum length of invitation notes.
pub const MAX_NOTES_LEN: usize = 1024;

/// Behavioural switches of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOptions {
    /// When a member of another organization accepts an invitation: `true` moves it directly
    /// (AWS's current behaviour: the account departs its organization and joins the new one);
    /// `false` fails with HandshakeConstraintViolationException ALREADY_IN_AN_ORGANIZATION
    /// (AWS's historical behaviour: the account must leave first).
    #[serde(default = "yes")]
    pub move_members_on_accept: bool,
    /// How Organizations answers are shaped: each switch reshapes them in a way the AWS
    /// Organizations model allows (lists are lists, not promised in number or order; optional
    /// members may be absent), so a client can be tested against answers unlike this
    /// emulator's defaults (and AWS's examples).
    #[serde(default)]
    pub response_shape: ResponseShape,
}

/// Reshaping of Organizations answers within what the model allows (see [`ModelOptions`]).
/// All off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseShape {
    /// A handshake lists the organization's management account as an ACCOUNT party and an
    /// ACCOUNT resource, before the invitee (as an independent emulator does).
    pub management_party_first: bool,
    /// A handshake's parties and top-level resources in reverse order.
    pub reversed: bool,
    /// The invitee is named only in the resources (no ACCOUNT party for it), as for an
    /// invitation sent to an email address.
    pub invitee_in_resources_only: bool,
    /// Optional members omitted: a handshake keeps only Id, State, Parties and Resources; an
    /// Account only its Id; an Organization only Id and MasterAccountId.
    pub omit_optional: bool,
    /// Every list answer carries the same NextToken, forever (a paginator must not loop).
    pub looping_next_token: bool,
}

fn yes() -> bool {
    true
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            move_members_on_accept: true,
            response_shape: ResponseShape::default(),
        }
    }
}

/// The whole emulated world.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Behavioural switches.
    pub options: ModelOptions,
    /// Organizations by ID.
    pub organizations: BTreeMap<String, Organization>,
    /// Accounts by ID.
    pub accounts: BTreeMap<String, Account>,
    /// Handshakes by ID.
    pub handshakes: BTreeMap<String, Handshake>,
    /// Billing (responsibility) transfers by ID.
    pub transfers: BTreeMap<String, Transfer>,
    /// Roles by (account, name).
    pub roles: BTreeMap<(String, String), Role>,
    /// IAM OIDC identity providers by (account, issuer host/path).
    pub oidc_providers: BTreeMap<(String, String), OidcProvider>,
    /// EKS pod identity associations.
    pub pod_identity_associations: Vec<PodIdentityAssociation>,
    /// AssumeRole sessions by access key ID.
    pub sessions: BTreeMap<String, Session>,
    /// The first seeded organization (its management account is the default identity).
    pub default_organization: Option<String>,
    next_seq: u64,
}

/// `n` random characters from `chars`.
fn random_string(chars: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

fn random_lower_alnum(n: usize) -> String {
    random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", n)
}

fn random_upper_alnum(n: usize) -> String {
    random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
}

impl State {
    /// Builds a state from a seed.
    pub fn from_seed(seed: &Seed, options: ModelOptions, now: Time) -> Result<Self, SeedError> {
        let mut s = State {
            options,
            ..State::default()
        };
        s.apply_seed(seed, now)?;
        Ok(s)
    }

    /// Adds everything in `seed` to the state.
    pub fn apply_seed(&mut self, seed: &Seed, now: Time) -> Result<(), SeedError> {
        for org in &seed.organizations {
            self.add_organization(org, now)?;
        }
        for acct in &seed.accounts {
            self.add_account(acct)?;
        }
        for role in &seed.roles {
            self.add_role(role, now)?;
        }
        for provider in &seed.oidc_providers {
            self.add_oidc_provider(provider)?;
        }
        for association in &seed.pod_identity_associations {
            self.add_pod_identity_association(association)?;
        }
        Ok(())
    }

    /// Applies the passage of time: OPEN handshakes past their expiry become EXPIRED (ended
    /// at their expiration time), and requested transfers follow their handshakes; ended
    /// handshakes older than 30 days disappear (transfers stay).
    pub fn refresh(&mut self, now: Time) {
        for h in self.handshakes.values_mut() {
            if h.state == HandshakeState::Open && now >= h.expires_at {
                h.state = HandshakeState::Expired;
                h.ended_at = Some(h.expires_at);
            }
        }
        self.sync_transfers();
        let horizon = TimeDelta::days(ENDED_VISIBILITY_DAYS);
        self.handshakes.retain(|_, h| match h.ended_at {
            Some(end) => now < end + horizon,
            None => true,
        });
        self.sessions.retain(|_, s| now < s.expires_at + TimeDelta::hours(1));
    }
}
