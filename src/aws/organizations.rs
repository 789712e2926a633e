//! Thin async wrappers of the AWS Organizations calls the operator makes. Each one waits for the
//! profile's rate limiter, makes one call (or one paginated sweep), records its outcome with the
//! profile's [`super::AwsCallObserver`] and converts the answer to the operator's own types.

use super::calls::{AwsAction, outcome};
use super::client::ProfileClients;
use super::error::{AwsError, ErrorClass};
use crate::handshake::{Handshake, HandshakeState};
use crate::reason::Reason;
use aws_sdk_organizations::error::SdkError;
use aws_sdk_organizations::operation::describe_account::DescribeAccountError;
use aws_sdk_organizations::operation::invite_account_to_organization::InviteAccountToOrganizationError;
use aws_sdk_organizations::types::{
    ActionType, HandshakeFilter, HandshakeParty, HandshakePartyType, HandshakeResource, HandshakeResourceType, Tag,
};
use aws_smithy_types::DateTime;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// What DescribeOrganization reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationInfo {
    /// `o-...`.
    pub id: String,
    /// The management (payer) account.
    pub management_account_id: String,
    /// The management account's email address.
    pub management_account_email: Option<String>,
}

/// A member of the profile's organization, as DescribeAccount reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccount {
    /// 12-digit account ID.
    pub id: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: Option<String>,
    /// When it joined the organization.
    pub joined_at: Option<Timestamp>,
    /// `INVITED` or `CREATED`.
    pub joined_method: Option<String>,
}

/// Converts an AWS timestamp.
pub fn to_timestamp(dt: &DateTime) -> Option<Timestamp> {
    Timestamp::new(dt.secs(), i32::try_from(dt.subsec_nanos()).ok()?).ok()
}

/// Converts an SDK handshake. `None` when it lacks an ID, ARN, state or timestamps.
pub fn convert_handshake(h: &aws_sdk_organizations::types::Handshake) -> Option<Handshake> {
    Some(Handshake {
        id: h.id()?.to_string(),
        arn: h.arn()?.to_string(),
        state: HandshakeState::parse(h.state()?.as_str())?,
        account_id: invited_account(h.parties(), h.resources()),
        requested_at: to_timestamp(h.requested_timestamp()?)?,
        expires_at: to_timestamp(h.expiration_timestamp()?)?,
    })
}

/// The invited account: the ACCOUNT party, else an ACCOUNT resource (searched recursively).
fn invited_account(parties: &[HandshakeParty], resources: &[HandshakeResource]) -> Option<String> {
    if let Some(p) = parties.iter().find(|p| *p.r#type() == HandshakePartyType::Account) {
        return Some(p.id().to_string());
    }
    fn search(resources: &[HandshakeResource]) -> Option<String> {
        for r in resources {
            if r.r#type() == Some(&HandshakeResourceType::Account)
                && let Some(v) = r.value()
            {
                return Some(v.to_string());
            }
            if let Some(v) = search(r.resources()) {
                return Some(v);
            }
        }
        None
    }
    search(resources)
}

fn malformed(operation: &'static str, what: &str) -> AwsError {
    AwsError::local(
        operation,
        ErrorClass::Retryable,
        Reason::AwsUnavailable,
        format!("AWS returned an incomplete {what}"),
    )
}

impl ProfileClients {
    /// DescribeOrganization: the organization the profile's credentials reach.
    pub async fn describe_organization(&self) -> Result<OrganizationInfo, AwsError> {
        const OP: &str = AwsAction::DescribeOrganization.name();
        self.metered(OP, async {
            let out = self
                .orgs
                .describe_organization()
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            let org = out.organization().ok_or_else(|| malformed(OP, "organization"))?;
            Ok(OrganizationInfo {
                id: org.id().ok_or_else(|| malformed(OP, "organization"))?.to_string(),
                management_account_id: org
                    .master_account_id()
                    .ok_or_else(|| malformed(OP, "organization"))?
                    .to_string(),
                management_account_email: org.master_account_email().map(str::to_owned),
            })
        })
        .await
    }

