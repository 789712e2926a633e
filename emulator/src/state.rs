//! The pure model of the emulated world: organizations, accounts, handshakes, roles and
//! issued credentials. Every method takes the emulator's `now`; nothing here does I/O or
//! reads the wall clock, so the behaviour is unit- and property-testable.

use crate::error::AwsError;
use crate::seed::{Seed, SeedAccount, SeedError, SeedOrganization, SeedRole};
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
}

fn yes() -> bool {
    true
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            move_members_on_accept: true,
        }
    }
}

/// An AWS account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// 12-digit ID.
    pub id: String,
    /// Root email.
    pub email: String,
    /// Account name.
    pub name: String,
    /// The organization the account belongs to, if any.
    pub organization_id: Option<String>,
    /// `INVITED` or `CREATED`, when in an organization.
    pub joined_method: Option<String>,
    /// When it joined its organization.
    pub joined_at: Option<Time>,
    /// Tags (key → value) set on the account by its organization.
    pub tags: BTreeMap<String, String>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// `o-...`.
    pub id: String,
    /// Management account ID.
    pub management_account_id: String,
    /// `ALL` or `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    /// Account quota.
    pub account_quota: u32,
}

impl Organization {
    /// `arn:aws:organizations::<mgmt>:organization/<org-id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:organization/{}",
            self.management_account_id, self.id
        )
    }
}

/// Handshake states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HandshakeState {
    /// Waiting for the invitee.
    Open,
    /// Accepted by the invitee.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Canceled by the sender.
    Canceled,
    /// Not answered within 15 days.
    Expired,
}

impl HandshakeState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
        }
    }

    /// Whether the handshake has ended.
    pub fn is_ended(self) -> bool {
        self != Self::Open
    }
}

/// The invited party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A 12-digit account ID.
    Account(String),
    /// An email address.
    Email(String),
}

impl Target {
    /// `ACCOUNT` or `EMAIL`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Target::Account(_) => "ACCOUNT",
            Target::Email(_) => "EMAIL",
        }
    }

    /// The account ID or email.
    pub fn id(&self) -> &str {
        match self {
            Target::Account(s) | Target::Email(s) => s,
        }
    }
}

/// An invitation handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handshake {
    /// Creation order (used for stable pagination).
    pub seq: u64,
    /// `h-...`.
    pub id: String,
    /// Sending organization.
    pub organization_id: String,
    /// Sending organization's management account (at send time).
    pub management_account_id: String,
    /// Management account's email (at send time).
    pub management_email: String,
    /// Management account's name (at send time).
    pub management_name: String,
    /// Organization feature set (at send time).
    pub feature_set: String,
    /// Invited party.
    pub target: Target,
    /// Notes.
    pub notes: Option<String>,
    /// Tags to apply on join.
    pub tags: Vec<(String, String)>,
    /// Current state.
    pub state: HandshakeState,
    /// When sent.
    pub requested_at: Time,
    /// requested_at + 15 days.
    pub expires_at: Time,
    /// When it left OPEN.
    pub ended_at: Option<Time>,
}

impl Handshake {
    /// `arn:aws:organizations::<mgmt>:handshake/<org-id>/invite/<h-id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:handshake/{}/invite/{}",
            self.management_account_id, self.organization_id, self.id
        )
    }
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Owning account.
    pub account_id: String,
    /// Role name.
    pub name: String,
    /// Path, `/` by default.
    pub path: String,
    /// The trust policy document (JSON text).
    pub trust_policy: String,
    /// `AROA...`.
    pub role_id: String,
    /// Creation time.
    pub created_at: Time,
}

impl Role {
    /// `arn:aws:iam::<acct>:role<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account_id, self.path, self.name)
    }
}

/// Temporary credentials issued by AssumeRole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Access key ID (`ASIA...`).
    pub access_key_id: String,
    /// Secret key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// The assumed role's account.
    pub account_id: String,
    /// The assumed role.
    pub role_name: String,
    /// The role's ID.
    pub role_id: String,
    /// Session name.
    pub session_name: String,
    /// Expiry.
    pub expires_at: Time,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The account the caller acts as.
    pub account_id: String,
    /// The caller's ARN (a user `emulator` or an assumed-role session).
    pub arn: String,
    /// The principal's unique ID (for GetCallerIdentity).
    pub user_id: String,
}

/// Filter of the ListHandshakesFor* operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFilter {
    /// ActionType filter.
    pub action_type: Option<String>,
    /// ParentHandshakeId filter.
    pub parent_handshake_id: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page, if there are more.
    pub next_token: Option<String>,
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
    /// Roles by (account, name).
    pub roles: BTreeMap<(String, String), Role>,
    /// AssumeRole sessions by access key ID.
    pub sessions: BTreeMap<String, Session>,
    /// The first seeded organization (its management account is the default identity).
    pub default_organization: Option<String>,
    next_seq: u64,
}

