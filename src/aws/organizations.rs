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
use std::collections::{BTreeMap, BTreeSet};

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

/// Converts an SDK handshake of the organization whose management account is
/// `management_account`. `None` when it lacks an ID or a state the operator knows: the AWS
/// Organizations API reference ("Handshake" data type) marks every member optional, and
/// without these two nothing can be decided. ARN and timestamps stay `None` when absent.
pub fn convert_handshake(h: &aws_sdk_organizations::types::Handshake, management_account: &str) -> Option<Handshake> {
    let id = h.id().filter(|id| !id.is_empty())?;
    Some(Handshake {
        id: id.to_string(),
        arn: h.arn().map(str::to_owned),
        state: HandshakeState::parse(h.state()?.as_str())?,
        account_id: invited_account(h.parties(), h.resources(), management_account),
        requested_at: h.requested_timestamp().and_then(to_timestamp),
        expires_at: h.expiration_timestamp().and_then(to_timestamp),
    })
}

/// The invited account of an invitation handshake.
///
/// The model promises a list of parties and a list of resources, not their number or order:
/// the management account may be listed as an ACCOUNT party too (before or after the invitee),
/// and an invitation sent to an EMAIL address names the account only in its resources. So: the
/// ACCOUNT parties that are not `management_account`; if there are none, the ACCOUNT
/// resources (at any depth) that are not. Exactly one distinct account is the invitee; none, or
/// several different ones, is `None` (the handshake is then found by its ID only).
pub fn invited_account(
    parties: &[HandshakeParty],
    resources: &[HandshakeResource],
    management_account: &str,
) -> Option<String> {
    let is_invitee = |id: &str| !id.is_empty() && id != management_account;
    let from_parties: BTreeSet<&str> = parties
        .iter()
        .filter(|p| *p.r#type() == HandshakePartyType::Account)
        .map(HandshakeParty::id)
        .filter(|id| is_invitee(id))
        .collect();
    let candidates = if from_parties.is_empty() {
        let mut found = BTreeSet::new();
        // Depth-first without recursion: the nesting depth is whatever the answer holds.
        let mut stack: Vec<&HandshakeResource> = resources.iter().collect();
        while let Some(r) = stack.pop() {
            if r.r#type() == Some(&HandshakeResourceType::Account)
                && let Some(v) = r.value().filter(|v| is_invitee(v))
            {
                found.insert(v);
            }
            stack.extend(r.resources());
        }
        found
    } else {
        from_parties
    };
    let mut candidates = candidates.into_iter();
    match (candidates.next(), candidates.next()) {
        (Some(one), None) => Some(one.to_string()),
        _ => None,
    }
}

/// What DescribeOrganization's Organization says. Every member is optional in the model
/// (API reference, data type "Organization"); without its ID and its management account the
/// profile cannot be checked against its spec, so their absence is an incomplete answer.
fn organization_info(org: &aws_sdk_organizations::types::Organization) -> Result<OrganizationInfo, AwsError> {
    const OP: &str = AwsAction::DescribeOrganization.name();
    Ok(OrganizationInfo {
        id: org
            .id()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed(OP, "organization (no Id)"))?
            .to_string(),
        management_account_id: org
            .master_account_id()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed(OP, "organization (no MasterAccountId)"))?
            .to_string(),
        management_account_email: org.master_account_email().map(str::to_owned),
    })
}

/// What DescribeAccount's Account says about `account_id`. Every member is optional in the
/// model (API reference, data type "Account"); an ID that is present must be the one asked for
/// (an answer about another account says nothing about this one).
fn member_account(account_id: &str, a: &aws_sdk_organizations::types::Account) -> Result<MemberAccount, AwsError> {
    const OP: &str = AwsAction::DescribeAccount.name();
    if a.id().is_some_and(|id| id != account_id) {
        return Err(malformed(OP, "account (it names another account)"));
    }
    Ok(MemberAccount {
        id: account_id.to_string(),
        status: a.status().map(|s| s.as_str().to_string()),
        joined_at: a.joined_timestamp().and_then(to_timestamp),
        joined_method: a.joined_method().map(|m| m.as_str().to_string()),
    })
}

/// AWS's answer to `operation` lacks `what` (retryable: the next answer may be whole).
pub(super) fn malformed(operation: &'static str, what: &str) -> AwsError {
    AwsError::local(
        operation,
        ErrorClass::Retryable,
        Reason::AwsUnavailable,
        format!("AWS returned an incomplete {what}"),
    )
}

