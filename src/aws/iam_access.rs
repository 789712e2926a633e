//! The automatic IAM access check (docs/architecture.md, "API", the IAM access step): assume
//! the member access role in the new member account, read the cost tool's role with
//! iam:GetRole and check that its trust policy trusts the expected principal with the expected
//! `sts:ExternalId`.

use super::calls::{AwsAction, outcome};
use super::client::{DEFAULT_SESSION_NAME, ProfileClients};
use super::error::{AwsError, ErrorClass};
use super::trust_policy::{self, Verdict};
use crate::api::IAM_ACCESS_CONFIRMED_ANNOTATION;
use crate::reason::Reason;

/// The result of [`verify_member_role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamCheck {
    /// The role exists and its trust policy allows the trusted principal (with the external ID).
    Verified,
    /// Not (yet) in place; re-check with backoff.
    Missing {
        /// `MemberAccessDenied`, `RoleNotFound`, `TrustPolicyMismatch` (IAM would refuse the
        /// request) or `TrustPolicyNotEvaluable` (the answer depends on something the operator
        /// cannot know).
        reason: Reason,
        /// What exactly is missing, for `kubectl describe`.
        message: String,
    },
}

/// Checks the IAM access step for `account_id`: assumes
/// `arn:aws:iam::<account_id>:role/<member_access_role_name>` with the profile's credentials,
/// calls iam:GetRole for `role_name` with the assumed credentials and checks the role's trust
/// policy as IAM would ([`trust_policy::evaluate`]). Returns `Missing` for what the customer has to fix and
/// `Err` for failures of the calls themselves (throttling, network, the profile's credentials).
pub async fn verify_member_role(
    clients: &ProfileClients,
    account_id: &str,
    member_access_role_name: &str,
    role_name: &str,
    trusted_principal: &str,
    external_id: Option<&str>,
) -> Result<IamCheck, AwsError> {
    let member_role_arn = format!("arn:aws:iam::{account_id}:role/{member_access_role_name}");
    let creds = match clients.assume_role(&member_role_arn, DEFAULT_SESSION_NAME, None).await {
        Ok(c) => c,
        Err(e) if matches!(e.reason(), Reason::AccessDenied | Reason::RoleNotFound) => {
            return Ok(IamCheck::Missing {
                reason: Reason::MemberAccessDenied,
                message: format!(
                    "The operator cannot assume {member_role_arn} to check IAM access in account {account_id}. \
                     The role must exist in the member account and trust the payer's management account \
                     (or set spec.iamAccess.memberAccessRoleName on the billing profile to a role that does). ({})",
                    e.aws_message().unwrap_or(e.reason().as_str())
                ),
            });
        }
        Err(e) => return Err(e),
    };
    const OP: &str = AwsAction::GetRole.name();
    let iam = clients.iam_with(creds);
    clients.limiter.acquire(OP).await;
    let result = iam
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e, |_| None));
    clients.observer.record(OP, outcome(&result));
    let out = match result {
        Ok(out) => out,
        Err(e) if e.reason() == Reason::RoleNotFound => {
            return Ok(IamCheck::Missing {
                reason: Reason::RoleNotFound,
                message: format!(
                    "The IAM role {role_name} does not exist in account {account_id}. Create it there with a trust \
                     policy that allows {trusted_principal} to call sts:AssumeRole{}.",
                    if external_id.is_some() {
                        " with the condition StringEquals sts:ExternalId"
                    } else {
                        ""
                    }
                ),
            });
        }
        Err(e) if e.reason() == Reason::AccessDenied => {
            return Ok(IamCheck::Missing {
                reason: Reason::MemberAccessDenied,
                message: format!(
                    "{member_role_arn} may not call iam:GetRole on {role_name} in account {account_id}; grant it \
                     iam:GetRole (e.g. the ReadOnlyAccess or SecurityAudit managed policy)."
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let Some(encoded) = out.role().and_then(|r| r.assume_role_policy_document()) else {
        return Ok(IamCheck::Missing {
            reason: Reason::TrustPolicyMismatch,
            message: format!("The IAM role {role_name} in account {account_id} has no trust policy."),
        });
    };
    let policy = urlencoding::decode(encoded).map_err(|e| {
        AwsError::local(
            OP,
            ErrorClass::Retryable,
            Reason::AwsUnavailable,
            format!("the trust policy is not valid URL encoding: {e}"),
        )
    })?;
    Ok(match trust_policy::evaluate(&policy, trusted_principal, external_id) {
        Verdict::Allowed { .. } => IamCheck::Verified,
        Verdict::Refused(refusal) => IamCheck::Missing {
            reason: Reason::TrustPolicyMismatch,
            message: format!("The trust policy of IAM role {role_name} in account {account_id}: {refusal}."),
        },
        Verdict::NotEvaluable(why) => IamCheck::Missing {
            reason: Reason::TrustPolicyNotEvaluable,
            message: format!(
                "The operator cannot tell whether the trust policy of IAM role {role_name} in account {account_id} \
                     lets {trusted_principal} assume it: {why}. Check the policy by hand, then set \
                     spec.iamAccess.verification: Manual and the annotation {IAM_ACCESS_CONFIRMED_ANNOTATION}: \"true\"."
            ),
        },
    })
}
