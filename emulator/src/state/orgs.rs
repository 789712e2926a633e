//! Organizations and accounts: the seed's world, membership, DescribeOrganization,
//! DescribeAccount, ListAccounts, LeaveOrganization, RemoveAccountFromOrganization.

use super::validate::{check_account_id, is_account_id, is_org_id, paginate};
use super::{DEFAULT_ACCOUNT_QUOTA, HandshakeState, Page, State, Time, random_lower_alnum};
use crate::error::AwsError;
use crate::seed::{SeedAccount, SeedError, SeedOrganization};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The root's ID, `r-` and 4 characters from `[0-9a-z]` (every organization has one root).
    pub root_id: String,
    /// Tags on the root.
    #[serde(default)]
    pub root_tags: BTreeMap<String, String>,
}

impl Organization {
    /// `arn:aws:organizations::<mgmt>:root/<org-id>/<root-id>`.
    pub fn root_arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:root/{}/{}",
            self.management_account_id, self.id, self.root_id
        )
    }

    /// `arn:aws:organizations::<mgmt>:organization/<org-id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:organization/{}",
            self.management_account_id, self.id
        )
    }
}

impl State {
    fn make_account(a: &SeedAccount) -> Result<Account, SeedError> {
        if !is_account_id(&a.id) {
            return Err(SeedError::Invalid(format!("account ID {:?} is not 12 digits", a.id)));
        }
        Ok(Account {
            id: a.id.clone(),
            email: a.email.clone().unwrap_or_else(|| default_email(&a.id)),
            name: a.name.clone().unwrap_or_else(|| format!("Account {}", a.id)),
            organization_id: None,
            joined_method: None,
            joined_at: None,
            tags: BTreeMap::new(),
        })
    }

    /// The account `id`, created as a standalone account with the default email and name if the
    /// emulator does not know it yet: every 12-digit ID names an account (see README, "Accounts
    /// the seed does not list"). `None` for IDs that are not 12 digits.
    pub fn ensure_account(&mut self, id: &str) -> Option<&Account> {
        if !self.accounts.contains_key(id) {
            let acct = Self::make_account(&SeedAccount::new(id)).ok()?;
            self.accounts.insert(id.to_string(), acct);
        }
        self.accounts.get(id)
    }

    /// The root email of account `id`: the known account's, else the default
    /// `account-<id>@example.com` every unlisted account has.
    pub fn email_of(&self, id: &str) -> String {
        self.accounts
            .get(id)
            .map(|a| a.email.clone())
            .unwrap_or_else(|| default_email(id))
    }

