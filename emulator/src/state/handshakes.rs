//! Handshakes: InviteAccountToOrganization, the OPEN → ACCEPTED | DECLINED | CANCELED |
//! EXPIRED state machine, DescribeHandshake and the ListHandshakesFor* operations.

use super::tags::check_tags;
use super::transfers::TransferOffer;
use super::validate::{check_handshake_id, is_account_id, is_email, paginate};
use super::{
    HANDSHAKE_TTL_DAYS, MAX_NOTES_LEN, MIN_DAILY_INVITATIONS, Organization, Page, State, Time, random_lower_alnum,
};
use crate::error::AwsError;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

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
    /// For a `TRANSFER_RESPONSIBILITY` handshake (a billing transfer invitation): what it
    /// offers. `None` for an invitation to join (`INVITE`).
    #[serde(default)]
    pub transfer: Option<TransferOffer>,
}

impl Handshake {
    /// The handshake's action: `INVITE` or `TRANSFER_RESPONSIBILITY`.
    pub fn action(&self) -> &'static str {
        if self.transfer.is_some() {
            "TRANSFER_RESPONSIBILITY"
        } else {
            "INVITE"
        }
    }

    /// Whether this is an invitation to join the organization.
    pub fn is_invite(&self) -> bool {
        self.transfer.is_none()
    }

    /// `arn:aws:organizations::<mgmt>:handshake/<org-id>/<action>/<h-id>`, the action in lower
    /// case (`invite`, `transfer_responsibility`; the model's pattern allows `[a-z_]{1,32}`).
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:handshake/{}/{}/{}",
            self.management_account_id,
            self.organization_id,
            self.action().to_ascii_lowercase(),
            self.id
        )
    }
}