fn random_lower_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn random_upper_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Whether `s` is a 12-digit account ID.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` matches `o-[a-z0-9]{10,32}`.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `s` matches `h-[0-9a-z]{8,32}`.
pub fn is_handshake_id(s: &str) -> bool {
    s.strip_prefix("h-")
        .is_some_and(|r| (8..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && s.len() <= 64
}

fn encode_token(prefix: &str, value: &str) -> String {
    format!("{prefix}{value}")
}

fn decode_token<'a>(prefix: &str, token: &'a str) -> Result<&'a str, AwsError> {
    token
        .strip_prefix(prefix)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::invalid_input("INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken."))
}

/// Validates MaxResults (1–20).
pub fn check_max_results(max: Option<i64>) -> Result<usize, AwsError> {
    match max {
        None => Ok(20),
        Some(n) if n < 1 => Err(AwsError::invalid_input(
            "MIN_VALUE_EXCEEDED",
            "You provided a value that is less than the minimum value allowed: MaxResults must be at least 1.",
        )),
        Some(n) if n > 20 => Err(AwsError::invalid_input(
            "MAX_VALUE_EXCEEDED",
            "You provided a value that exceeds the maximum value allowed: MaxResults must be at most 20.",
        )),
        Some(n) => Ok(n as usize),
    }
}

fn check_handshake_id(id: Option<&str>) -> Result<&str, AwsError> {
    let id = id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "HandshakeId is required."))?;
    if !is_handshake_id(id) {
        return Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("The HandshakeId '{id}' doesn't match the required pattern h-[0-9a-z]{{8,32}}."),
        ));
    }
    Ok(id)
}

fn check_account_id(id: Option<&str>) -> Result<&str, AwsError> {
    let id = id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "AccountId is required."))?;
    if !is_account_id(id) {
        return Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("The AccountId '{id}' doesn't match the required pattern ^\\d{{12}}$."),
        ));
    }
    Ok(id)
}

/// Input of InviteAccountToOrganization (already parsed from the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteInput {
    /// Target.Type.
    pub target_type: Option<String>,
    /// Target.Id.
    pub target_id: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
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
        Ok(())
    }

    fn make_account(a: &SeedAccount) -> Result<Account, SeedError> {
        if !is_account_id(&a.id) {
            return Err(SeedError::Invalid(format!("account ID {:?} is not 12 digits", a.id)));
        }
        Ok(Account {
            id: a.id.clone(),
            email: a
                .email
                .clone()
                .unwrap_or_else(|| format!("account-{}@example.com", a.id)),
            name: a.name.clone().unwrap_or_else(|| format!("Account {}", a.id)),
            organization_id: None,
            joined_method: None,
            joined_at: None,
            tags: BTreeMap::new(),
        })
    }

    /// Adds a standalone account. Fails if the ID is taken or invalid.
    pub fn add_account(&mut self, a: &SeedAccount) -> Result<Account, SeedError> {
        if self.accounts.contains_key(&a.id) {
            return Err(SeedError::Invalid(format!("account {} already exists", a.id)));
        }
        let acct = Self::make_account(a)?;
        self.accounts.insert(acct.id.clone(), acct.clone());
        Ok(acct)
    }

    /// Adds an organization with its management account and members (all must be new
    /// accounts). Returns the organization.
    pub fn add_organization(&mut self, o: &SeedOrganization, now: Time) -> Result<Organization, SeedError> {
        let id = match &o.id {
            Some(id) if !is_org_id(id) => {
                return Err(SeedError::Invalid(format!(
                    "organization ID {id:?} does not match o-[a-z0-9]{{10,32}}"
                )));
            }
            Some(id) => id.clone(),
            None => format!("o-{}", random_lower_alnum(10)),
        };
        if self.organizations.contains_key(&id) {
            return Err(SeedError::Invalid(format!("organization {id} already exists")));
        }
        let feature_set = o.feature_set.clone().unwrap_or_else(|| "ALL".into());
        if feature_set != "ALL" && feature_set != "CONSOLIDATED_BILLING" {
            return Err(SeedError::Invalid(format!(
                "feature set {feature_set:?} is not ALL or CONSOLIDATED_BILLING"
            )));
        }
        let mut all = vec![&o.management_account];
        all.extend(o.members.iter());
        let mut new_accounts = Vec::new();
        for a in all {
            if self.accounts.contains_key(&a.id) || new_accounts.iter().any(|n: &Account| n.id == a.id) {
                return Err(SeedError::Invalid(format!("account {} already exists", a.id)));
            }
            let mut acct = Self::make_account(a)?;
            acct.organization_id = Some(id.clone());
            acct.joined_method = Some("CREATED".into());
            acct.joined_at = Some(now);
            new_accounts.push(acct);
        }
        let org = Organization {
            id: id.clone(),
            management_account_id: o.management_account.id.clone(),
            feature_set,
            account_quota: o.account_quota.unwrap_or(DEFAULT_ACCOUNT_QUOTA),
        };
        for a in new_accounts {
            self.accounts.insert(a.id.clone(), a);
        }
        self.organizations.insert(id.clone(), org.clone());
        if self.default_organization.is_none() {
            self.default_organization = Some(id);
        }
        Ok(org)
    }

    /// Adds or replaces an IAM role in an existing account.
    pub fn add_role(&mut self, r: &SeedRole, now: Time) -> Result<Role, SeedError> {
        if !self.accounts.contains_key(&r.account_id) {
            return Err(SeedError::Invalid(format!(
                "role {}: account {} does not exist",
                r.name, r.account_id
            )));
        }
        let trust_policy = match &r.trust_policy {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let mut path = r.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        let role = Role {
            account_id: r.account_id.clone(),
            name: r.name.clone(),
            path,
            trust_policy,
            role_id: format!("AROA{}", random_upper_alnum(17)),
            created_at: now,
        };
        self.roles.insert((r.account_id.clone(), r.name.clone()), role.clone());
        Ok(role)
    }

    /// Updates the account quota of an organization.
    pub fn set_account_quota(&mut self, org_id: &str, quota: u32) -> bool {
        match self.organizations.get_mut(org_id) {
            Some(o) => {
                o.account_quota = quota;
                true
            }
            None => false,
        }
    }

    /// Deletes an organization that has no members besides its management account
    /// (which becomes standalone). Fails with OrganizationNotEmptyException otherwise.
    pub fn delete_organization(&mut self, org_id: &str) -> Result<(), AwsError> {
        let Some(org) = self.organizations.get(org_id).cloned() else {
            return Err(AwsError::client(
                "AWSOrganizationsNotInUseException",
                format!("No organization {org_id}."),
            ));
        };
        if self.members(org_id).iter().any(|a| a.id != org.management_account_id) {
            return Err(AwsError::client(
                "OrganizationNotEmptyException",
                "The organization isn't empty. To delete an organization, you must first remove all accounts except the management account.",
            ));
        }
        self.organizations.remove(org_id);
        if let Some(a) = self.accounts.get_mut(&org.management_account_id) {
            a.organization_id = None;
            a.joined_method = None;
            a.joined_at = None;
            a.tags.clear();
        }
        for h in self.handshakes.values_mut() {
            if h.organization_id == org_id && h.state == HandshakeState::Open {
                h.state = HandshakeState::Canceled;
                h.ended_at = Some(h.requested_at.max(h.ended_at.unwrap_or(h.requested_at)));
            }
        }
        if self.default_organization.as_deref() == Some(org_id) {
            self.default_organization = self.organizations.keys().next().cloned();
        }
        Ok(())
    }

    /// Members of an organization, management account included, sorted by ID.
    pub fn members(&self, org_id: &str) -> Vec<&Account> {
        self.accounts
            .values()
            .filter(|a| a.organization_id.as_deref() == Some(org_id))
            .collect()
    }

    /// Applies the passage of time: OPEN handshakes past their expiry become EXPIRED (ended
    /// at their expiration time); ended handshakes older than 30 days disappear.
    pub fn refresh(&mut self, now: Time) {
        for h in self.handshakes.values_mut() {
            if h.state == HandshakeState::Open && now >= h.expires_at {
                h.state = HandshakeState::Expired;
                h.ended_at = Some(h.expires_at);
            }
        }
        let horizon = TimeDelta::days(ENDED_VISIBILITY_DAYS);
        self.handshakes.retain(|_, h| match h.ended_at {
            Some(end) => now < end + horizon,
            None => true,
        });
        self.sessions.retain(|_, s| now < s.expires_at + TimeDelta::hours(1));
    }

    /// Resolves the caller from an access key ID (see README: 12 digits → that account;
    /// an AssumeRole key → the role's account; anything else → the default organization's
    /// management account).
    pub fn resolve_caller(&self, access_key_id: Option<&str>, now: Time) -> Result<Caller, AwsError> {
        if let Some(key) = access_key_id {
            if is_account_id(key) {
                return Ok(Caller {
                    account_id: key.to_string(),
                    arn: format!("arn:aws:iam::{key}:user/emulator"),
                    user_id: format!("AIDA{key}"),
                });
            }
            if let Some(s) = self.sessions.get(key) {
                if now >= s.expires_at {
                    return Err(AwsError::client(
                        "ExpiredTokenException",
                        "The security token included in the request is expired",
                    ));
                }
                return Ok(Caller {
                    account_id: s.account_id.clone(),
                    arn: format!(
                        "arn:aws:sts::{}:assumed-role/{}/{}",
                        s.account_id, s.role_name, s.session_name
                    ),
                    user_id: format!("{}:{}", s.role_id, s.session_name),
                });
            }
        }
        let account = self
            .default_organization
            .as_ref()
            .and_then(|o| self.organizations.get(o))
            .map(|o| o.management_account_id.clone())
            .unwrap_or_else(|| "000000000000".into());
        Ok(Caller {
            arn: format!("arn:aws:iam::{account}:user/emulator"),
            user_id: format!("AIDA{account}"),
            account_id: account,
        })
    }

    fn caller_org(&self, caller: &str) -> Result<&Organization, AwsError> {
        self.accounts
            .get(caller)
            .and_then(|a| a.organization_id.as_ref())
            .and_then(|o| self.organizations.get(o))
            .ok_or_else(AwsError::not_in_use)
    }

    fn caller_managed_org(&self, caller: &str) -> Result<&Organization, AwsError> {
        let org = self.caller_org(caller)?;
        if org.management_account_id != caller {
            return Err(AwsError::access_denied(
                "You don't have permissions to access this resource: this operation can be called only from the organization's management account.",
            ));
        }
        Ok(org)
    }

    /// DescribeOrganization.
    pub fn describe_organization(&self, caller: &str) -> Result<Organization, AwsError> {
        self.caller_org(caller).cloned()
    }

    /// The management account of an organization.
    pub fn management_account(&self, org: &Organization) -> Option<&Account> {
        self.accounts.get(&org.management_account_id)
    }

    fn target_matches(&self, h: &Handshake, account_id: &str) -> bool {
        match &h.target {
            Target::Account(id) => id == account_id,
            Target::Email(e) => self
                .accounts
                .get(account_id)
                .is_some_and(|a| a.email.eq_ignore_ascii_case(e)),
        }
    }

    /// Invitations counted against the daily limit: sent in the last 24 h and not accepted.
    pub fn invitations_in_last_24h(&self, org_id: &str, now: Time) -> usize {
        self.handshakes
            .values()
            .filter(|h| {
                h.organization_id == org_id
                    && h.requested_at > now - TimeDelta::hours(24)
                    && h.state != HandshakeState::Accepted
            })
            .count()
    }

    /// InviteAccountToOrganization.
    pub fn invite(&mut self, caller: &str, input: InviteInput, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let target_type = input
            .target_type
            .as_deref()
            .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Target.Type is required."))?;
        let target_id = input
            .target_id
            .clone()
            .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Target.Id is required."))?;
        let target = match target_type {
            "ACCOUNT" => {
                if !is_account_id(&target_id) {
                    return Err(AwsError::invalid_input(
                        "INVALID_PATTERN",
                        format!("The target account ID '{target_id}' doesn't match the required pattern ^\\d{{12}}$."),
                    ));
                }
                Target::Account(target_id)
            }
            "EMAIL" => {
                if !is_email(&target_id) {
                    return Err(AwsError::invalid_input(
                        "INVALID_EMAIL_ADDRESS_TARGET",
                        format!("You specified an invalid email address for the invited account owner: {target_id}."),
                    ));
                }
                Target::Email(target_id)
            }
            "ORGANIZATION" => {
                return Err(AwsError::invalid_input(
                    "INVALID_PARTY_TYPE_TARGET",
                    "You specified the wrong type of entity (account, organization, or email) as a party.",
                ));
            }
            other => {
                return Err(AwsError::invalid_input(
                    "INVALID_ENUM",
                    format!("You specified an invalid value for Target.Type: {other}."),
                ));
            }
        };
        if input.notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "You provided a string parameter that is longer than allowed: Notes can be at most 1024 characters.",
            ));
        }
        check_tags(&input.tags)?;
        let org = self.caller_managed_org(caller)?.clone();
        // The target already in this organization?
        let already_member = match &target {
            Target::Account(id) => self
                .accounts
                .get(id)
                .is_some_and(|a| a.organization_id.as_deref() == Some(&org.id)),
            Target::Email(e) => self.members(&org.id).iter().any(|a| a.email.eq_ignore_ascii_case(e)),
        };
        if already_member {
            return Err(AwsError::handshake_constraint(
                "ALREADY_IN_AN_ORGANIZATION",
                "The handshake request is invalid because the invited account is already a member of an organization.",
            ));
        }
        if self.handshakes.values().any(|h| {
            h.organization_id == org.id
                && h.state == HandshakeState::Open
                && h.target.id().eq_ignore_ascii_case(target.id())
        }) {
            return Err(AwsError::client(
                "DuplicateHandshakeException",
                "A handshake with the same action and target already exists.",
            ));
        }
        let daily = MIN_DAILY_INVITATIONS.max(org.account_quota) as usize;
        if self.invitations_in_last_24h(&org.id, now) >= daily {
            return Err(AwsError::handshake_constraint(
                "HANDSHAKE_RATE_LIMIT_EXCEEDED",
                "You attempted to exceed the number of handshakes that you can send in one day.",
            ));
        }
        let members = self.members(&org.id).len();
        let pending = self
            .handshakes
            .values()
            .filter(|h| h.organization_id == org.id && h.state == HandshakeState::Open)
            .count();
        if members + pending + 1 > org.account_quota as usize {
            return Err(AwsError::handshake_constraint(
                "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
                "You attempted to exceed the limit on the number of accounts in an organization.",
            ));
        }
        let mgmt = self.management_account(&org).cloned();
        self.next_seq += 1;
        let mut id = format!("h-{}", random_lower_alnum(10));
        while self.handshakes.contains_key(&id) {
            id = format!("h-{}", random_lower_alnum(10));
        }
        let h = Handshake {
            seq: self.next_seq,
            id: id.clone(),
            organization_id: org.id.clone(),
            management_account_id: org.management_account_id.clone(),
            management_email: mgmt.as_ref().map(|a| a.email.clone()).unwrap_or_default(),
            management_name: mgmt.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            feature_set: org.feature_set.clone(),
            target,
            notes: input.notes,
            tags: input.tags,
            state: HandshakeState::Open,
            requested_at: now,
            expires_at: now + TimeDelta::days(HANDSHAKE_TTL_DAYS),
            ended_at: None,
        };
        self.handshakes.insert(id, h.clone());
        Ok(h)
    }

    /// Whether `caller` may see handshake `h` (sender's management account or recipient).
    fn visible_to(&self, h: &Handshake, caller: &str) -> bool {
        self.is_sender(h, caller) || self.target_matches(h, caller)
    }

    fn is_sender(&self, h: &Handshake, caller: &str) -> bool {
        self.organizations
            .get(&h.organization_id)
            .is_some_and(|o| o.management_account_id == caller)
            || h.management_account_id == caller
    }

    /// DescribeHandshake.
    pub fn describe_handshake(&mut self, caller: &str, id: Option<&str>, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let id = check_handshake_id(id)?;
        match self.handshakes.get(id) {
            Some(h) if self.visible_to(h, caller) => Ok(h.clone()),
            _ => Err(AwsError::handshake_not_found(id)),
        }
    }

    fn filter_and_page(
        list: Vec<Handshake>,
        filter: &HandshakeFilter,
        max: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<Handshake>, AwsError> {
        if filter.action_type.is_some() && filter.parent_handshake_id.is_some() {
            return Err(AwsError::invalid_input(
                "MAX_LIMIT_EXCEEDED_FILTER",
                "You can specify only one filter parameter for the operation.",
            ));
        }
        if let Some(a) = &filter.action_type {
            const ACTIONS: [&str; 5] = [
                "INVITE",
                "ENABLE_ALL_FEATURES",
                "APPROVE_ALL_FEATURES",
                "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
                "TRANSFER_RESPONSIBILITY",
            ];
            if !ACTIONS.contains(&a.as_str()) {
                return Err(AwsError::invalid_input(
                    "INVALID_ENUM",
                    format!("You specified an invalid value for ActionType: {a}."),
                ));
            }
        }
        let max = check_max_results(max)?;
        let after: u64 = match token {
            Some(t) => decode_token("hs-", t)?.parse().map_err(|_| {
                AwsError::invalid_input("INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken.")
            })?,
            None => 0,
        };
        let mut list: Vec<Handshake> = list
            .into_iter()
            .filter(|_h| match (&filter.action_type, &filter.parent_handshake_id) {
                (Some(a), _) => a == "INVITE",
                // Invitations have no parent handshake.
                (None, Some(_)) => false,
                (None, None) => true,
            })
            .filter(|h| h.seq > after)
            .collect();
        list.sort_by_key(|h| h.seq);
        let more = list.len() > max;
        list.truncate(max);
        let next_token = if more {
            list.last().map(|h| encode_token("hs-", &h.seq.to_string()))
        } else {
            None
        };
        Ok(Page {
            items: list,
            next_token,
        })
    }

    /// ListHandshakesForOrganization (management account only).
    pub fn list_handshakes_for_organization(
        &mut self,
        caller: &str,
        filter: &HandshakeFilter,
        max: Option<i64>,
        token: Option<&str>,
        now: Time,
    ) -> Result<Page<Handshake>, AwsError> {
        self.refresh(now);
        let org = self.caller_managed_org(caller)?.id.clone();
        let list = self
            .handshakes
            .values()
            .filter(|h| h.organization_id == org)
            .cloned()
            .collect();
        Self::filter_and_page(list, filter, max, token)
    }

    /// ListHandshakesForAccount: handshakes the caller received.
    pub fn list_handshakes_for_account(
        &mut self,
        caller: &str,
        filter: &HandshakeFilter,
        max: Option<i64>,
        token: Option<&str>,
        now: Time,
    ) -> Result<Page<Handshake>, AwsError> {
        self.refresh(now);
        let list = self
            .handshakes
            .values()
            .filter(|h| self.target_matches(h, caller))
            .cloned()
            .collect();
        Self::filter_and_page(list, filter, max, token)
    }

    fn transition_check(h: &Handshake, wanted: HandshakeState) -> Result<(), AwsError> {
        if h.state == wanted {
            return Err(AwsError::client(
                "HandshakeAlreadyInStateException",
                format!(
                    "The specified handshake is already in the requested state: {}.",
                    wanted.as_str()
                ),
            ));
        }
        if h.state != HandshakeState::Open {
            return Err(AwsError::client(
                "InvalidHandshakeTransitionException",
                format!(
                    "You can't perform the operation on the handshake in its current state: the handshake is {} and can't become {}.",
                    h.state.as_str(),
                    wanted.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// CancelHandshake (sender only).
    pub fn cancel_handshake(&mut self, caller: &str, id: Option<&str>, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let id = check_handshake_id(id)?;
        let h = match self.handshakes.get(id) {
            Some(h) if self.visible_to(h, caller) => h.clone(),
            _ => return Err(AwsError::handshake_not_found(id)),
        };
        if !self.is_sender(&h, caller) {
            return Err(AwsError::access_denied(
                "Only the account that sent a handshake can cancel it.",
            ));
        }
        Self::transition_check(&h, HandshakeState::Canceled)?;
        Ok(self.end(id, HandshakeState::Canceled, now))
    }

    fn end(&mut self, id: &str, state: HandshakeState, now: Time) -> Handshake {
        match self.handshakes.get_mut(id) {
            Some(h) => {
                h.state = state;
                h.ended_at = Some(now);
                h.clone()
            }
            None => unreachable!("handshake checked before ending"),
        }
    }

    fn recipient_handshake(&self, caller: &str, id: &str) -> Result<Handshake, AwsError> {
        let h = match self.handshakes.get(id) {
            Some(h) if self.visible_to(h, caller) => h.clone(),
            _ => return Err(AwsError::handshake_not_found(id)),
        };
        if !self.target_matches(&h, caller) {
            return Err(AwsError::access_denied(
                "Only the invited account can respond to this handshake.",
            ));
        }
        Ok(h)
    }

    /// DeclineHandshake (recipient only).
    pub fn decline_handshake(&mut self, caller: &str, id: Option<&str>, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let id = check_handshake_id(id)?;
        let h = self.recipient_handshake(caller, id)?;
        Self::transition_check(&h, HandshakeState::Declined)?;
        Ok(self.end(id, HandshakeState::Declined, now))
    }

    /// AcceptHandshake (recipient only): the account joins the sending organization.
    pub fn accept_handshake(&mut self, caller: &str, id: Option<&str>, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let id = check_handshake_id(id)?;
        let h = self.recipient_handshake(caller, id)?;
        Self::transition_check(&h, HandshakeState::Accepted)?;
        let Some(org) = self.organizations.get(&h.organization_id).cloned() else {
            return Err(AwsError::client(
                "InvalidHandshakeTransitionException",
                "The organization that sent this handshake no longer exists.",
            ));
        };
        let Some(acct) = self.accounts.get(caller).cloned() else {
            // Callers the emulator knows nothing about have no account to move.
            return Err(AwsError::access_denied(format!(
                "Account {caller} is not known to the emulator."
            )));
        };
        if let Some(current) = acct.organization_id.as_deref() {
            if current == org.id {
                return Err(AwsError::handshake_constraint(
                    "ALREADY_IN_AN_ORGANIZATION",
                    "The handshake request is invalid because the invited account is already a member of an organization.",
                ));
            }
            let is_mgmt = self
                .organizations
                .get(current)
                .is_some_and(|o| o.management_account_id == caller);
            if is_mgmt {
                return Err(AwsError::master_cannot_leave());
            }
            if !self.options.move_members_on_accept {
                return Err(AwsError::handshake_constraint(
                    "ALREADY_IN_AN_ORGANIZATION",
                    "The handshake request is invalid because the invited account is already a member of an organization.",
                ));
            }
        }
        if self.members(&org.id).len() + 1 > org.account_quota as usize {
            return Err(AwsError::handshake_constraint(
                "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
                "You attempted to exceed the limit on the number of accounts in an organization.",
            ));
        }
        if let Some(a) = self.accounts.get_mut(caller) {
            a.organization_id = Some(org.id.clone());
            a.joined_method = Some("INVITED".into());
            a.joined_at = Some(now);
            a.tags = h.tags.iter().cloned().collect();
        }
        Ok(self.end(id, HandshakeState::Accepted, now))
    }

    /// The OPEN invitation to `account_id` (by account ID or its email), optionally only
    /// from `org_id`; the most recent one if several organizations invited it.
    pub fn open_invite_for(&mut self, account_id: &str, org_id: Option<&str>, now: Time) -> Option<Handshake> {
        self.refresh(now);
        self.handshakes
            .values()
            .filter(|h| h.state == HandshakeState::Open && self.target_matches(h, account_id))
            .filter(|h| org_id.is_none_or(|o| o == h.organization_id))
            .max_by_key(|h| h.seq)
            .cloned()
    }

    /// DescribeAccount (management account only; the account must be in the organization).
    pub fn describe_account(&mut self, caller: &str, id: Option<&str>) -> Result<(Account, Organization), AwsError> {
        let id = check_account_id(id)?;
        let org = self.caller_managed_org(caller)?.clone();
        match self.accounts.get(id) {
            Some(a) if a.organization_id.as_deref() == Some(&org.id) => Ok((a.clone(), org)),
            _ => Err(AwsError::account_not_found(id)),
        }
    }

    /// ListAccounts (management account only).
    pub fn list_accounts(
        &mut self,
        caller: &str,
        max: Option<i64>,
        token: Option<&str>,
    ) -> Result<(Page<Account>, Organization), AwsError> {
        let org = self.caller_managed_org(caller)?.clone();
        let max = check_max_results(max)?;
        let after = match token {
            Some(t) => Some(decode_token("acct-", t)?.to_string()),
            None => None,
        };
        let mut items: Vec<Account> = self
            .members(&org.id)
            .into_iter()
            .filter(|a| after.as_deref().is_none_or(|t| a.id.as_str() > t))
            .cloned()
            .collect();
        let more = items.len() > max;
        items.truncate(max);
        let next_token = if more {
            items.last().map(|a| encode_token("acct-", &a.id))
        } else {
            None
        };
        Ok((Page { items, next_token }, org))
    }

    fn detach(&mut self, account_id: &str) {
        if let Some(a) = self.accounts.get_mut(account_id) {
            a.organization_id = None;
            a.joined_method = None;
            a.joined_at = None;
            a.tags.clear();
        }
    }

    /// LeaveOrganization (a member account leaves its organization).
    pub fn leave_organization(&mut self, caller: &str) -> Result<(), AwsError> {
        let org = self.caller_org(caller)?;
        if org.management_account_id == caller {
            return Err(AwsError::master_cannot_leave());
        }
        self.detach(caller);
        Ok(())
    }

    /// RemoveAccountFromOrganization (management account only).
    pub fn remove_account(&mut self, caller: &str, id: Option<&str>) -> Result<(), AwsError> {
        let id = check_account_id(id)?;
        let org = self.caller_managed_org(caller)?.clone();
        if id == org.management_account_id {
            return Err(AwsError::master_cannot_leave());
        }
        match self.accounts.get(id) {
            Some(a) if a.organization_id.as_deref() == Some(&org.id) => {}
            _ => return Err(AwsError::account_not_found(id)),
        }
        self.detach(id);
        Ok(())
    }

    /// STS AssumeRole. The role's trust policy must allow the caller's account (see README).
    pub fn assume_role(
        &mut self,
        caller: &Caller,
        role_arn: Option<&str>,
        session_name: Option<&str>,
        external_id: Option<&str>,
        duration_seconds: Option<i64>,
        now: Time,
    ) -> Result<Session, AwsError> {
        self.refresh(now);
        let role_arn = role_arn.ok_or_else(|| {
            AwsError::query(
                "MissingParameter",
                400,
                "The request must contain the parameter RoleArn",
            )
        })?;
        let session_name = session_name.ok_or_else(|| {
            AwsError::query(
                "MissingParameter",
                400,
                "The request must contain the parameter RoleSessionName",
            )
        })?;
        if session_name.len() < 2
            || session_name.len() > 64
            || !session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c))
        {
            return Err(AwsError::query(
                "ValidationError",
                400,
                format!(
                    "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
                ),
            ));
        }
        let duration = duration_seconds.unwrap_or(3600);
        if !(900..=43200).contains(&duration) {
            return Err(AwsError::query(
                "ValidationError",
                400,
                format!(
                    "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
                ),
            ));
        }
        let denied = || {
            AwsError::query(
                "AccessDenied",
                403,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
            )
        };
        let (account, name) = parse_role_arn(role_arn)
            .ok_or_else(|| AwsError::query("ValidationError", 400, format!("{role_arn} is invalid")))?;
        let role = self
            .roles
            .get(&(account.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(denied)?;
        if !trust_allows(&role.trust_policy, &caller.account_id, external_id) {
            return Err(denied());
        }
        let session = Session {
            access_key_id: format!("ASIA{}", random_upper_alnum(16)),
            secret_access_key: random_lower_alnum(40),
            session_token: format!("FwoGZXIvYXdzE{}", random_lower_alnum(100)),
            account_id: role.account_id.clone(),
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.to_string(),
            expires_at: now + TimeDelta::seconds(duration),
        };
        self.sessions.insert(session.access_key_id.clone(), session.clone());
        Ok(session)
    }

    /// IAM GetRole in the caller's account.
    pub fn get_role(&self, caller: &Caller, name: Option<&str>) -> Result<Role, AwsError> {
        let name = name.ok_or_else(|| {
            AwsError::query("ValidationError", 400, "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
        })?;
        self.roles
            .get(&(caller.account_id.clone(), name.to_string()))
            .cloned()
            .ok_or_else(|| {
                AwsError::query(
                    "NoSuchEntity",
                    404,
                    format!("The role with name {name} cannot be found."),
                )
            })
    }
}

fn check_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > 50 {
        return Err(AwsError::with_reason(
            "ConstraintViolationException",
            "MAX_TAG_LIMIT_EXCEEDED",
            "You have exceeded the number of tags allowed on this resource.",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() {
            return Err(AwsError::invalid_input(
                "MIN_LENGTH_EXCEEDED",
                "Tag keys must be at least 1 character long.",
            ));
        }
        if k.chars().count() > 128 {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "Tag keys can be at most 128 characters long.",
            ));
        }
        if v.chars().count() > 256 {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "Tag values can be at most 256 characters long.",
            ));
        }
        if !seen.insert(k.as_str()) {
            return Err(AwsError::invalid_input(
                "DUPLICATE_TAG_KEY",
                format!("Tag key {k} is duplicated."),
            ));
        }
    }
    Ok(())
}

/// Parses `arn:aws:iam::<acct>:role/<path/><name>` into (account, name).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    (is_account_id(account) && !name.is_empty()).then_some((account, name))
}

/// Whether a trust policy lets `caller_account` assume the role, given the request's
/// ExternalId. A statement matches when its Effect is Allow, its Action includes
/// `sts:AssumeRole` (or `sts:*`/`*`), its Principal.AWS is `*`, the caller's account ID, or
/// any `arn:aws:iam::<caller_account>:...` ARN, and every `sts:ExternalId` condition
/// (StringEquals / StringLike, exact comparison) equals the given ExternalId.
pub fn trust_allows(policy: &str, caller_account: &str, external_id: Option<&str>) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    }
    statements.iter().any(|st| {
        if st.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
            return false;
        }
        let actions = strings(st.get("Action"));
        if !actions
            .iter()
            .any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*")
        {
            return false;
        }
        let principal = st.get("Principal");
        let principals = match principal {
            Some(serde_json::Value::String(s)) if s == "*" => vec!["*".to_string()],
            Some(p) => strings(p.get("AWS")),
            None => vec![],
        };
        let prefix = format!("arn:aws:iam::{caller_account}:");
        if !principals
            .iter()
            .any(|p| p == "*" || p == caller_account || p.starts_with(&prefix))
        {
            return false;
        }
        if let Some(cond) = st.get("Condition").and_then(|c| c.as_object()) {
            for (op, kv) in cond {
                let Some(kv) = kv.as_object() else { continue };
                for (key, val) in kv {
                    if key.eq_ignore_ascii_case("sts:ExternalId") {
                        if !(op == "StringEquals" || op == "StringLike") {
                            return false;
                        }
                        let wanted = strings(Some(val));
                        if !external_id.is_some_and(|e| wanted.iter().any(|w| w == e)) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> Time {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn id_patterns() {
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901a"));
        assert!(is_org_id("o-abcdef1234"));
        assert!(!is_org_id("o-abc"));
        assert!(is_handshake_id("h-abcd1234"));
        assert!(!is_handshake_id("h-ABCD1234"));
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/a/b/Name"),
            Some(("123456789012", "Name"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::123:role/Name"), None);
    }

    #[test]
    fn trust_policy_evaluation() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}"#;
        assert!(trust_allows(p, "111111111111", Some("x")));
        assert!(!trust_allows(p, "111111111111", Some("y")));
        assert!(!trust_allows(p, "111111111111", None));
        assert!(!trust_allows(p, "222222222222", Some("x")));
        let open = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole"]}}"#;
        assert!(trust_allows(open, "999999999999", None));
        assert!(!trust_allows("not json", "999999999999", None));
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        assert!(!trust_allows(deny, "999999999999", None));
    }

    #[test]
    fn caller_resolution() {
        let seed = Seed {
            organizations: vec![SeedOrganization {
                id: Some("o-aaaaaaaaaa".into()),
                management_account: SeedAccount::new("111111111111"),
                members: vec![],
                account_quota: None,
                feature_set: None,
            }],
            ..Seed::default()
        };
        let s = State::from_seed(&seed, ModelOptions::default(), t0()).unwrap();
        assert_eq!(
            s.resolve_caller(Some("222222222222"), t0()).unwrap().account_id,
            "222222222222"
        );
        assert_eq!(
            s.resolve_caller(Some("AKIAEXAMPLE"), t0()).unwrap().account_id,
            "111111111111"
        );
        assert_eq!(s.resolve_caller(None, t0()).unwrap().account_id, "111111111111");
    }

    #[test]
    fn seed_validation() {
        let bad = Seed {
            accounts: vec![SeedAccount::new("12")],
            ..Seed::default()
        };
        assert!(State::from_seed(&bad, ModelOptions::default(), t0()).is_err());
        let dup = Seed {
            accounts: vec![SeedAccount::new("123456789012"), SeedAccount::new("123456789012")],
            ..Seed::default()
        };
        assert!(State::from_seed(&dup, ModelOptions::default(), t0()).is_err());
        let bad_org = Seed {
            organizations: vec![SeedOrganization {
                id: Some("org-1".into()),
                management_account: SeedAccount::new("111111111111"),
                members: vec![],
                account_quota: None,
                feature_set: None,
            }],
            ..Seed::default()
        };
        assert!(State::from_seed(&bad_org, ModelOptions::default(), t0()).is_err());
    }

    #[test]
    fn tags_are_validated() {
        assert!(check_tags(&[("a".into(), "b".into())]).is_ok());
        assert_eq!(
            check_tags(&[("a".into(), "b".into()), ("a".into(), "c".into())])
                .unwrap_err()
                .reason,
            Some("DUPLICATE_TAG_KEY")
        );
        assert_eq!(
            check_tags(&[("k".repeat(129), String::new())]).unwrap_err().reason,
            Some("MAX_LENGTH_EXCEEDED")
        );
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(check_tags(&many).unwrap_err().code, "ConstraintViolationException");
    }
}