    /// The account whose root email is `email` (case-insensitive): a known account's, or an
    /// unlisted account's default `account-<id>@example.com`.
    pub fn account_for_email(&self, email: &str) -> Option<String> {
        if let Some(a) = self.accounts.values().find(|a| a.email.eq_ignore_ascii_case(email)) {
            return Some(a.id.clone());
        }
        let id = email
            .to_ascii_lowercase()
            .strip_prefix("account-")?
            .strip_suffix("@example.com")?
            .to_string();
        (is_account_id(&id) && !self.accounts.contains_key(&id)).then_some(id)
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
            root_id: format!("r-{}", random_lower_alnum(4)),
            root_tags: BTreeMap::new(),
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
        self.detach(&org.management_account_id);
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

    /// CreateOrganization: the caller, in no organization, becomes the management account of a
    /// new one. It joins with JoinedMethod INVITED (the AccountJoinedOrganization event of
    /// CreateOrganization carries joinedMethod:INVITED, API reference).
    pub fn create_organization(
        &mut self,
        caller: &str,
        feature_set: Option<&str>,
        now: Time,
    ) -> Result<Organization, AwsError> {
        if self.caller_org(caller).is_ok() {
            return Err(AwsError::client(
                "AlreadyInOrganizationException",
                "This account is already a member of an organization. An account can belong to only one organization at a time.",
            ));
        }
        let feature_set = feature_set.unwrap_or("ALL");
        if !matches!(feature_set, "ALL" | "CONSOLIDATED_BILLING") {
            return Err(AwsError::invalid_input(
                "INVALID_ENUM",
                format!("You specified an invalid value for FeatureSet: {feature_set}."),
            ));
        }
        let mut id = format!("o-{}", random_lower_alnum(10));
        while self.organizations.contains_key(&id) {
            id = format!("o-{}", random_lower_alnum(10));
        }
        let org = Organization {
            id: id.clone(),
            management_account_id: caller.to_string(),
            feature_set: feature_set.to_string(),
            account_quota: DEFAULT_ACCOUNT_QUOTA,
            root_id: format!("r-{}", random_lower_alnum(4)),
            root_tags: BTreeMap::new(),
        };
        self.ensure_account(caller);
        if let Some(a) = self.accounts.get_mut(caller) {
            a.organization_id = Some(id.clone());
            a.joined_method = Some("INVITED".into());
            a.joined_at = Some(now);
        }
        self.organizations.insert(id.clone(), org.clone());
        self.default_organization.get_or_insert(id);
        Ok(org)
    }

    /// DeleteOrganization (management account only; the organization must have no members).
    pub fn delete_own_organization(&mut self, caller: &str) -> Result<(), AwsError> {
        let org = self.caller_managed_org(caller)?.id.clone();
        self.delete_organization(&org)
    }

    /// ListRoots (management account only): the organization's one root.
    pub fn list_roots(&self, caller: &str) -> Result<Organization, AwsError> {
        self.caller_managed_org(caller).cloned()
    }

    /// Members of an organization, management account included, sorted by ID.
    pub fn members(&self, org_id: &str) -> Vec<&Account> {
        self.accounts
            .values()
            .filter(|a| a.organization_id.as_deref() == Some(org_id))
            .collect()
    }
    pub(crate) fn caller_org(&self, caller: &str) -> Result<&Organization, AwsError> {
        self.accounts
            .get(caller)
            .and_then(|a| a.organization_id.as_ref())
            .and_then(|o| self.organizations.get(o))
            .ok_or_else(AwsError::not_in_use)
    }

    pub(crate) fn caller_managed_org(&self, caller: &str) -> Result<&Organization, AwsError> {
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
        let items = self.members(&org.id).into_iter().cloned().collect();
        let page = paginate(items, |a: &Account| a.id.clone(), "acct-", max, token)?;
        Ok((page, org))
    }

    pub(crate) fn detach(&mut self, account_id: &str) {
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

    /// The account moves to organization `org_id` by a way the operator's organization does
    /// not see (it accepted that organization's invitation: AWS moves a member directly). A
    /// management account cannot move; the target's account quota applies.
    pub fn move_account(&mut self, account_id: &str, org_id: &str, now: Time) -> Result<Account, AwsError> {
        let org = self
            .organizations
            .get(org_id)
            .cloned()
            .ok_or_else(AwsError::not_in_use)?;
        if self
            .organizations
            .values()
            .any(|o| o.management_account_id == account_id)
        {
            return Err(AwsError::master_cannot_leave());
        }
        self.ensure_account(account_id);
        let already = self
            .accounts
            .get(account_id)
            .is_some_and(|a| a.organization_id.as_deref() == Some(org_id));
        if !already && self.members(org_id).len() >= org.account_quota as usize {
            return Err(AwsError::client(
                "ConstraintViolationException",
                "You have reached the limit on the number of accounts in an organization.",
            ));
        }
        self.detach(account_id);
        let a = self
            .accounts
            .get_mut(account_id)
            .ok_or_else(|| AwsError::account_not_found(account_id))?;
        a.organization_id = Some(org_id.to_string());
        a.joined_method = Some("INVITED".into());
        a.joined_at = Some(now);
        Ok(a.clone())
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
}

/// The email of an account the seed does not list.
pub(crate) fn default_email(id: &str) -> String {
    format!("account-{id}@example.com")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use crate::state::ModelOptions;
    use chrono::{TimeZone, Utc};

    fn t0() -> Time {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
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
}
