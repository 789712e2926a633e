//! Billing transfers (AWS Organizations "responsibility transfers", docs/billing-transfer.md):
//! InviteOrganizationToTransferResponsibility sends a `TRANSFER_RESPONSIBILITY` handshake from
//! the payer's management account (the bill-transfer account, the transfer's *Target*) to a
//! customer's management account (the bill-source account, the transfer's *Source*), and
//! records a transfer that follows the handshake: `REQUESTED` while it is open, then
//! `ACCEPTED`, `DECLINED`, `CANCELED` or `EXPIRED`; TerminateResponsibilityTransfer makes an
//! accepted transfer `WITHDRAWN` with an end at the end of a month.
//!
//! Dates (docs/billing-transfer.md "Dates"): a transfer starts at 00:00:00 UTC on the first
//! day of the next month or the one after; its invitation must be accepted at least 24 h
//! before the start, so the handshake expires at `start − 24 h`; an end is the last second of
//! the current or next month (counted from the later of now and the start).

use super::handshakes::{Handshake, HandshakeState, Target, parse_target};
use super::tags::check_tags;
use super::validate::{is_account_id, paginate};
use super::{MAX_NOTES_LEN, Organization, Page, State, Time, random_lower_alnum};
use crate::error::AwsError;
use chrono::{Datelike, TimeDelta, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// How long before its start a transfer invitation must be accepted.
pub const ACCEPT_LEAD_HOURS: i64 = 24;
/// Longest transfer name (`ResponsibilityTransferName`: 1–128, `^[ -~]+$`).
pub const MAX_TRANSFER_NAME_LEN: usize = 128;

/// `ResponsibilityTransferStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferStatus {
    /// Invitation sent, not answered.
    Requested,
    /// Accepted: the payer manages the bill from the start.
    Accepted,
    /// Declined by the customer.
    Declined,
    /// Invitation canceled by the payer.
    Canceled,
    /// Invitation not accepted 24 h before the start.
    Expired,
    /// Accepted, then withdrawn by either side; ends at `end`.
    Withdrawn,
}

impl TransferStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }
}

/// What a `TRANSFER_RESPONSIBILITY` handshake offers (kept on the handshake so that it renders
/// without the transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOffer {
    /// The transfer's `rt-...` ID.
    pub transfer_id: String,
    /// `BILLING`.
    pub transfer_type: String,
    /// When the transfer starts.
    pub start: Time,
}

/// A responsibility transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// Creation order (stable pagination).
    pub seq: u64,
    /// `rt-...`.
    pub id: String,
    /// Name (`SourceName` at invitation, then UpdateResponsibilityTransfer).
    pub name: String,
    /// `BILLING`.
    pub transfer_type: String,
    /// Current status.
    pub status: TransferStatus,
    /// The invited party as the payer named it.
    pub invited: Target,
    /// The customer's management account, once known (at invitation for an account target,
    /// at acceptance for an email target).
    pub source_account_id: Option<String>,
    /// The customer's organization, once accepted.
    pub source_organization_id: Option<String>,
    /// The payer's management account (the inviter).
    pub target_account_id: String,
    /// The payer's management account email.
    pub target_email: String,
    /// The payer's organization.
    pub target_organization_id: String,
    /// Start (00:00:00 UTC on the first of a month).
    pub start: Time,
    /// End, once withdrawn.
    pub end: Option<Time>,
    /// The invitation's handshake.
    pub handshake_id: String,
    /// Tags given at invitation.
    pub tags: Vec<(String, String)>,
}

/// From whose side a transfer is seen: the payer sees it inbound, the customer outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The payer (bill-transfer account, the transfer's Target).
    Inbound,
    /// The customer (bill-source account, the transfer's Source).
    Outbound,
}

impl Transfer {
    /// The ARN as `side` sees it: `arn:aws:organizations::<acct>:transfer/<org>/billing/<side>/<id>`.
    pub fn arn(&self, side: Side) -> String {
        let (account, org, dir) = match side {
            Side::Inbound => (
                self.target_account_id.as_str(),
                self.target_organization_id.as_str(),
                "inbound",
            ),
            Side::Outbound => (
                self.source_account_id.as_deref().unwrap_or(""),
                self.source_organization_id.as_deref().unwrap_or(""),
                "outbound",
            ),
        };
        format!(
            "arn:aws:organizations::{account}:transfer/{org}/{}/{dir}/{}",
            self.transfer_type.to_ascii_lowercase(),
            self.id
        )
    }

    /// Whether the payer manages the customer's bill at `now` (accepted or withdrawn, started,
    /// not yet ended).
    pub fn in_effect(&self, now: Time) -> bool {
        matches!(self.status, TransferStatus::Accepted | TransferStatus::Withdrawn)
            && self.start <= now
            && self.end.is_none_or(|e| now <= e)
    }

    /// Whether the transfer still binds the two organizations (accepted, or withdrawn with its
    /// end ahead).
    pub fn is_active(&self, now: Time) -> bool {
        match self.status {
            TransferStatus::Accepted => true,
            TransferStatus::Withdrawn => self.end.is_some_and(|e| now <= e),
            _ => false,
        }
    }
}