/// A request of `operation` the SDK refuses to build from our input (terminal).
fn invalid_input(operation: &'static str, message: String) -> AwsError {
    AwsError::local(operation, ErrorClass::Terminal, Reason::InvalidInput, message)
}

/// The handshake party `id` of `kind` (an invitation's target).
pub(super) fn party(operation: &'static str, kind: HandshakePartyType, id: &str) -> Result<HandshakeParty, AwsError> {
    HandshakeParty::builder()
        .r#type(kind)
        .id(id)
        .build()
        .map_err(|e| invalid_input(operation, e.to_string()))
}

/// `tags` as the SDK's tags; `None` when there are none (the request then has no Tags).
pub(super) fn sdk_tags(operation: &'static str, tags: &BTreeMap<String, String>) -> Result<Option<Vec<Tag>>, AwsError> {
    let tags = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid_input(operation, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if tags.is_empty() { None } else { Some(tags) })
}

/// The config override of a call the SDK must not retry (an invitation: a retry after a lost
/// answer could send a second one).
pub(super) fn without_retries() -> aws_sdk_organizations::config::Builder {
    aws_sdk_organizations::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// The most pages one paginated sweep follows: 5,000 pages of at most 20 handshakes (the
/// API reference's MaxResults range is 1-20) is 100,000 handshakes, far above what an
/// organization's invitation quota lets it hold in the 30 days AWS lists ended handshakes.
pub const MAX_PAGES: usize = 5_000;

/// Follows `NextToken` through a paginated list, trusting nothing about it: an absent or empty
/// token ends the list; a token seen before (a loop) or more than [`MAX_PAGES`] pages end the
/// sweep with a retryable error instead of looping forever.
#[derive(Debug)]
pub(crate) struct Pages {
    operation: &'static str,
    seen: BTreeSet<String>,
    current: Option<String>,
}

impl Pages {
    pub(crate) fn new(operation: &'static str) -> Self {
        Self {
            operation,
            seen: BTreeSet::new(),
            current: None,
        }
    }

    /// The token to send for the next page (`None` for the first).
    pub(crate) fn token(&self) -> Option<String> {
        self.current.clone()
    }

    /// Takes the page's `NextToken`: `Ok(true)` when there is another page to fetch.
    pub(crate) fn next(&mut self, next_token: Option<&str>) -> Result<bool, AwsError> {
        let Some(token) = next_token.filter(|t| !t.is_empty()) else {
            return Ok(false);
        };
        if !self.seen.insert(token.to_owned()) {
            return Err(malformed(self.operation, "page list (a NextToken repeated)"));
        }
        if self.seen.len() >= MAX_PAGES {
            return Err(malformed(self.operation, "page list (more than 5000 pages)"));
        }
        self.current = Some(token.to_owned());
        Ok(true)
    }
}

impl ProfileClients {
    /// [`convert_handshake`] for this profile's organization (its management account is
    /// never the invitee).
    pub fn convert_handshake(&self, h: &aws_sdk_organizations::types::Handshake) -> Option<Handshake> {
        convert_handshake(h, &self.management_account_id)
    }

    /// The handshake `operation` answered with, converted; an error when it is absent or
    /// incomplete.
    pub(super) fn answered_handshake(
        &self,
        operation: &'static str,
        answer: Option<&aws_sdk_organizations::types::Handshake>,
    ) -> Result<Handshake, AwsError> {
        answer
            .and_then(|h| self.convert_handshake(h))
            .ok_or_else(|| malformed(operation, "handshake"))
    }

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
            organization_info(out.organization().ok_or_else(|| malformed(OP, "organization"))?)
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
            let target = party(OP, HandshakePartyType::Account, account_id)?;
            let tags = sdk_tags(OP, tags)?;
            let out = self
                .orgs
                .invite_account_to_organization()
                .target(target)
                .set_notes(notes.map(str::to_owned))
                .set_tags(tags)
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, invite_reason))?;
            let mut handshake = self.answered_handshake(OP, out.handshake())?;
            // The invitation went to `account_id`: that is its invitee, whatever the answer's
            // parties say (they may omit it, or list the management account too).
            if handshake.account_id.as_deref().is_some_and(|a| a != account_id) {
                tracing::warn!(
                    handshake = %handshake.id,
                    listed = ?handshake.account_id,
                    invited = %account_id,
                    "InviteAccountToOrganization answered with a handshake naming another account"
                );
            }
            handshake.account_id = Some(account_id.to_owned());
            Ok(handshake)
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
            self.answered_handshake(OP, out.handshake())
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
            self.answered_handshake(OP, out.handshake())
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
            member_account(account_id, out.account().ok_or_else(|| malformed(OP, "account"))?).map(Some)
        })
        .await
    }

    /// ListAccounts, all pages (at most 20 accounts per page, the API's MaxResults limit): every
    /// member of the organization, its management account included. The membership sweep
    /// (docs/architecture.md, "AWS usage and rate limits"); one limiter token per page.
    pub async fn list_accounts(&self) -> Result<Vec<MemberAccount>, AwsError> {
        const OP: &str = AwsAction::ListAccounts.name();
        self.list_pages(OP, |token| async move {
            let page = self
                .orgs
                .list_accounts()
                .max_results(20)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            let mut accounts = Vec::new();
            for a in page.accounts() {
                let Some(id) = a.id() else {
                    tracing::warn!("skipping an account listed without an ID");
                    continue;
                };
                accounts.push(MemberAccount {
                    id: id.to_string(),
                    status: a.status().map(|s| s.as_str().to_string()),
                    joined_at: a.joined_timestamp().and_then(to_timestamp),
                    joined_method: a.joined_method().map(|m| m.as_str().to_string()),
                });
            }
            Ok((accounts, page.next_token))
        })
        .await
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
        let action = &action;
        self.list_pages(OP, |token| async move {
            let page = self
                .orgs
                .list_handshakes_for_organization()
                .filter(HandshakeFilter::builder().action_type(action.clone()).build())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            let mut handshakes = Vec::new();
            for h in page.handshakes() {
                match self.convert_handshake(h) {
                    Some(h) => handshakes.push(h),
                    None => tracing::warn!(handshake = ?h.id(), "skipping an incomplete handshake"),
                }
            }
            Ok((handshakes, page.next_token))
        })
        .await
    }

    /// Every page of the list call `operation`, one limiter token per page: `page` sends the
    /// request for a NextToken (`None` for the first page) and returns the page's items and its
    /// NextToken, which [`Pages`] follows or ends the list on. The outcome of the whole list
    /// is recorded with the observer once.
    pub(super) async fn list_pages<T, Fut>(
        &self,
        operation: &'static str,
        page: impl Fn(Option<String>) -> Fut,
    ) -> Result<Vec<T>, AwsError>
    where
        Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
    {
        let result = async {
            let mut pages = Pages::new(operation);
            let mut all = Vec::new();
            loop {
                self.limiter.acquire(operation).await;
                let (items, next) = page(pages.token()).await?;
                all.extend(items);
                if !pages.next(next.as_deref())? {
                    break;
                }
            }
            Ok(all)
        }
        .await;
        self.observer.record(operation, outcome(&result));
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
    //! Answers shaped as the model allows, not as one example shows. AWS Organizations API
    //! reference, data types: "Handshake" (every member Required: No), "HandshakeParty" (Id and
    //! Type required; Type ACCOUNT | ORGANIZATION | EMAIL), "HandshakeResource" (Type, Value,
    //! Resources all Required: No), "Account" and "Organization" (every member Required: No).
    use super::*;
    use aws_sdk_organizations::types::{Handshake as SdkHandshake, HandshakeState as SdkState};

    const MGMT: &str = "111111111111";
    const INVITEE: &str = "333333333333";

    fn party(t: HandshakePartyType, id: &str) -> HandshakeParty {
        HandshakeParty::builder().r#type(t).id(id).build().expect("party")
    }

    fn resource(t: HandshakeResourceType, value: &str) -> HandshakeResource {
        HandshakeResource::builder().r#type(t).value(value).build()
    }

    fn complete() -> aws_sdk_organizations::types::builders::HandshakeBuilder {
        SdkHandshake::builder()
            .id("h-abcdefgh")
            .arn("arn:aws:organizations::111111111111:handshake/o-aaaaaaaaaa/invite/h-abcdefgh")
            .state(SdkState::Open)
            .requested_timestamp(DateTime::from_secs(1_700_000_000))
            .expiration_timestamp(DateTime::from_secs_and_nanos(1_701_296_000, 500_000_000))
    }

    fn org_resource() -> HandshakeResource {
        HandshakeResource::builder()
            .r#type(HandshakeResourceType::Organization)
            .value("o-aaaaaaaaaa")
            .resources(resource(HandshakeResourceType::MasterEmail, "payer@example.com"))
            .build()
    }

    fn invitee(h: &SdkHandshake) -> Option<String> {
        convert_handshake(h, MGMT).expect("complete").account_id
    }

    #[test]
    fn converts_handshakes() {
        let h = complete()
            .parties(party(HandshakePartyType::Organization, "o-aaaaaaaaaa"))
            .parties(party(HandshakePartyType::Account, INVITEE))
            .build();
        let got = convert_handshake(&h, MGMT).expect("complete");
        assert_eq!(got.id, "h-abcdefgh");
        assert_eq!(got.state, HandshakeState::Open);
        assert_eq!(got.account_id.as_deref(), Some(INVITEE));
        assert_eq!(
            got.requested_at,
            Some(Timestamp::from_second(1_700_000_000).expect("ts"))
        );
        assert_eq!(got.expires_at.map(|t| t.subsec_nanosecond()), Some(500_000_000));
    }

    #[test]
    fn the_management_account_is_never_the_invitee_in_any_order() {
        // An independent emulator lists the management account as a second ACCOUNT party,
        // before the invitee (issue 10, item 5); the model promises neither count nor order.
        let orderings = [
            vec![
                party(HandshakePartyType::Organization, "o-aaaaaaaaaa"),
                party(HandshakePartyType::Account, MGMT),
                party(HandshakePartyType::Account, INVITEE),
            ],
            vec![
                party(HandshakePartyType::Account, INVITEE),
                party(HandshakePartyType::Account, MGMT),
                party(HandshakePartyType::Organization, "o-aaaaaaaaaa"),
            ],
            vec![
                party(HandshakePartyType::Account, MGMT),
                party(HandshakePartyType::Account, INVITEE),
                party(HandshakePartyType::Account, INVITEE),
            ],
        ];
        for parties in orderings {
            let h = complete().set_parties(Some(parties.clone())).build();
            assert_eq!(invitee(&h).as_deref(), Some(INVITEE), "{parties:?}");
        }
    }

    #[test]
    fn resources_name_the_invitee_when_parties_do_not() {
        // An EMAIL-targeted invitation names the account only in its resources.
        let nested = complete()
            .parties(party(HandshakePartyType::Organization, "o-aaaaaaaaaa"))
            .parties(party(HandshakePartyType::Email, "owner@example.com"))
            .resources(
                HandshakeResource::builder()
                    .r#type(HandshakeResourceType::Organization)
                    .value("o-aaaaaaaaaa")
                    .resources(resource(HandshakeResourceType::Account, INVITEE))
                    .build(),
            )
            .build();
        assert_eq!(invitee(&nested).as_deref(), Some(INVITEE));
        // Management account as a resource too, listed first; resources in reverse order.
        let flat = complete()
            .resources(resource(HandshakeResourceType::Notes, "welcome"))
            .resources(resource(HandshakeResourceType::Account, MGMT))
            .resources(resource(HandshakeResourceType::Account, INVITEE))
            .resources(org_resource())
            .build();
        assert_eq!(invitee(&flat).as_deref(), Some(INVITEE));
    }

    #[test]
    fn no_or_several_invitees_is_none() {
        let only_management = complete()
            .parties(party(HandshakePartyType::Account, MGMT))
            .resources(resource(HandshakeResourceType::Account, MGMT))
            .build();
        assert_eq!(invitee(&only_management), None);
        let nothing = complete().build();
        assert_eq!(invitee(&nothing), None);
        let two = complete()
            .parties(party(HandshakePartyType::Account, INVITEE))
            .parties(party(HandshakePartyType::Account, "444444444444"))
            .build();
        assert_eq!(invitee(&two), None, "ambiguous: found by ID only");
        // A resource without a value, and a resource without a type, are skipped.
        let valueless = complete()
            .resources(
                HandshakeResource::builder()
                    .r#type(HandshakeResourceType::Account)
                    .build(),
            )
            .resources(HandshakeResource::builder().value(INVITEE).build())
            .build();
        assert_eq!(invitee(&valueless), None);
    }

    #[test]
    fn parties_win_over_resources() {
        let h = complete()
            .parties(party(HandshakePartyType::Account, INVITEE))
            .resources(resource(HandshakeResourceType::Account, "444444444444"))
            .build();
        assert_eq!(invitee(&h).as_deref(), Some(INVITEE));
    }

    #[test]
    fn optional_members_are_none_not_a_lost_handshake() {
        // Only Id and State: still a handshake the operator can follow by its ID.
        let h = SdkHandshake::builder()
            .id("h-abcdefgh")
            .state(SdkState::Accepted)
            .build();
        let got = convert_handshake(&h, MGMT).expect("id and state are enough");
        assert_eq!(got.arn, None);
        assert_eq!(got.requested_at, None);
        assert_eq!(got.expires_at, None);
        assert_eq!(got.account_id, None);
    }

    #[test]
    fn without_id_or_known_state_nothing_can_be_decided() {
        assert!(convert_handshake(&SdkHandshake::builder().id("h-abcdefgh").build(), MGMT).is_none());
        assert!(convert_handshake(&SdkHandshake::builder().state(SdkState::Open).build(), MGMT).is_none());
        assert!(convert_handshake(&SdkHandshake::builder().id("").state(SdkState::Open).build(), MGMT).is_none());
        let unknown = SdkHandshake::builder()
            .id("h-abcdefgh")
            .state(SdkState::from("SOMETHING_NEW"))
            .build();
        assert!(convert_handshake(&unknown, MGMT).is_none());
    }

    #[test]
    fn timestamps_out_of_range_are_none() {
        let h = complete()
            .requested_timestamp(DateTime::from_secs(i64::MAX))
            .expiration_timestamp(DateTime::from_secs(i64::MIN))
            .build();
        let got = convert_handshake(&h, MGMT).expect("complete");
        assert_eq!((got.requested_at, got.expires_at), (None, None));
    }

    #[test]
    fn organization_needs_only_its_id_and_management_account() {
        use aws_sdk_organizations::types::Organization;
        let minimal = Organization::builder()
            .id("o-aaaaaaaaaa")
            .master_account_id(MGMT)
            .build();
        let info = organization_info(&minimal).expect("enough");
        assert_eq!(info.management_account_email, None);
        for incomplete in [
            Organization::builder().master_account_id(MGMT).build(),
            Organization::builder().id("o-aaaaaaaaaa").build(),
            Organization::builder().id("").master_account_id(MGMT).build(),
        ] {
            let e = organization_info(&incomplete).expect_err("incomplete");
            assert_eq!(e.class(), ErrorClass::Retryable);
            assert!(e.message().contains("incomplete organization"), "{}", e.message());
        }
    }

    #[test]
    fn account_members_are_optional_but_must_be_about_the_account() {
        use aws_sdk_organizations::types::{Account, AccountJoinedMethod};
        let bare = member_account(INVITEE, &Account::builder().build()).expect("a member");
        assert_eq!(
            (bare.id.as_str(), bare.joined_at, bare.joined_method, bare.status),
            (INVITEE, None, None, None)
        );
        let full = Account::builder()
            .id(INVITEE)
            .joined_method(AccountJoinedMethod::Invited)
            .joined_timestamp(DateTime::from_secs(1_700_000_000))
            .build();
        let got = member_account(INVITEE, &full).expect("a member");
        assert_eq!(got.joined_method.as_deref(), Some("INVITED"));
        assert_eq!(got.joined_at, Some(Timestamp::from_second(1_700_000_000).expect("ts")));
        let other = member_account(INVITEE, &Account::builder().id("444444444444").build());
        assert!(
            other
                .expect_err("another account")
                .message()
                .contains("another account")
        );
    }

    #[test]
    fn pages_end_on_absent_or_empty_tokens_and_refuse_loops() {
        let mut pages = Pages::new("ListHandshakesForOrganization");
        assert_eq!(pages.token(), None);
        assert!(pages.next(Some("a")).expect("first"));
        assert_eq!(pages.token().as_deref(), Some("a"));
        assert!(pages.next(Some("b")).expect("second"));
        let looped = pages.next(Some("a")).expect_err("a token seen before");
        assert_eq!(looped.class(), ErrorClass::Retryable);
        assert!(looped.message().contains("NextToken repeated"), "{}", looped.message());
        assert!(!Pages::new("op").next(None).expect("end"));
        assert!(!Pages::new("op").next(Some("")).expect("empty ends"));
        let mut many = Pages::new("op");
        let mut result = Ok(true);
        for i in 0..MAX_PAGES {
            result = many.next(Some(&i.to_string()));
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err(), "bounded at {MAX_PAGES} pages");
    }
}