    /// InviteAccountToOrganization with Target Type ACCOUNT.
    ///
    /// The SDK does not retry this call: a retry after a lost answer could send a second
    /// invitation (or answer DuplicateHandshake). On a retryable error, the caller looks for an
    /// open handshake to this account (see [`crate::aws::HandshakeIndex::pending_for_account`]
    /// after a refresh) before sending again. DuplicateHandshakeException comes back as an error
    /// with [`AwsError::is_duplicate_handshake`]: adopt the open handshake.
    pub async fn invite_account(
        &self,
        account_id: &str,
        notes: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<Handshake, AwsError> {
        const OP: &str = AwsAction::InviteAccountToOrganization.name();
        self.metered(OP, async {
            let target = HandshakeParty::builder()
                .r#type(HandshakePartyType::Account)
                .id(account_id)
                .build()
                .map_err(|e| AwsError::local(OP, ErrorClass::Terminal, Reason::InvalidInput, e.to_string()))?;
            let tags = tags
                .iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| AwsError::local(OP, ErrorClass::Terminal, Reason::InvalidInput, e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .orgs
                .invite_account_to_organization()
                .target(target)
                .set_notes(notes.map(str::to_owned))
                .set_tags(if tags.is_empty() { None } else { Some(tags) })
                .customize()
                .config_override(
                    aws_sdk_organizations::config::Builder::default()
                        .retry_config(aws_config::retry::RetryConfig::disabled()),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, invite_reason))?;
            out.handshake()
                .and_then(convert_handshake)
                .ok_or_else(|| malformed(OP, "handshake"))
        })
        .await
    }

    /// CancelHandshake. An already ended or unknown handshake comes back as an error with
    /// [`AwsError::is_handshake_gone`].
    pub async fn cancel_handshake(&self, id: &str) -> Result<Handshake, AwsError> {
        const OP: &str = AwsAction::CancelHandshake.name();
        self.metered(OP, async {
            let out = self
                .orgs
                .cancel_handshake()
                .handshake_id(id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            out.handshake()
                .and_then(convert_handshake)
                .ok_or_else(|| malformed(OP, "handshake"))
        })
        .await
    }

    /// DescribeHandshake. Prefer the observer's index: this call's AWS limit is 1/s.
    pub async fn describe_handshake(&self, id: &str) -> Result<Handshake, AwsError> {
        const OP: &str = AwsAction::DescribeHandshake.name();
        self.metered(OP, async {
            let out = self
                .orgs
                .describe_handshake()
                .handshake_id(id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            out.handshake()
                .and_then(convert_handshake)
                .ok_or_else(|| malformed(OP, "handshake"))
        })
        .await
    }

    /// DescribeAccount: `Some` when the account is a member (or the management account) of the
    /// profile's organization, `None` when AWS answers AccountNotFoundException.
    pub async fn describe_account(&self, account_id: &str) -> Result<Option<MemberAccount>, AwsError> {
        const OP: &str = AwsAction::DescribeAccount.name();
        self.metered(OP, async {
            let out = match self.orgs.describe_account().account_id(account_id).send().await {
                Ok(out) => out,
                Err(SdkError::ServiceError(se))
                    if matches!(se.err(), DescribeAccountError::AccountNotFoundException(_)) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(AwsError::from_sdk(OP, e, describe_account_reason)),
            };
            let a = out.account().ok_or_else(|| malformed(OP, "account"))?;
            Ok(Some(MemberAccount {
                id: a.id().unwrap_or(account_id).to_string(),
                status: a.status().map(|s| s.as_str().to_string()),
                joined_at: a.joined_timestamp().and_then(to_timestamp),
                joined_method: a.joined_method().map(|m| m.as_str().to_string()),
            }))
        })
        .await
    }

    /// ListAccounts, all pages (at most 20 accounts per page, the API's MaxResults limit): every
    /// member of the organization, its management account included. The membership sweep
    /// (docs/architecture.md, "AWS usage and rate limits"); one limiter token per page.
    pub async fn list_accounts(&self) -> Result<Vec<MemberAccount>, AwsError> {
        const OP: &str = AwsAction::ListAccounts.name();
        let result = async {
            let mut pages = self.orgs.list_accounts().max_results(20).into_paginator().send();
            let mut all = Vec::new();
            loop {
                self.limiter.acquire(OP).await;
                let page = match pages.try_next().await {
                    Ok(Some(page)) => page,
                    Ok(None) => break,
                    Err(e) => return Err(AwsError::from_sdk(OP, e, |_| None)),
                };
                for a in page.accounts() {
                    let Some(id) = a.id() else {
                        tracing::warn!("skipping an account listed without an ID");
                        continue;
                    };
                    all.push(MemberAccount {
                        id: id.to_string(),
                        status: a.status().map(|s| s.as_str().to_string()),
                        joined_at: a.joined_timestamp().and_then(to_timestamp),
                        joined_method: a.joined_method().map(|m| m.as_str().to_string()),
                    });
                }
            }
            Ok(all)
        }
        .await;
        self.observer.record(OP, outcome(&result));
        result
    }

    /// ListHandshakesForOrganization with Filter ActionType=INVITE, all pages. Handshakes AWS
    /// returns incomplete are skipped (with a warning).
    pub async fn list_invite_handshakes(&self) -> Result<Vec<Handshake>, AwsError> {
        self.list_handshakes(ActionType::InviteAccountToOrganization).await
    }

    /// ListHandshakesForOrganization with Filter ActionType=`action`, all pages, one limiter
    /// token per page; incomplete handshakes are skipped (with a warning).
    pub(super) async fn list_handshakes(&self, action: ActionType) -> Result<Vec<Handshake>, AwsError> {
        const OP: &str = AwsAction::ListHandshakesForOrganization.name();
        let result = async {
            let mut pages = self
                .orgs
                .list_handshakes_for_organization()
                .filter(HandshakeFilter::builder().action_type(action).build())
                .into_paginator()
                .send();
            let mut all = Vec::new();
            loop {
                self.limiter.acquire(OP).await;
                let page = match pages.try_next().await {
                    Ok(Some(page)) => page,
                    Ok(None) => break,
                    Err(e) => return Err(AwsError::from_sdk(OP, e, |_| None)),
                };
                for h in page.handshakes() {
                    match convert_handshake(h) {
                        Some(h) => all.push(h),
                        None => tracing::warn!(handshake = ?h.id(), "skipping an incomplete handshake"),
                    }
                }
            }
            Ok(all)
        }
        .await;
        self.observer.record(OP, outcome(&result));
        result
    }
}

fn invite_reason(e: &InviteAccountToOrganizationError) -> Option<String> {
    match e {
        InviteAccountToOrganizationError::HandshakeConstraintViolationException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        InviteAccountToOrganizationError::InvalidInputException(e) => e.reason().map(|r| r.as_str().to_string()),
        InviteAccountToOrganizationError::ConstraintViolationException(e) => e.reason().map(|r| r.as_str().to_string()),
        _ => None,
    }
}

fn describe_account_reason(e: &DescribeAccountError) -> Option<String> {
    match e {
        DescribeAccountError::InvalidInputException(e) => e.reason().map(|r| r.as_str().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::types::HandshakeState as SdkState;

    fn party(t: HandshakePartyType, id: &str) -> HandshakeParty {
        HandshakeParty::builder().r#type(t).id(id).build().expect("party")
    }

    #[test]
    fn converts_handshakes() {
        let h = aws_sdk_organizations::types::Handshake::builder()
            .id("h-abc")
            .arn("arn:aws:organizations::111111111111:handshake/o-x/invite/h-abc")
            .state(SdkState::Open)
            .parties(party(HandshakePartyType::Organization, "o-aaaaaaaaaa"))
            .parties(party(HandshakePartyType::Account, "333333333333"))
            .requested_timestamp(DateTime::from_secs(1_700_000_000))
            .expiration_timestamp(DateTime::from_secs_and_nanos(1_701_296_000, 500_000_000))
            .build();
        let got = convert_handshake(&h).expect("complete");
        assert_eq!(got.id, "h-abc");
        assert_eq!(got.state, HandshakeState::Open);
        assert_eq!(got.account_id.as_deref(), Some("333333333333"));
        assert_eq!(got.requested_at, Timestamp::from_second(1_700_000_000).expect("ts"));
        assert_eq!(got.expires_at.subsec_nanosecond(), 500_000_000);
    }

    #[test]
    fn account_from_resources_when_no_account_party() {
        let h = aws_sdk_organizations::types::Handshake::builder()
            .id("h-abc")
            .arn("arn")
            .state(SdkState::Accepted)
            .parties(party(HandshakePartyType::Organization, "o-aaaaaaaaaa"))
            .resources(
                HandshakeResource::builder()
                    .r#type(HandshakeResourceType::Organization)
                    .value("o-aaaaaaaaaa")
                    .resources(
                        HandshakeResource::builder()
                            .r#type(HandshakeResourceType::Account)
                            .value("444444444444")
                            .build(),
                    )
                    .build(),
            )
            .requested_timestamp(DateTime::from_secs(1))
            .expiration_timestamp(DateTime::from_secs(2))
            .build();
        assert_eq!(
            convert_handshake(&h).expect("complete").account_id.as_deref(),
            Some("444444444444")
        );
    }

    #[test]
    fn incomplete_handshakes_are_none() {
        let h = aws_sdk_organizations::types::Handshake::builder().id("h-abc").build();
        assert!(convert_handshake(&h).is_none());
    }
}