/// Input of InviteOrganizationToTransferResponsibility (parsed from the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferInviteInput {
    /// Type (`BILLING`).
    pub transfer_type: Option<String>,
    /// Target.Type.
    pub target_type: Option<String>,
    /// Target.Id.
    pub target_id: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// StartTimestamp.
    pub start: Option<Time>,
    /// SourceName.
    pub source_name: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// 00:00:00 UTC on the first day of the month `months` after the month of `t`.
pub fn month_start(t: Time, months: i32) -> Time {
    let index = t.year() * 12 + t.month0() as i32 + months;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    Utc.with_ymd_and_hms(year, month0 as u32 + 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// 23:59:59 UTC on the last day of the month `months` after the month of `t`.
pub fn month_end(t: Time, months: i32) -> Time {
    month_start(t, months + 1) - TimeDelta::seconds(1)
}

/// Whether `t` is the last second (or millisecond) of a month: 23:59:59(.xxx) on its last day.
fn is_end_of_month(t: Time) -> bool {
    t.hour() == 23 && t.minute() == 59 && t.second() == 59 && (t + TimeDelta::days(1)).day() == 1
}

fn check_name(name: Option<&str>, field: &str) -> Result<String, AwsError> {
    let name = name.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", format!("{field} is required.")))?;
    if name.is_empty() {
        return Err(AwsError::invalid_input(
            "MIN_LENGTH_EXCEEDED",
            format!("{field} must be at least 1 character long."),
        ));
    }
    if name.len() > MAX_TRANSFER_NAME_LEN {
        return Err(AwsError::invalid_input(
            "MAX_LENGTH_EXCEEDED",
            format!("{field} can be at most 128 characters long."),
        ));
    }
    if !name.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("{field} doesn't match the required pattern ^[ -~]+$."),
        ));
    }
    Ok(name.to_string())
}

fn check_transfer_type(t: Option<&str>) -> Result<String, AwsError> {
    match t {
        None => Err(AwsError::invalid_input("INPUT_REQUIRED", "Type is required.")),
        Some("BILLING") => Ok("BILLING".into()),
        Some(other) => Err(AwsError::invalid_input(
            "INVALID_ENUM",
            format!("You specified an invalid value for Type: {other}."),
        )),
    }
}

