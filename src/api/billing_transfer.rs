//! `BillingTransfer`: take over the consolidated bill of a customer's organization without
//! dismantling it (AWS Organizations billing transfer; docs/billing-transfer.md).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::account_invite::HandshakeStatus;

/// Default for `spec.reinvite.maxAttempts` of a transfer.
pub const DEFAULT_TRANSFER_MAX_ATTEMPTS: u32 = 3;

/// Which customer organization's bill the billing profile's organization takes over, from
/// which month, and what to do until the customer accepts.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A billing transfer: the billing profile's organization (the payer) invites the management account of a customer's AWS Organization to transfer billing responsibility. Once the customer accepts, the payer manages and pays the customer organization's consolidated bill from 00:00 UTC on the first day of the start month; the customer keeps its organization, accounts and governance.",
    group = "awsinvite.io",
    version = "v1alpha1",
    kind = "BillingTransfer",
    plural = "billingtransfers",
    namespaced,
    shortname = "billtransfer",
    category = "awsinvite",
    status = "BillingTransferStatus",
    printcolumn = r#"{"name":"Account","type":"string","jsonPath":".spec.managementAccountId"}"#,
    printcolumn = r#"{"name":"Email","type":"string","jsonPath":".spec.email","priority":1}"#,
    printcolumn = r#"{"name":"Profile","type":"string","jsonPath":".spec.billingProfile"}"#,
    printcolumn = r#"{"name":"Start","type":"string","jsonPath":".status.startMonth"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Transfer","type":"string","jsonPath":".status.transfer.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new("has(self.managementAccountId) != has(self.email)").message("set exactly one of managementAccountId and email: the customer's management account"))]
#[x_kube(validation = Rule::new("has(self.managementAccountId) == has(oldSelf.managementAccountId) && has(self.email) == has(oldSelf.email)").message("managementAccountId and email are immutable: delete this transfer and create a new one to invite another account"))]
#[x_kube(validation = Rule::new("!has(self.endMonth) || self.endMonth >= self.startMonth").message("endMonth must not be before startMonth"))]
#[x_kube(validation = Rule::new("!has(oldSelf.endMonth) || (has(self.endMonth) && self.endMonth == oldSelf.endMonth)").message("endMonth cannot be changed or removed once set: AWS cannot undo a withdrawal"))]
#[serde(rename_all = "camelCase")]
pub struct BillingTransferSpec {
    /// Name of the BillingProfile whose organization takes over the bill (the bill-transfer
    /// side, which sends the invitation). Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("billingProfile is immutable: delete this transfer and create a new one to use another billing profile"))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')").message("billingProfile must be the name of a BillingProfile (lowercase letters, digits, '-' and '.')"))]
    #[schemars(length(max = 253))]
    pub billing_profile: String,

    /// The 12-digit ID of the customer's management account, e.g. "444455556666" (quote it in
    /// YAML). Set this or `email`, not both. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{12}$')").message("managementAccountId must be exactly 12 digits, e.g. \"444455556666\" (quote it in YAML)"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("managementAccountId is immutable: delete this transfer and create a new one to invite another account"))]
    #[schemars(length(max = 64))]
    pub management_account_id: Option<String>,

    /// The email address of the customer's management account. Set this or
    /// `managementAccountId`, not both. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) >= 6 && size(self) <= 64 && self.matches('^[^\\\\s@]+@[^\\\\s@]+\\\\.[^\\\\s@]+$')").message("email must be an email address of 6 to 64 characters"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("email is immutable: delete this transfer and create a new one to invite another account"))]
    #[schemars(length(max = 256))]
    pub email: Option<String>,

    /// The transfer's name as both sides see it (AWS's SourceName): 1 to 128 printable ASCII
    /// characters. Changing it renames the transfer in AWS.
    #[x_kube(validation = Rule::new("self.matches('^[ -~]{1,128}$')").message("name must be 1 to 128 printable ASCII characters (AWS's limit for a transfer name)"))]
    #[schemars(length(max = 512))]
    pub name: String,

    /// The first month whose bill the payer takes over, as "YYYY-MM" (the transfer starts at
    /// 00:00 UTC on its first day). AWS accepts only the next month or the one after, and the
    /// customer must accept at least 24 hours before the start; the operator reports a month
    /// outside that window. Used for the next invitation the operator sends.
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-(0[1-9]|1[0-2])$')").message("startMonth must be a month written as YYYY-MM, e.g. \"2027-01\""))]
    #[schemars(length(max = 16))]
    pub start_month: String,

    /// The last month whose bill the payer manages, as "YYYY-MM": setting it withdraws the
    /// accepted transfer, which then ends at 23:59:59 UTC on the last day of that month. AWS
    /// accepts only the current or the next month of the transfer. Cannot be changed or removed
    /// once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-(0[1-9]|1[0-2])$')").message("endMonth must be a month written as YYYY-MM, e.g. \"2027-06\""))]
    #[schemars(length(max = 16))]
    pub end_month: Option<String>,

    /// Text included in the invitation email, at most 1024 characters (AWS's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) <= 1024").message("notes must be at most 1024 characters (AWS's limit for invitation notes)"))]
    #[schemars(length(max = 8192))]
    pub notes: Option<String>,

    /// Tags attached to the transfer: at most 50; keys 1–128 characters, not starting with
    /// "aws:"; values at most 256 characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128)").message("tag keys must be 1 to 128 characters"))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('aws:'))").message("tag keys must not start with \"aws:\" (reserved by AWS)"))]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[\\\\p{L}\\\\p{Z}\\\\p{N}_.:/=+@-]+$'))").message("tag keys may contain only letters, digits, spaces and _.:/=+-@"))]
    #[x_kube(validation = Rule::new("self.all(k, self[k].matches('^[\\\\p{L}\\\\p{Z}\\\\p{N}_.:/=+@-]*$'))").message("tag values may contain only letters, digits, spaces and _.:/=+-@"))]
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,

