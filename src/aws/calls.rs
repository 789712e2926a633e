//! The AWS actions the operator calls, and where the outcome of every call goes (metrics): the
//! observer trait and the outcome label. Used by the clients ([`super::client`]) and every
//! wrapper of an AWS call.

use super::error::AwsError;

/// Receives the outcome of every AWS call (for metrics: AWS calls by operation and outcome).
pub trait AwsCallObserver: Send + Sync {
    /// `operation` is the AWS operation name (e.g. `InviteAccountToOrganization`); `outcome` is
    /// `"success"` or the error's stable reason (e.g. `Throttled`).
    fn record(&self, operation: &'static str, outcome: &str);
}

/// An observer that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl AwsCallObserver for NoopObserver {
    fn record(&self, _operation: &'static str, _outcome: &str) {}
}

/// `"success"` or the error's reason, for [`AwsCallObserver::record`].
pub(crate) fn outcome<T>(result: &Result<T, AwsError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(e) => e.reason().as_str(),
    }
}

/// Every AWS action the operator calls. Each wrapper names its operation from here, and the
/// operator's IAM policy (docs/install.md) must allow every [`AwsAction::iam_action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwsAction {
    /// organizations:DescribeOrganization (the profile check).
    DescribeOrganization,
    /// organizations:InviteAccountToOrganization.
    InviteAccountToOrganization,
    /// organizations:CancelHandshake.
    CancelHandshake,
    /// organizations:DescribeHandshake.
    DescribeHandshake,
    /// organizations:DescribeAccount (membership).
    DescribeAccount,
    /// organizations:ListHandshakesForOrganization (the sweep).
    ListHandshakesForOrganization,
    /// organizations:ListAccounts (the membership sweep).
    ListAccounts,
    /// sts:AssumeRole (the profile's role, the member access role).
    AssumeRole,
    /// iam:GetRole (the IAM access check, in the member account).
    GetRole,
}

impl AwsAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [AwsAction] = &[
        Self::DescribeOrganization,
        Self::InviteAccountToOrganization,
        Self::CancelHandshake,
        Self::DescribeHandshake,
        Self::DescribeAccount,
        Self::ListHandshakesForOrganization,
        Self::ListAccounts,
        Self::AssumeRole,
        Self::GetRole,
    ];

    /// The operation name, e.g. `InviteAccountToOrganization` (also the metrics label).
    pub const fn name(self) -> &'static str {
        match self {
            Self::DescribeOrganization => "DescribeOrganization",
            Self::InviteAccountToOrganization => "InviteAccountToOrganization",
            Self::CancelHandshake => "CancelHandshake",
            Self::DescribeHandshake => "DescribeHandshake",
            Self::DescribeAccount => "DescribeAccount",
            Self::ListHandshakesForOrganization => "ListHandshakesForOrganization",
            Self::ListAccounts => "ListAccounts",
            Self::AssumeRole => "AssumeRole",
            Self::GetRole => "GetRole",
        }
    }

    /// The IAM service prefix: `organizations`, `sts` or `iam`.
    pub const fn service(self) -> &'static str {
        match self {
            Self::AssumeRole => "sts",
            Self::GetRole => "iam",
            _ => "organizations",
        }
    }

    /// The IAM action, e.g. `organizations:InviteAccountToOrganization`.
    pub fn iam_action(self) -> String {
        format!("{}:{}", self.service(), self.name())
    }
}