/// Whether `s` matches `rt-[0-9a-z]{8,32}`.
pub fn is_transfer_id(s: &str) -> bool {
    s.strip_prefix("rt-")
        .is_some_and(|r| (8..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn check_transfer_id(id: Option<&str>) -> Result<&str, AwsError> {
    let id = id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Id is required."))?;
    if !is_transfer_id(id) {
        return Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("The Id '{id}' doesn't match the required pattern ^rt-[0-9a-z]{{8,32}}$."),
        ));
    }
    Ok(id)
}

fn transfer_not_found(id: &str) -> AwsError {
    AwsError::client(
        "ResponsibilityTransferNotFoundException",
        format!("We can't find a transfer that you specified: {id}."),
    )
}

fn already_exists() -> AwsError {
    AwsError::handshake_constraint(
        "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
        "You cannot perform this operation with the current transfer.",
    )
}

fn source_and_target_match() -> AwsError {
    AwsError::handshake_constraint(
        "SOURCE_AND_TARGET_CANNOT_MATCH",
        "An account can't accept a transfer invitation if it is both the sender and recipient of the invitation.",
    )
}

fn not_a_management_account() -> AwsError {
    AwsError::handshake_constraint(
        "TARGET_ACCOUNT_VALIDATION_FAILURE",
        "Billing transfer is not available for your account: the invited account must be the management account of an organization.",
    )
}

/// The start checks of the invitation, in AWS's order: beginning of day, first of the month,
/// then the window (the next month or the one after, with the 24 h acceptance time left).
fn check_start(start: Time, now: Time) -> Result<(), AwsError> {
    if start.num_seconds_from_midnight() != 0 || start.nanosecond() != 0 {
        return Err(AwsError::invalid_input(
            "START_DATE_NOT_BEGINNING_OF_DAY",
            "You provided an invalid start date. The start date must be the beginning of the day (00:00:00.000).",
        ));
    }
    if start.day() != 1 {
        return Err(AwsError::invalid_input(
            "START_DATE_NOT_BEGINNING_OF_MONTH",
            "You provided an invalid start date. The start date must be the first day of the month.",
        ));
    }
    if start < month_start(now, 1) || now >= start - TimeDelta::hours(ACCEPT_LEAD_HOURS) {
        return Err(AwsError::invalid_input(
            "START_DATE_TOO_EARLY",
            "You provided an invalid start date. The start date is too early: it must be the first day of the next month or the month after, at least 24 hours away.",
        ));
    }
    if start > month_start(now, 2) {
        return Err(AwsError::invalid_input(
            "START_DATE_TOO_LATE",
            "You provided an invalid start date. The start date is too late: it must be the first day of the next month or the month after.",
        ));
    }
    Ok(())
}

impl State {
    /// The root email of `account` ("" when the emulator does not know it).
    /// Whether `account` is the management account of an organization.
    fn manages_an_organization(&self, account: &str) -> Option<Organization> {
        self.caller_managed_org(account).ok().cloned()
    }

    /// InviteOrganizationToTransferResponsibility (management account only).
    pub fn invite_transfer(
        &mut self,
        caller: &str,
        input: TransferInviteInput,
        now: Time,
    ) -> Result<Handshake, AwsError> {
        self.refresh(now);
        let transfer_type = check_transfer_type(input.transfer_type.as_deref())?;
        let target = parse_target(
            input.target_type.as_deref(),
            input.target_id.clone(),
            ": a billing transfer invites an ACCOUNT or an EMAIL",
        )?;
        let start = input
            .start
            .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "StartTimestamp is required."))?;
        let name = check_name(input.source_name.as_deref(), "SourceName")?;
        if input.notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                "You provided a string parameter that is longer than allowed: Notes can be at most 1024 characters.",
            ));
        }
        check_tags(&input.tags)?;
        let org = self.caller_managed_org(caller)?.clone();
        check_start(start, now)?;
        let invited = self.target_account(&target);
        let caller_email = self.email_of(caller);
        if invited.as_deref() == Some(caller) || target.id().eq_ignore_ascii_case(&caller_email) {
            return Err(source_and_target_match());
        }
        if let Some(acct) = invited.as_deref().filter(|a| self.accounts.contains_key(*a)) {
            match self.manages_an_organization(acct) {
                Some(o) if o.id == org.id => return Err(source_and_target_match()),
                Some(_) => {}
                None => return Err(not_a_management_account()),
            }
        }
        let duplicate = self.handshakes.values().any(|h| {
            h.organization_id == org.id
                && h.state == HandshakeState::Open
                && h.transfer.is_some()
                && h.target.id().eq_ignore_ascii_case(target.id())
        });
        if duplicate {
            return Err(AwsError::client(
                "DuplicateHandshakeException",
                "A handshake with the same action and target already exists.",
            ));
        }
        let binding = self.transfers.values().any(|t| {
            t.target_organization_id == org.id
                && t.is_active(now)
                && (t.invited.id().eq_ignore_ascii_case(target.id())
                    || invited.is_some() && t.source_account_id == invited)
        });
        if binding {
            return Err(already_exists());
        }
        Ok(self.open_transfer(&org, target, invited, transfer_type, name, start, input, now))
    }

    #[allow(clippy::too_many_arguments)]
    fn open_transfer(
        &mut self,
        org: &Organization,
        target: Target,
        invited: Option<String>,
        transfer_type: String,
        name: String,
        start: Time,
        input: TransferInviteInput,
        now: Time,
    ) -> Handshake {
        let mgmt = self.management_account(org).cloned();
        let mut transfer_id = format!("rt-{}", random_lower_alnum(12));
        while self.transfers.contains_key(&transfer_id) {
            transfer_id = format!("rt-{}", random_lower_alnum(12));
        }
        let mut handshake_id = format!("h-{}", random_lower_alnum(10));
        while self.handshakes.contains_key(&handshake_id) {
            handshake_id = format!("h-{}", random_lower_alnum(10));
        }
        self.next_seq += 1;
        let h = Handshake {
            seq: self.next_seq,
            id: handshake_id.clone(),
            organization_id: org.id.clone(),
            management_account_id: org.management_account_id.clone(),
            management_email: mgmt.as_ref().map(|a| a.email.clone()).unwrap_or_default(),
            management_name: mgmt.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            feature_set: org.feature_set.clone(),
            target: target.clone(),
            notes: input.notes,
            tags: input.tags.clone(),
            state: HandshakeState::Open,
            requested_at: now,
            expires_at: start - TimeDelta::hours(ACCEPT_LEAD_HOURS),
            ended_at: None,
            transfer: Some(TransferOffer {
                transfer_id: transfer_id.clone(),
                transfer_type: transfer_type.clone(),
                start,
            }),
        };
        let t = Transfer {
            seq: self.next_seq,
            id: transfer_id.clone(),
            name,
            transfer_type,
            status: TransferStatus::Requested,
            invited: target,
            source_account_id: invited.filter(|a| is_account_id(a)),
            source_organization_id: None,
            target_account_id: org.management_account_id.clone(),
            target_email: h.management_email.clone(),
            target_organization_id: org.id.clone(),
            start,
            end: None,
            handshake_id: handshake_id.clone(),
            tags: input.tags,
        };
        self.handshakes.insert(handshake_id, h.clone());
        self.transfers.insert(transfer_id, t);
        h
    }

    /// AcceptHandshake of a `TRANSFER_RESPONSIBILITY` handshake: only the invited
    /// organization's management account accepts; the payer then manages its bill from the
    /// start. Called by `accept_handshake` once the recipient and the transition are checked.
    pub(crate) fn accept_transfer_handshake(
        &mut self,
        caller: &str,
        h: &Handshake,
        now: Time,
    ) -> Result<Handshake, AwsError> {
        let Some(offer) = &h.transfer else {
            return Err(AwsError::service());
        };
        let own = self.caller_org(caller)?.clone();
        if own.management_account_id != caller {
            return Err(AwsError::access_denied(
                "Only the management account can accept a billing transfer (TRANSFER_RESPONSIBILITY) handshake.",
            ));
        }
        if own.id == h.organization_id {
            return Err(source_and_target_match());
        }
        let taken = self.transfers.values().any(|t| {
            t.id != offer.transfer_id && t.source_organization_id.as_deref() == Some(&own.id) && t.is_active(now)
        });
        if taken {
            return Err(already_exists());
        }
        if let Some(t) = self.transfers.get_mut(&offer.transfer_id) {
            t.status = TransferStatus::Accepted;
            t.source_account_id = Some(caller.to_string());
            t.source_organization_id = Some(own.id.clone());
        }
        match self.handshakes.get_mut(&h.id) {
            Some(stored) => {
                stored.state = HandshakeState::Accepted;
                stored.ended_at = Some(now);
                Ok(stored.clone())
            }
            None => Err(AwsError::handshake_not_found(&h.id)),
        }
    }

    /// Brings each requested transfer in line with its handshake (declined, canceled,
    /// expired). Called by `refresh` after expiring handshakes and before purging old ones.
    pub(crate) fn sync_transfers(&mut self) {
        for t in self.transfers.values_mut() {
            if t.status != TransferStatus::Requested {
                continue;
            }
            t.status = match self.handshakes.get(&t.handshake_id).map(|h| h.state) {
                Some(HandshakeState::Open) => TransferStatus::Requested,
                Some(HandshakeState::Accepted) => TransferStatus::Accepted,
                Some(HandshakeState::Declined) => TransferStatus::Declined,
                Some(HandshakeState::Canceled) => TransferStatus::Canceled,
                Some(HandshakeState::Expired) | None => TransferStatus::Expired,
            };
        }
    }

    /// Whether `org_id` has a pending transfer invitation or an active transfer, on either
    /// side (DeleteOrganization then fails with `ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS`).
    pub fn has_active_transfer_process(&self, org_id: &str, now: Time) -> bool {
        self.transfers.values().any(|t| {
            let involved = t.target_organization_id == org_id
                || t.source_organization_id.as_deref() == Some(org_id)
                || t.status == TransferStatus::Requested
                    && self
                        .organizations
                        .get(org_id)
                        .is_some_and(|o| t.source_account_id.as_deref() == Some(o.management_account_id.as_str()));
            involved && (t.status == TransferStatus::Requested || t.is_active(now))
        })
    }

    /// The side from which `caller` sees `t`, if it is a party.
    fn side_of(&self, t: &Transfer, caller: &str) -> Option<Side> {
        if t.target_account_id == caller {
            return Some(Side::Inbound);
        }
        let is_source = match &t.source_account_id {
            Some(a) => a == caller,
            None => t.invited.id().eq_ignore_ascii_case(&self.email_of(caller)),
        };
        is_source.then_some(Side::Outbound)
    }

    fn visible_transfer(&self, caller: &str, id: &str) -> Result<(Transfer, Side), AwsError> {
        self.transfers
            .get(id)
            .and_then(|t| self.side_of(t, caller).map(|s| (t.clone(), s)))
            .ok_or_else(|| transfer_not_found(id))
    }

    /// DescribeResponsibilityTransfer (either party's management account).
    pub fn describe_transfer(
        &mut self,
        caller: &str,
        id: Option<&str>,
        now: Time,
    ) -> Result<(Transfer, Side), AwsError> {
        self.refresh(now);
        let id = check_transfer_id(id)?;
        self.caller_managed_org(caller)?;
        self.visible_transfer(caller, id)
    }

    /// ListInboundResponsibilityTransfers: the transfers in which the caller's organization
    /// pays (optionally only the one with `id`).
    pub fn list_inbound_transfers(
        &mut self,
        caller: &str,
        transfer_type: Option<&str>,
        id: Option<&str>,
        max: Option<i64>,
        token: Option<&str>,
        now: Time,
    ) -> Result<Page<Transfer>, AwsError> {
        self.list_transfers(caller, Side::Inbound, transfer_type, id, max, token, now)
    }

    /// ListOutboundResponsibilityTransfers: the transfers (and invitations) that let an
    /// account outside the caller's organization pay its bill.
    pub fn list_outbound_transfers(
        &mut self,
        caller: &str,
        transfer_type: Option<&str>,
        max: Option<i64>,
        token: Option<&str>,
        now: Time,
    ) -> Result<Page<Transfer>, AwsError> {
        self.list_transfers(caller, Side::Outbound, transfer_type, None, max, token, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn list_transfers(
        &mut self,
        caller: &str,
        side: Side,
        transfer_type: Option<&str>,
        id: Option<&str>,
        max: Option<i64>,
        token: Option<&str>,
        now: Time,
    ) -> Result<Page<Transfer>, AwsError> {
        self.refresh(now);
        let transfer_type = check_transfer_type(transfer_type)?;
        let id = match id {
            Some(i) => Some(check_transfer_id(Some(i))?),
            None => None,
        };
        self.caller_managed_org(caller)?;
        let items: Vec<Transfer> = self
            .transfers
            .values()
            .filter(|t| t.transfer_type == transfer_type && self.side_of(t, caller) == Some(side))
            .filter(|t| id.is_none_or(|i| i == t.id))
            .cloned()
            .collect();
        if let (Some(i), true) = (id, items.is_empty()) {
            return Err(transfer_not_found(i));
        }
        paginate(items, |t| t.seq, "rt-", max, token)
    }

    /// UpdateResponsibilityTransfer: the payer renames a transfer that is still requested or
    /// accepted.
    pub fn update_transfer(
        &mut self,
        caller: &str,
        id: Option<&str>,
        name: Option<&str>,
        now: Time,
    ) -> Result<(Transfer, Side), AwsError> {
        self.refresh(now);
        let id = check_transfer_id(id)?;
        let name = check_name(name, "Name")?;
        self.caller_managed_org(caller)?;
        let (t, side) = self.visible_transfer(caller, id)?;
        if side != Side::Inbound {
            return Err(AwsError::access_denied(
                "Only the bill-transfer account (the payer) can rename this transfer.",
            ));
        }
        if !matches!(t.status, TransferStatus::Requested | TransferStatus::Accepted) {
            return Err(AwsError::with_reason(
                "ConstraintViolationException",
                "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED",
                "You cannot update this transfer because it is no longer active. Transfers that have been withdrawn, declined, expired, or cancelled cannot be modified.",
            ));
        }
        let stored = self.transfers.get_mut(id).ok_or_else(|| transfer_not_found(id))?;
        stored.name = name;
        Ok((stored.clone(), side))
    }

    /// TerminateResponsibilityTransfer: either party withdraws an accepted transfer; it ends at
    /// `end` (default: the end of the month of the later of now and the start).
    pub fn terminate_transfer(
        &mut self,
        caller: &str,
        id: Option<&str>,
        end: Option<Time>,
        now: Time,
    ) -> Result<(Transfer, Side), AwsError> {
        self.refresh(now);
        let id = check_transfer_id(id)?;
        self.caller_managed_org(caller)?;
        let (t, side) = self.visible_transfer(caller, id)?;
        match t.status {
            TransferStatus::Accepted => {}
            TransferStatus::Withdrawn => {
                return Err(AwsError::client(
                    "ResponsibilityTransferAlreadyInStatusException",
                    "The responsibility transfer is already in the status that you specified: WITHDRAWN.",
                ));
            }
            other => {
                return Err(AwsError::client(
                    "InvalidResponsibilityTransferTransitionException",
                    format!(
                        "The responsibility transfer can't transition to the requested state because it's not in a valid state for this operation: it is {}.",
                        other.as_str()
                    ),
                ));
            }
        }
        let base = now.max(t.start);
        let end = match end {
            None => month_end(base, 0),
            Some(e) => {
                if !is_end_of_month(e) {
                    return Err(AwsError::invalid_input(
                        "END_DATE_NOT_END_OF_MONTH",
                        "You provided an invalid end date. The end date must be the end of the last day of the month (23.59.59.999).",
                    ));
                }
                if e < month_end(base, 0) {
                    return Err(AwsError::invalid_input(
                        "END_DATE_TOO_EARLY",
                        "You provided an invalid end date. The end date is too early: it must be the end of the current or the next month of the transfer.",
                    ));
                }
                if e > month_end(base, 1) + TimeDelta::seconds(1) {
                    return Err(AwsError::invalid_input(
                        "END_DATE_TOO_LATE",
                        "You provided an invalid end date. The end date is too late: it must be the end of the current or the next month of the transfer.",
                    ));
                }
                e
            }
        };
        let stored = self.transfers.get_mut(id).ok_or_else(|| transfer_not_found(id))?;
        stored.status = TransferStatus::Withdrawn;
        stored.end = Some(end);
        Ok((stored.clone(), side))
    }

    /// The open `TRANSFER_RESPONSIBILITY` invitation to `account_id` (by ID or email), the
    /// most recent one; for the control API acting as the customer.
    pub fn open_transfer_invite_for(&mut self, account_id: &str, now: Time) -> Option<Handshake> {
        self.refresh(now);
        self.newest_open(account_id, |h| h.transfer.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{Seed, SeedAccount, SeedOrganization};
    use crate::state::ModelOptions;

    /// 2026-11-10T12:00:00Z: the next two months start 2026-12-01 and 2027-01-01.
    fn now() -> Time {
        Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
    }

    fn ymd(y: i32, m: u32, d: u32) -> Time {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    const PAYER: &str = "111111111111";
    const CUSTOMER: &str = "222222222222";
    const CUSTOMER_MEMBER: &str = "222222222223";
    const STANDALONE: &str = "333333333333";
    const OTHER_PAYER: &str = "444444444444";

    fn org(id: &str, mgmt: &str, members: &[&str]) -> SeedOrganization {
        SeedOrganization {
            id: Some(id.into()),
            management_account: SeedAccount::new(mgmt),
            members: members.iter().map(|m| SeedAccount::new(*m)).collect(),
            account_quota: None,
            feature_set: None,
        }
    }

    fn world() -> State {
        let seed = Seed {
            organizations: vec![
                org("o-payer00000", PAYER, &[]),
                org("o-customer00", CUSTOMER, &[CUSTOMER_MEMBER]),
                org("o-other00000", OTHER_PAYER, &[]),
            ],
            accounts: vec![SeedAccount::new(STANDALONE)],
            ..Seed::default()
        };
        State::from_seed(&seed, ModelOptions::default(), now()).unwrap()
    }

    fn invite_input(target: &str, start: Time) -> TransferInviteInput {
        TransferInviteInput {
            transfer_type: Some("BILLING".into()),
            target_type: Some(if target.contains('@') { "EMAIL" } else { "ACCOUNT" }.into()),
            target_id: Some(target.into()),
            notes: Some("hello".into()),
            start: Some(start),
            source_name: Some("Customer A".into()),
            tags: vec![("team".into(), "billing".into())],
        }
    }

    fn transfer_of(s: &State, h: &Handshake) -> Transfer {
        s.transfers[&h.transfer.as_ref().unwrap().transfer_id].clone()
    }

    #[test]
    fn month_arithmetic() {
        assert_eq!(month_start(now(), 1), ymd(2026, 12, 1));
        assert_eq!(month_start(now(), 2), ymd(2027, 1, 1));
        assert_eq!(month_start(ymd(2026, 1, 31), -1), ymd(2025, 12, 1));
        assert_eq!(
            month_end(now(), 0),
            Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap()
        );
        // API reference example: EndTimestamp 1769903999 = 2026-01-31T23:59:59Z.
        let example = Utc.timestamp_opt(1_769_903_999, 0).unwrap();
        assert!(is_end_of_month(example));
        assert!(is_end_of_month(example + TimeDelta::milliseconds(999)));
        assert!(!is_end_of_month(example - TimeDelta::seconds(1)));
        assert!(!is_end_of_month(ymd(2026, 2, 1)));
    }

    #[test]
    fn invite_creates_a_requested_transfer_and_a_transfer_handshake() {
        let mut s = world();
        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        assert_eq!(h.state, HandshakeState::Open);
        assert_eq!(h.organization_id, "o-payer00000");
        // The deadline is 24 h before the start.
        assert_eq!(h.expires_at, Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap());
        let t = transfer_of(&s, &h);
        assert_eq!(t.status, TransferStatus::Requested);
        assert_eq!(t.name, "Customer A");
        assert_eq!(t.source_account_id.as_deref(), Some(CUSTOMER));
        assert_eq!(t.target_account_id, PAYER);
        assert_eq!(t.handshake_id, h.id);
        assert!(is_transfer_id(&t.id));
        assert_eq!(
            t.arn(Side::Inbound),
            format!(
                "arn:aws:organizations::{PAYER}:transfer/o-payer00000/billing/inbound/{}",
                t.id
            )
        );
        // Both sides list it, each from its own side.
        let inbound = s
            .list_inbound_transfers(PAYER, Some("BILLING"), None, None, None, now())
            .unwrap();
        assert_eq!(inbound.items.len(), 1);
        let outbound = s
            .list_outbound_transfers(CUSTOMER, Some("BILLING"), None, None, now())
            .unwrap();
        assert_eq!(outbound.items.len(), 1);
        assert!(
            s.list_outbound_transfers(PAYER, Some("BILLING"), None, None, now())
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            s.describe_transfer(CUSTOMER, Some(&t.id), now()).unwrap().1,
            Side::Outbound
        );
        // A third organization does not see it.
        assert_eq!(
            s.describe_transfer(OTHER_PAYER, Some(&t.id), now()).unwrap_err().code,
            "ResponsibilityTransferNotFoundException"
        );
    }

    #[test]
    fn start_rules() {
        let reason = |start: Time, at: Time| {
            world()
                .invite_transfer(PAYER, invite_input(CUSTOMER, start), at)
                .err()
                .and_then(|e| e.reason)
                .map(|r| &*Box::leak(r.into_owned().into_boxed_str()))
        };
        assert_eq!(reason(ymd(2026, 12, 1), now()), None);
        assert_eq!(reason(ymd(2027, 1, 1), now()), None);
        assert_eq!(
            reason(ymd(2026, 12, 2), now()),
            Some("START_DATE_NOT_BEGINNING_OF_MONTH")
        );
        assert_eq!(
            reason(ymd(2026, 12, 1) + TimeDelta::hours(1), now()),
            Some("START_DATE_NOT_BEGINNING_OF_DAY")
        );
        assert_eq!(reason(ymd(2026, 11, 1), now()), Some("START_DATE_TOO_EARLY"));
        assert_eq!(reason(ymd(2027, 2, 1), now()), Some("START_DATE_TOO_LATE"));
        // On the last day of a month the next month's acceptance deadline has passed.
        let last_day = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        assert_eq!(reason(ymd(2026, 12, 1), last_day), Some("START_DATE_TOO_EARLY"));
        assert_eq!(reason(ymd(2027, 1, 1), last_day), None);
    }

    #[test]
    fn target_rules() {
        let err = |caller: &str, target: &str| {
            world()
                .invite_transfer(caller, invite_input(target, ymd(2027, 1, 1)), now())
                .unwrap_err()
        };
        let e = err(PAYER, PAYER);
        assert_eq!(
            (&*e.code, e.reason.as_deref()),
            (
                "HandshakeConstraintViolationException",
                Some("SOURCE_AND_TARGET_CANNOT_MATCH")
            )
        );
        assert_eq!(
            err(PAYER, STANDALONE).reason.as_deref(),
            Some("TARGET_ACCOUNT_VALIDATION_FAILURE")
        );
        assert_eq!(
            err(PAYER, CUSTOMER_MEMBER).reason.as_deref(),
            Some("TARGET_ACCOUNT_VALIDATION_FAILURE")
        );
        // Only a management account sends.
        assert_eq!(err(CUSTOMER_MEMBER, OTHER_PAYER).code, "AccessDeniedException");
        assert_eq!(err(STANDALONE, CUSTOMER).code, "AWSOrganizationsNotInUseException");
        let mut s = world();
        let mut bad = invite_input(CUSTOMER, ymd(2027, 1, 1));
        bad.source_name = Some("caf\u{e9}".into());
        assert_eq!(
            s.invite_transfer(PAYER, bad, now()).unwrap_err().reason.as_deref(),
            Some("INVALID_PATTERN")
        );
        let mut org_target = invite_input(CUSTOMER, ymd(2027, 1, 1));
        org_target.target_type = Some("ORGANIZATION".into());
        assert_eq!(
            s.invite_transfer(PAYER, org_target, now())
                .unwrap_err()
                .reason
                .as_deref(),
            Some("INVALID_PARTY_TYPE_TARGET")
        );
    }

    #[test]
    fn duplicate_and_existing_transfers() {
        let mut s = world();
        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        let dup = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2026, 12, 1)), now())
            .unwrap_err();
        assert_eq!(dup.code, "DuplicateHandshakeException");
        s.accept_handshake(CUSTOMER, Some(&h.id), now()).unwrap();
        let again = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap_err();
        assert_eq!(again.reason.as_deref(), Some("RESPONSIBILITY_TRANSFER_ALREADY_EXISTS"));
        // Another payer can invite, but the customer cannot accept a second active transfer.
        let other = s
            .invite_transfer(OTHER_PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        let e = s.accept_handshake(CUSTOMER, Some(&other.id), now()).unwrap_err();
        assert_eq!(e.reason.as_deref(), Some("RESPONSIBILITY_TRANSFER_ALREADY_EXISTS"));
    }

    #[test]
    fn accept_makes_the_transfer_accepted_and_in_effect_from_the_start() {
        let mut s = world();
        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        // A member of the invited organization is not the recipient.
        let e = s.accept_handshake(CUSTOMER_MEMBER, Some(&h.id), now()).unwrap_err();
        assert_eq!(e.code, "HandshakeNotFoundException");
        let accepted = s.accept_handshake(CUSTOMER, Some(&h.id), now()).unwrap();
        assert_eq!(accepted.state, HandshakeState::Accepted);
        let t = transfer_of(&s, &h);
        assert_eq!(t.status, TransferStatus::Accepted);
        assert_eq!(t.source_organization_id.as_deref(), Some("o-customer00"));
        // The customer stays in its own organization.
        assert_eq!(s.accounts[CUSTOMER].organization_id.as_deref(), Some("o-customer00"));
        assert!(!t.in_effect(now()));
        assert!(t.in_effect(ymd(2027, 1, 1)));
        assert_eq!(
            t.arn(Side::Outbound),
            format!(
                "arn:aws:organizations::{CUSTOMER}:transfer/o-customer00/billing/outbound/{}",
                t.id
            )
        );
        // Neither side can delete its organization while the transfer is active.
        assert!(s.has_active_transfer_process("o-customer00", now()));
        assert!(s.has_active_transfer_process("o-payer00000", now()));
        assert!(!s.has_active_transfer_process("o-other00000", now()));
    }

    #[test]
    fn an_email_invitation_is_resolved_on_acceptance() {
        let mut s = world();
        let email = s.email_of(CUSTOMER);
        let h = s
            .invite_transfer(PAYER, invite_input(&email, ymd(2027, 1, 1)), now())
            .unwrap();
        assert_eq!(
            s.open_transfer_invite_for(CUSTOMER, now()).map(|x| x.id),
            Some(h.id.clone())
        );
        s.accept_handshake(CUSTOMER, Some(&h.id), now()).unwrap();
        assert_eq!(transfer_of(&s, &h).source_account_id.as_deref(), Some(CUSTOMER));
    }

    #[test]
    fn only_a_management_account_accepts() {
        let mut s = world();
        // Invited by email, the address turns out to be a member account's: AWS lets only a
        // management account accept a TRANSFER_RESPONSIBILITY handshake.
        let email = s.email_of(CUSTOMER_MEMBER);
        let h = s.invite_transfer(PAYER, invite_input(&email, ymd(2027, 1, 1)), now());
        // A known member account is refused at invitation already.
        assert_eq!(
            h.unwrap_err().reason.as_deref(),
            Some("TARGET_ACCOUNT_VALIDATION_FAILURE")
        );
        let h = s
            .invite_transfer(PAYER, invite_input("later@example.com", ymd(2027, 1, 1)), now())
            .unwrap();
        s.accounts.get_mut(CUSTOMER_MEMBER).unwrap().email = "later@example.com".into();
        let e = s.accept_handshake(CUSTOMER_MEMBER, Some(&h.id), now()).unwrap_err();
        assert_eq!(e.code, "AccessDeniedException");
        let e = s.accept_handshake(STANDALONE, Some(&h.id), now()).unwrap_err();
        assert_eq!(e.code, "HandshakeNotFoundException");
    }

    #[test]
    fn decline_cancel_and_expiry_follow_the_handshake() {
        let mut s = world();
        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        s.decline_handshake(CUSTOMER, Some(&h.id), now()).unwrap();
        s.refresh(now());
        assert_eq!(transfer_of(&s, &h).status, TransferStatus::Declined);

        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        s.cancel_handshake(PAYER, Some(&h.id), now()).unwrap();
        s.refresh(now());
        assert_eq!(transfer_of(&s, &h).status, TransferStatus::Canceled);
        assert!(!s.has_active_transfer_process("o-customer00", now()));

        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        let deadline = ymd(2026, 12, 31);
        s.refresh(deadline - TimeDelta::seconds(1));
        assert_eq!(transfer_of(&s, &h).status, TransferStatus::Requested);
        s.refresh(deadline);
        assert_eq!(transfer_of(&s, &h).status, TransferStatus::Expired);
        assert_eq!(s.handshakes[&h.id].state, HandshakeState::Expired);
        let late = s.accept_handshake(CUSTOMER, Some(&h.id), deadline).unwrap_err();
        assert_eq!(late.code, "InvalidHandshakeTransitionException");
        // The transfer outlives its handshake's 30 days of visibility.
        s.refresh(deadline + TimeDelta::days(40));
        assert!(!s.handshakes.contains_key(&h.id));
        assert_eq!(transfer_of(&s, &h).status, TransferStatus::Expired);
    }

    #[test]
    fn rename_and_terminate() {
        let mut s = world();
        let h = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        let id = h.transfer.as_ref().unwrap().transfer_id.clone();
        let (t, _) = s
            .update_transfer(PAYER, Some(&id), Some("Customer A (renamed)"), now())
            .unwrap();
        assert_eq!(t.name, "Customer A (renamed)");
        assert_eq!(
            s.update_transfer(CUSTOMER, Some(&id), Some("x"), now())
                .unwrap_err()
                .code,
            "AccessDeniedException"
        );
        // An unanswered invitation is canceled, not terminated.
        let e = s.terminate_transfer(PAYER, Some(&id), None, now()).unwrap_err();
        assert_eq!(e.code, "InvalidResponsibilityTransferTransitionException");
        s.accept_handshake(CUSTOMER, Some(&h.id), now()).unwrap();
        let not_end = s
            .terminate_transfer(PAYER, Some(&id), Some(ymd(2027, 1, 15)), now())
            .unwrap_err();
        assert_eq!(not_end.reason.as_deref(), Some("END_DATE_NOT_END_OF_MONTH"));
        let too_early = s
            .terminate_transfer(PAYER, Some(&id), Some(month_end(now(), 0)), now())
            .unwrap_err();
        assert_eq!(too_early.reason.as_deref(), Some("END_DATE_TOO_EARLY"));
        let too_late = s
            .terminate_transfer(PAYER, Some(&id), Some(month_end(ymd(2027, 3, 1), 0)), now())
            .unwrap_err();
        assert_eq!(too_late.reason.as_deref(), Some("END_DATE_TOO_LATE"));
        let end = month_end(ymd(2027, 2, 1), 0);
        let (t, side) = s.terminate_transfer(CUSTOMER, Some(&id), Some(end), now()).unwrap();
        assert_eq!(
            (t.status, t.end, side),
            (TransferStatus::Withdrawn, Some(end), Side::Outbound)
        );
        assert!(t.in_effect(ymd(2027, 2, 10)));
        assert!(!t.in_effect(end + TimeDelta::seconds(1)));
        let again = s.terminate_transfer(PAYER, Some(&id), None, now()).unwrap_err();
        assert_eq!(again.code, "ResponsibilityTransferAlreadyInStatusException");
        let rename = s.update_transfer(PAYER, Some(&id), Some("late"), now()).unwrap_err();
        assert_eq!(
            rename.reason.as_deref(),
            Some("TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED")
        );
    }

    #[test]
    fn lists_page_and_filter_by_id() {
        let mut s = world();
        let a = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        s.cancel_handshake(PAYER, Some(&a.id), now()).unwrap();
        let b = s
            .invite_transfer(PAYER, invite_input(CUSTOMER, ymd(2027, 1, 1)), now())
            .unwrap();
        let first = s
            .list_inbound_transfers(PAYER, Some("BILLING"), None, Some(1), None, now())
            .unwrap();
        assert_eq!(first.items[0].handshake_id, a.id);
        let second = s
            .list_inbound_transfers(
                PAYER,
                Some("BILLING"),
                None,
                Some(1),
                first.next_token.as_deref(),
                now(),
            )
            .unwrap();
        assert_eq!(second.items[0].handshake_id, b.id);
        assert_eq!(second.next_token, None);
        let b_id = b.transfer.as_ref().unwrap().transfer_id.clone();
        let only = s
            .list_inbound_transfers(PAYER, Some("BILLING"), Some(&b_id), None, None, now())
            .unwrap();
        assert_eq!(only.items.len(), 1);
        let missing = s
            .list_inbound_transfers(PAYER, Some("BILLING"), Some("rt-doesnotexist"), None, None, now())
            .unwrap_err();
        assert_eq!(missing.code, "ResponsibilityTransferNotFoundException");
        assert_eq!(
            s.list_inbound_transfers(PAYER, Some("SUPPORT"), None, None, None, now())
                .unwrap_err()
                .reason
                .as_deref(),
            Some("INVALID_ENUM")
        );
    }
}