    /// When to send another invitation.
    #[serde(default)]
    pub reinvite: TransferReinvitePolicy,

    /// What deleting this resource does in AWS: `CancelPending` (default) cancels an
    /// unanswered invitation and never ends an accepted transfer; `Withdraw` also withdraws an
    /// accepted transfer (it ends at the end of the current month, or of the start month if it
    /// has not started); `Orphan` touches nothing.
    #[serde(default)]
    pub deletion_policy: TransferDeletionPolicy,
}

/// When the operator sends another transfer invitation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransferReinvitePolicy {
    /// Invitations this resource may send in all, the first included (1–20). Default 3.
    #[serde(default = "default_max_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: u32,

    /// When an invitation expires unanswered (24 hours before its start), invite again for the
    /// next possible month. Default true.
    #[serde(default = "default_true")]
    pub on_expired: bool,

    /// When the customer declines, invite again for the next possible month. Default false.
    #[serde(default)]
    pub on_declined: bool,
}

impl Default for TransferReinvitePolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_TRANSFER_MAX_ATTEMPTS,
            on_expired: true,
            on_declined: false,
        }
    }
}

fn default_max_attempts() -> u32 {
    DEFAULT_TRANSFER_MAX_ATTEMPTS
}

fn default_true() -> bool {
    true
}

/// What deleting a BillingTransfer does in AWS.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TransferDeletionPolicy {
    /// Cancel an unanswered invitation; an accepted transfer stays in place.
    #[default]
    CancelPending,
    /// Cancel an unanswered invitation and withdraw an accepted transfer.
    Withdraw,
    /// Touch nothing in AWS.
    Orphan,
}

/// Where the transfer stands, for humans and printer columns (conditions are the contract).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TransferPhase {
    /// Nothing sent yet.
    #[default]
    Pending,
    /// An invitation is open, waiting for the customer.
    Invited,
    /// Accepted; the transfer starts on the first day of the start month.
    Accepted,
    /// The payer manages the customer's bill.
    InEffect,
    /// Withdrawn; the transfer ends (or ended) at the end of the end month.
    Withdrawn,
    /// Nothing will progress without a change (see the Stalled condition).
    Failed,
}

/// The AWS responsibility transfer as the operator last saw it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransferRecord {
    /// Transfer ID, e.g. "rt-exampletransferid222".
    pub id: String,
    /// Transfer ARN (as the payer sees it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// REQUESTED, ACCEPTED, DECLINED, CANCELED, EXPIRED or WITHDRAWN.
    pub status: String,
    /// When the payer starts managing the bill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Time>,
    /// When the transfer ends, once withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Time>,
    /// The name AWS has for the transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What the operator knows about a billing transfer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BillingTransferStatus {
    /// InvitationSent, TransferAccepted, InEffect, Ready, Reconciling and Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Pending, Invited, Accepted, InEffect, Withdrawn or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<TransferPhase>,

    /// The month ("YYYY-MM") of the current invitation or transfer: `spec.startMonth`, or a
    /// later month when the operator re-invited after an expiry or decline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_month: Option<String>,

    /// The current (latest) invitation handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<HandshakeStatus>,

    /// The current (latest) transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferRecord>,

    /// Invitations sent for this resource so far.
    #[serde(default)]
    pub attempts: u32,

    /// When the latest invitation was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_invited_at: Option<Time>,

    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A calendar month, as written in `startMonth` / `endMonth` ("YYYY-MM").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// 1–12.
    pub month: u8,
}

/// A month that is not "YYYY-MM".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month written as YYYY-MM")]
pub struct MonthError(pub String);

impl Month {
    /// Parses "YYYY-MM".
    pub fn parse(s: &str) -> Result<Self, MonthError> {
        let err = || MonthError(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(err)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(err());
        }
        let year: i32 = y.parse().map_err(|_| err())?;
        let month: u8 = m.parse().map_err(|_| err())?;
        if !(1..=12).contains(&month) {
            return Err(err());
        }
        Ok(Self { year, month })
    }

    /// The month `n` months later (or earlier, for negative `n`).
    pub fn plus(self, n: i32) -> Self {
        // Saturating: a month is parsed from four digits or read from a timestamp, but the type
        // holds any i32 and no input may make it panic.
        let index = self
            .year
            .saturating_mul(12)
            .saturating_add(i32::from(self.month))
            .saturating_sub(1)
            .saturating_add(n);
        Self {
            year: index.div_euclid(12),
            month: (index.rem_euclid(12) + 1) as u8,
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_add() {
        let m = Month::parse("2027-01").unwrap();
        assert_eq!(m, Month { year: 2027, month: 1 });
        assert_eq!(m.to_string(), "2027-01");
        assert_eq!(m.plus(-1).to_string(), "2026-12");
        assert_eq!(m.plus(12).to_string(), "2028-01");
        assert_eq!(Month::parse("2026-12").unwrap().plus(1), m);
        for bad in ["2027-13", "2027-00", "27-01", "2027-1", "2027/01", ""] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_defaults() {
        let spec: BillingTransferSpec = serde_json::from_value(serde_json::json!({
            "billingProfile": "payer-main",
            "managementAccountId": "444455556666",
            "name": "Customer A",
            "startMonth": "2027-01"
        }))
        .unwrap();
        assert_eq!(spec.reinvite, TransferReinvitePolicy::default());
        assert_eq!(spec.deletion_policy, TransferDeletionPolicy::CancelPending);
        assert_eq!(spec.email, None);
    }
}