/// Filter of the ListHandshakesFor* operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFilter {
    /// ActionType filter.
    pub action_type: Option<String>,
    /// ParentHandshakeId filter.
    pub parent_handshake_id: Option<String>,
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
    /// Whether `account_id` is the invited party of `h`: by ID, or by its root email (an
    /// account the seed does not list has the default email, see [`State::email_of`]).
    pub(super) fn target_matches(&self, h: &Handshake, account_id: &str) -> bool {
        match &h.target {
            Target::Account(id) => id == account_id,
            Target::Email(e) => self.email_of(account_id).eq_ignore_ascii_case(e),
        }
    }

    /// The account a target names, if the emulator can tell: the ID, or the account with
    /// that email.
    pub(super) fn target_account(&self, target: &Target) -> Option<String> {
        match target {
            Target::Account(id) => Some(id.clone()),
            Target::Email(e) => self.account_for_email(e),
        }
    }

    /// Whether two targets name the same party: the same ID or email, or an ID and the email
    /// of that account.
    fn same_party(&self, a: &Target, b: &Target) -> bool {
        a.id().eq_ignore_ascii_case(b.id())
            || self
                .target_account(a)
                .is_some_and(|x| self.target_account(b).is_some_and(|y| x == y))
    }

    /// Invitations counted against the daily limit: sent in the last 24 h and not accepted.
    pub fn invitations_in_last_24h(&self, org_id: &str, now: Time) -> usize {
        self.handshakes
            .values()
            .filter(|h| {
                h.organization_id == org_id
                    && h.is_invite()
                    && h.requested_at > now - TimeDelta::hours(24)
                    && h.state != HandshakeState::Accepted
            })
            .count()
    }

    /// InviteAccountToOrganization.
    pub fn invite(&mut self, caller: &str, input: InviteInput, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let target = parse_target(input.target_type.as_deref(), input.target_id.clone(), "")?;
        if input.notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "You provided a string parameter that is longer than allowed: Notes can be at most 1024 characters.",
            ));
        }
        check_tags(&input.tags)?;
        let org = self.caller_managed_org(caller)?.clone();
        self.check_can_invite(&org, &target, now)?;
        Ok(self.open_handshake(&org, target, input, now))
    }

    /// The organization's limits and its relation to the target, checked in AWS's order.
    fn check_can_invite(&self, org: &Organization, target: &Target, now: Time) -> Result<(), AwsError> {
        let already_member = match target {
            Target::Account(id) => self
                .accounts
                .get(id)
                .is_some_and(|a| a.organization_id.as_deref() == Some(&org.id)),
            Target::Email(e) => self.members(&org.id).iter().any(|a| a.email.eq_ignore_ascii_case(e)),
        };
        if already_member {
            return Err(already_in_an_organization());
        }
        let open: Vec<&Handshake> = self
            .handshakes
            .values()
            .filter(|h| h.organization_id == org.id && h.state == HandshakeState::Open && h.is_invite())
            .collect();
        // The same account by ID and by its email is one party: AWS's DuplicateHandshakeException
        // ("the invited account might already have a pending invitation from this organization").
        if open.iter().any(|h| self.same_party(&h.target, target)) {
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
        if self.members(&org.id).len() + open.len() + 1 > org.account_quota as usize {
            return Err(account_number_limit_exceeded());
        }
        Ok(())
    }

    /// Records a new OPEN invitation from `org` to `target`.
    fn open_handshake(&mut self, org: &Organization, target: Target, input: InviteInput, now: Time) -> Handshake {
        let mgmt = self.management_account(org).cloned();
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
            transfer: None,
        };
        self.handshakes.insert(id, h.clone());
        h
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

    /// One page of the handshakes `keep` selects, filtered as ListHandshakesFor* filter.
    fn handshakes_page(
        &self,
        keep: impl Fn(&Handshake) -> bool,
        filter: &HandshakeFilter,
        max: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<Handshake>, AwsError> {
        check_filter(filter)?;
        let list = self
            .handshakes
            .values()
            .filter(|h| keep(h))
            .filter(|h| match (&filter.action_type, &filter.parent_handshake_id) {
                (Some(a), _) => a == h.action(),
                // Invitations and transfer invitations have no parent handshake.
                (None, Some(_)) => false,
                (None, None) => true,
            })
            .cloned()
            .collect();
        paginate(list, |h| h.seq, "hs-", max, token)
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
        self.handshakes_page(|h| h.organization_id == org, filter, max, token)
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
        self.handshakes_page(|h| self.target_matches(h, caller), filter, max, token)
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

    /// Ends an OPEN handshake as if its 15 days had passed (control API: an expiry without
    /// moving the clock). Fails with HandshakeNotFound / InvalidHandshakeTransition.
    pub fn expire_handshake(&mut self, id: &str, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let h = self
            .handshakes
            .get(id)
            .cloned()
            .ok_or_else(|| AwsError::handshake_not_found(id))?;
        Self::transition_check(&h, HandshakeState::Expired)?;
        Ok(self.end(id, HandshakeState::Expired, now))
    }

    /// Drops a handshake as AWS does 30 days after it ended ("Handshakes that are CANCELED,
    /// ACCEPTED, DECLINED, or EXPIRED show up in lists for only 30 days after entering that
    /// state. After that they are deleted": AWS Organizations API reference, Handshake), without
    /// moving the clock; an OPEN one is expired first. Returns the handshake as it was last.
    pub fn purge_handshake(&mut self, id: &str, now: Time) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let mut h = self
            .handshakes
            .remove(id)
            .ok_or_else(|| AwsError::handshake_not_found(id))?;
        if !h.state.is_ended() {
            h.state = HandshakeState::Expired;
            h.ended_at = Some(now);
        }
        self.sync_transfers();
        Ok(h)
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
        if h.transfer.is_some() {
            return self.accept_transfer_handshake(caller, &h, now);
        }
        let Some(org) = self.organizations.get(&h.organization_id).cloned() else {
            return Err(AwsError::client(
                "InvalidHandshakeTransitionException",
                "The organization that sent this handshake no longer exists.",
            ));
        };
        self.check_can_join(caller, &org)?;
        self.ensure_account(caller);
        if let Some(a) = self.accounts.get_mut(caller) {
            a.organization_id = Some(org.id.clone());
            a.joined_method = Some("INVITED".into());
            a.joined_at = Some(now);
            a.tags = h.tags.iter().cloned().collect();
        }
        Ok(self.end(id, HandshakeState::Accepted, now))
    }

    /// Whether account `caller` may join `org` now (its current organization, the quota).
    fn check_can_join(&self, caller: &str, org: &Organization) -> Result<(), AwsError> {
        // An account the seed does not list is a standalone account (see State::ensure_account).
        let current = self.accounts.get(caller).and_then(|a| a.organization_id.as_deref());
        if let Some(current) = current {
            if current == org.id {
                return Err(already_in_an_organization());
            }
            let is_mgmt = self
                .organizations
                .get(current)
                .is_some_and(|o| o.management_account_id == caller);
            if is_mgmt {
                return Err(AwsError::master_cannot_leave());
            }
            if !self.options.move_members_on_accept {
                return Err(already_in_an_organization());
            }
        }
        if self.members(&org.id).len() + 1 > org.account_quota as usize {
            return Err(account_number_limit_exceeded());
        }
        Ok(())
    }

    /// The OPEN invitation to `account_id` (by account ID or its email), optionally only
    /// from `org_id`; the most recent one if several organizations invited it.
    pub fn open_invite_for(&mut self, account_id: &str, org_id: Option<&str>, now: Time) -> Option<Handshake> {
        self.refresh(now);
        self.newest_open(account_id, |h| {
            h.is_invite() && org_id.is_none_or(|o| o == h.organization_id)
        })
    }

    /// The most recent open handshake to `account_id` (by ID or email) that `keep` selects.
    pub(super) fn newest_open(&self, account_id: &str, keep: impl Fn(&Handshake) -> bool) -> Option<Handshake> {
        self.handshakes
            .values()
            .filter(|h| h.state == HandshakeState::Open && keep(h) && self.target_matches(h, account_id))
            .max_by_key(|h| h.seq)
            .cloned()
    }
}

/// The invitation's target (an account invitation's or a billing transfer's), checked against
/// the model (Target.Type, then the ID's format). `party_hint` ends the message refusing an
/// ORGANIZATION party.
pub(super) fn parse_target(
    target_type: Option<&str>,
    target_id: Option<String>,
    party_hint: &str,
) -> Result<Target, AwsError> {
    let target_type =
        target_type.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Target.Type is required."))?;
    let target_id = target_id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Target.Id is required."))?;
    match target_type {
        "ACCOUNT" if is_account_id(&target_id) => Ok(Target::Account(target_id)),
        "ACCOUNT" => Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("The target account ID '{target_id}' doesn't match the required pattern ^\\d{{12}}$."),
        )),
        "EMAIL" if is_email(&target_id) => Ok(Target::Email(target_id)),
        "EMAIL" => Err(AwsError::invalid_input(
            "INVALID_EMAIL_ADDRESS_TARGET",
            format!("You specified an invalid email address for the invited account owner: {target_id}."),
        )),
        "ORGANIZATION" => Err(AwsError::invalid_input(
            "INVALID_PARTY_TYPE_TARGET",
            format!("You specified the wrong type of entity (account, organization, or email) as a party{party_hint}."),
        )),
        other => Err(AwsError::invalid_input(
            "INVALID_ENUM",
            format!("You specified an invalid value for Target.Type: {other}."),
        )),
    }
}

fn already_in_an_organization() -> AwsError {
    AwsError::handshake_constraint(
        "ALREADY_IN_AN_ORGANIZATION",
        "The handshake request is invalid because the invited account is already a member of an organization.",
    )
}

fn account_number_limit_exceeded() -> AwsError {
    AwsError::handshake_constraint(
        "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
        "You attempted to exceed the limit on the number of accounts in an organization.",
    )
}

/// The ListHandshakesFor* filter: one member at most, ActionType from the model's enum.
fn check_filter(filter: &HandshakeFilter) -> Result<(), AwsError> {
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
    Ok(())
}
