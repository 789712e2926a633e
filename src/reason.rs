//! The stable reasons the operator writes: [`Reason`] for conditions (and AWS error
//! classification, whose reasons become condition reasons) and [`EventReason`] for Kubernetes
//! Events. Both are an API: users match on them and docs/troubleshooting.md documents every
//! value of [`Reason::ALL`] and [`EventReason::ALL`] (tests/docs_reference.rs checks it).
//!
//! Each reason is its own CamelCase name, with its advice: what it means and what to do, for
//! the person reading `kubectl describe`.

use std::fmt;

/// Defines a reason enum whose values are spelled as their names, with `ALL`, `as_str`,
/// `advice`, `Display` and comparisons with strings (conditions store reasons as strings).
macro_rules! reasons {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[doc = $doc:literal])* $variant:ident => $advice:expr,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[doc = $doc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable CamelCase spelling (the variant's name).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }

            /// The value spelled `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|r| r.as_str() == text)
            }

            /// What it means and what to do, in one or two sentences.
            pub const fn advice(self) -> &'static str {
                match self {
                    $($name::$variant => $advice,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

reasons! {
    /// The reason of a condition (invite or profile), also the reason AWS errors are classified into.
    pub enum Reason {
        // The invite's progress.
        /// Reserved: nothing sent yet.
        Pending => "Nothing has been sent yet; wait.",
        /// An invitation is open; AWS emailed the account owner.
        AwaitingAcceptance => "An invitation is open: the account owner accepts it in the AWS Organizations console of \
            the invited account (Invitations).",
        /// The owner accepted and DescribeAccount confirms the membership.
        Accepted => "The account owner accepted the invitation and the account joined; the IAM access step follows.",
        /// The owner declined the invitation.
        Declined => "The account owner declined the invitation; talk to them, then set the reinvite annotation to a \
            new value or set spec.reinvite.onDeclined.",
        /// Nobody answered within 15 days.
        Expired => "Nobody answered the invitation within 15 days; check the account ID and re-invite with the \
            reinvite annotation.",
        /// The open invitation was canceled outside the operator.
        Canceled => "The open invitation was canceled outside the operator; re-invite with the reinvite annotation \
            if it should continue.",
        /// The policy would resend but `spec.reinvite.maxAttempts` are used up.
        MaxAttemptsReached => "All invitations allowed by spec.reinvite.maxAttempts were sent; raise it to try again.",
        /// The `awsinvite.io/reinvite` annotation's value breaks its grammar; nothing is sent.
        ReinviteRequestInvalid => "The awsinvite.io/reinvite annotation holds a value outside its grammar (1 to 63 \
            characters of letters, digits, '.', '_', ':' and '-', e.g. 2026-11-30T10:00:00Z). Nothing is sent until \
            it is fixed or removed; set it to a valid new value to ask for another invitation.",
        /// The daily invitation budget (the profile's or AWS's) is used up: queued.
        QuotaExhausted => "The organization has sent as many invitations as AWS allows in 24 hours (max(20, account \
            quota); accepted invitations are not counted). The invitation waits until the oldest ones fall out of \
            the 24-hour window.",
        /// The account already was a member; nothing sent.
        AlreadyMember => "The account already was a member of the profile's organization; no invitation was needed.",
        /// Joined (accepted, or already a member), but the account is no longer a member: it
        /// left, was removed, or moved to another organization.
        AccountLeftOrganization => "The account joined but is no longer a member of the organization (it left, \
            was removed, or moved to another organization); ask its owner why, then re-invite with the reinvite \
            annotation.",
        /// No BillingProfile of the name in `spec.billingProfile`.
        BillingProfileNotFound => "The BillingProfile named by spec.billingProfile does not exist; create it.",
        /// The profile does not admit the invite's namespace.
        BillingProfileNotAllowed => "The BillingProfile's spec.allowedNamespaces does not admit the invite's \
            namespace; ask the profile's owner to add it.",
        /// The profile is not Ready.
        BillingProfileNotReady => "The BillingProfile is not Ready; fix the profile (its own Ready condition says why).",
        /// AWS could not be reached, or a retryable failure.
        AwsUnavailable => "AWS could not be reached or answered with a server error; the operator retries with backoff.",
        /// An invitation is about to go out (or waits for the 5-minute floor).
        SendingInvitation => "The operator is about to send an invitation, or waits for the 5 minutes between two \
            invitations; wait.",
        /// Reserved: waiting for the account to appear as a member.
        AwaitingJoin => "Waiting for the account to appear as a member; wait.",
        /// Reserved: a check is under way.
        Checking => "The operator is checking; wait.",
        /// Joined and IAM access verified (or not required).
        Ready => "The account joined and IAM access is verified (or not required); nothing to do.",
        /// Reserved: nothing to do.
        Idle => "Nothing to do.",
        /// The reason of every `Stalled=False`.
        Progressing => "Not stalled; nothing to do.",
        // The IAM access step.
        /// The invite has no `spec.iamAccess`.
        NotRequired => "The invite has no spec.iamAccess; nothing to do.",
        /// The role exists and trusts the principal with the external ID.
        Verified => "The cost tool's role exists and its trust policy is as required; nothing to do.",
        /// Someone set the confirmation annotation.
        ConfirmedManually => "IAM access was confirmed by hand with the iam-access-confirmed annotation.",
        /// Manual verification, no confirmation yet.
        AwaitingManualConfirmation => "Once the account owner created the role, set the annotation \
            awsinvite.io/iam-access-confirmed: \"true\".",
        /// The member access role cannot be assumed, or may not call iam:GetRole.
        MemberAccessDenied => "The operator cannot assume the member access role in the account, or that role may not \
            call iam:GetRole; the owner creates the role trusting the management account.",
        /// The cost tool's role does not exist (also the AWS reason of IAM's NoSuchEntity).
        RoleNotFound => "The IAM role does not exist in the account.",
        /// The role's trust policy does not allow what the spec asks.
        TrustPolicyMismatch => "The role's trust policy does not allow the trusted principal (with the external ID); \
            the owner fixes it.",
        /// Whether IAM allows the request depends on something the operator cannot know.
        TrustPolicyNotEvaluable => "Whether IAM lets the trusted principal assume the role depends on something the \
            operator cannot know (e.g. another condition key); check the policy by hand, then set \
            spec.iamAccess.verification: Manual and the iam-access-confirmed annotation.",
        /// The invite's tags break its profile's spec.tagPolicy.
        TagNotAllowed => "The invite's spec.tags use a key the BillingProfile's spec.tagPolicy does not allow \
            (allowedKeyPrefixes), or set the key the operator sets itself (namespaceTagKey). Nothing was sent; \
            change the invite's tags or ask the profile's administrator.",
        /// Another invite (or BillingTransfer) owns this account (or customer) for the profile's organization.
        AccountClaimed => "Another AwsAccountInvite (for a BillingTransfer: another BillingTransfer) already owns \
            this account for the BillingProfile's organization (the first to name an account owns it); only that one \
            may invite, adopt, cancel, resend, withdraw or check it. Nothing was sent or read; delete this object, or \
            ask whoever owns the other one.",
        /// The external ID's Secret or key is missing.
        ExternalIdSecretNotFound => "The Secret named by spec.iamAccess.externalIdSecretRef, or its key, does not \
            exist; create it or fix the reference.",
        // The BillingProfile.
        /// The credentials reach the organization the spec names.
        OrganizationReached => "The credentials reach the organization the spec names; nothing to do.",
        /// The credentials reach another organization.
        WrongOrganization => "The credentials reach another organization than the spec names; fix the credentials \
            or the spec.",
        /// The profile has not been checked yet.
        NotChecked => "The operator has not checked the profile yet; wait a few seconds.",
        /// The credentials Secret is outside the operator's credentials namespace.
        CredentialsNamespaceNotAllowed => "spec.credentials.secretRef names a namespace other than the \
            operator's credentials namespace (--credentials-namespace, by default the operator's own namespace); \
            the operator reads credentials Secrets only there. Put the Secret there and drop the namespace or name \
            that one.",
        /// The endpoint override is not allowed by the operator's installer.
        EndpointNotAllowed => "spec.endpointUrl names an endpoint this operator does not use: overrides are off \
            unless its installer turns them on (--allow-endpoint-override), and then only hosts on \
            --endpoint-allowlist are used. No request was sent there. Remove spec.endpointUrl to use AWS, or ask the \
            installer to allow the host.",
        // AWS errors (see `crate::aws::classify`).
        /// AWS throttled the request.
        Throttled => "AWS throttled the request; the operator retries with backoff.",
        /// A concurrent change to the organization.
        ConcurrentModification => "AWS reported a concurrent change to the organization; the operator retries with \
            backoff.",
        /// An open invitation to the account already exists.
        DuplicateHandshake => "An open invitation to this account from this organization already exists; the \
            operator adopts it instead of sending another.",
        /// The account changed organizations too often recently.
        MembershipChangeRateLimited => "The invited account changed organizations too recently (AWS: \"You \
            attempted to change the membership of an account too quickly after its previous change\"); AWS refuses \
            new invitations for a while. The operator retries with backoff; nothing to do.",
        /// The organization is migrating to all features.
        EnableAllFeaturesInProgress => "The organization is migrating to all features, during which AWS does not \
            allow invitations; the operator retries when it has finished.",
        /// The organization's account quota is reached.
        AccountLimitExceeded => "The organization has reached its account quota (members plus open invitations). \
            Cancel unneeded open invitations, remove accounts, or ask AWS Support (Service Quotas, AWS \
            Organizations) to raise the quota.",
        /// The account belongs to another organization.
        AlreadyInOrganization => "The account is already a member of another AWS organization. Its owner must first \
            leave that organization (in the AWS Organizations console of the account: Leave organization; or have \
            the other organization's management account remove it), then the invitation can be accepted.",
        /// The account manages an organization of its own.
        ManagementAccountOfAnotherOrganization => "The account is the management account of its own AWS \
            organization and cannot join another one. Its owner must first remove all member accounts from that \
            organization (AWS Organizations console: select each account, Remove), then delete the organization \
            (Settings: Delete organization), and then accept the invitation. To keep its organization instead, \
            create a BillingTransfer for its management account: the payer takes over the organization's bill \
            (AWS billing transfer) without dismantling it.",
        /// Different AWS sellers of record.
        DifferentSellerOfRecord => "The account and this organization have different AWS sellers of record (e.g. \
            AWS Inc. and AWS Europe or AISPL); AWS does not allow the invitation. Contact AWS Support.",
        /// Another organization constraint.
        HandshakeConstraintViolation => "AWS refused the invitation with a HandshakeConstraintViolation reason the \
            operator does not know (a newer AWS model); AWS's reason and text follow. Act on them, then touch the \
            invite or set the reinvite annotation, and report the reason so it gets its own.",
        /// AWS knows no such account in the organization.
        AccountNotFound => "AWS reports no such account in this organization; check that the 12-digit account ID is \
            correct.",
        /// AWS does not know the handshake.
        HandshakeNotFound => "AWS does not know this handshake (it may be older than 30 days or belong to another \
            organization).",
        /// The handshake already ended.
        InvalidHandshakeTransition => "The handshake has already ended, so it cannot change state any more.",
        /// The handshake is already in that state.
        HandshakeAlreadyInState => "The handshake is already in the requested state.",
        /// AWS rejected the request as invalid.
        InvalidInput => "AWS rejected the request as invalid; check the spec (account ID, notes at most 1024 \
            characters, tags).",
        /// An AWS error the operator does not know.
        AwsRequestFailed => "The AWS request failed.",
        /// The credentials may not make this call.
        AccessDenied => "The profile's credentials are not allowed to do this. They must belong to the \
            organization's management account (or a role in it) with the organizations:* permissions the operator \
            needs.",
        /// The credentials' account is in no organization.
        OrganizationsNotInUse => "The profile's credentials belong to an account that is not in an AWS \
            organization. Check the profile's credentials and managementAccountId.",
        /// Unknown access key or bad signature.
        InvalidCredentials => "AWS rejected the profile's credentials (unknown access key or bad signature). Check \
            the credentials secret or the operator's IAM role.",
        /// The credentials expired.
        ExpiredCredentials => "The profile's credentials have expired. Refresh the credentials secret or check the \
            operator's IAM role setup.",
        /// No credentials could be loaded.
        CredentialsUnavailable => "No AWS credentials could be loaded for the profile (nothing in the operator's \
            default chain, or the role in spec.credentials.roleArn could not be assumed).",
        /// The management account has no valid payment method.
        PaymentInstrumentRequired => "AWS does not send invitations from a management account without a payment \
            instrument (AWS: \"You can't complete the operation with an account that doesn't have a payment \
            instrument, such as a credit card, associated with it\"). Add a valid payment method to the \
            management account (Billing and Cost Management console: Payment preferences), then touch the invite \
            or set the reinvite annotation to a new value.",
        /// The invited account has no valid payment method.
        MemberPaymentInstrumentRequired => "AWS refused because the invited account has no valid payment \
            instrument (ConstraintViolation MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED). Its owner adds one in the \
            Billing and Cost Management console; then touch the invite or set the reinvite annotation.",
        /// The management account's email is not verified.
        ManagementEmailNotVerified => "AWS does not send invitations until the management account's email address \
            is verified (AWS: \"You can't invite an existing account to your organization until you verify that \
            you own the email address associated with the management account\"). Follow the link in the \
            verification email AWS sent to that address (or request a new one in the Organizations console), \
            then touch the invite or set the reinvite annotation to a new value.",
        /// The management account lacks information AWS requires (contact, business licence, address).
        ManagementAccountIncomplete => "AWS refused because the management account lacks information it requires \
            (contact information, a business license, or an address matching its AWS Marketplace seller; the AWS \
            reason in the message says which). Complete it in the account settings of the management account, \
            then touch the invite or set the reinvite annotation.",
        /// The organization has an invoice past due.
        PastDueInvoice => "AWS refused because the organization has an invoice that is past due (AWS: \"Your \
            organization has an invoice that is past due\"). Pay it in the Billing and Cost Management console \
            of the management account, then touch the invite or set the reinvite annotation to a new value.",
        /// The organization has an unused prepayment balance.
        UnusedPrepaymentBalance => "AWS refused because the organization has an outstanding prepayment balance \
            (AWS: \"Your organization has an outstanding pre-payment balance\"). Settle it with AWS (Billing and \
            Cost Management console, or AWS Support), then touch the invite or set the reinvite annotation.",
        /// The organization still uses the legacy billing IAM actions.
        LegacyPermissionsStillInUse => "AWS refused because the organization still uses the legacy IAM actions \
            for billing (AWS: \"Your organization must migrate to use the new IAM fine-grained actions for \
            billing, cost management, and accounts\"). Migrate the policies (Billing console: the fine-grained \
            permissions migration), then touch the invite or set the reinvite annotation.",
        /// AWS could not validate the invited account (billing transfer).
        TargetAccountValidationFailure => "AWS could not validate the invited account (AWS: \"Billing transfer \
            is not available for your account. Contact your billing administrator or Amazon Web Services Support \
            for assistance\"). Contact AWS Support; then touch the invite or set the reinvite annotation.",
        /// A billing-transfer refusal: the transfer already exists.
        ResponsibilityTransferExists => "AWS refused because a billing responsibility transfer with this account \
            already exists (AWS: \"You cannot perform this operation with the current transfer\"). End or use \
            that transfer in the Billing console before inviting the account.",
        /// The invited account is the sender itself.
        SourceAndTargetCannotMatch => "AWS refused because the invited account is the organization's own \
            management account (AWS: \"An account can't accept a transfer invitation if it is both the sender and \
            recipient of the invitation\"). Check spec.accountId.",
        /// A refusal that belongs to an enable-all-features request.
        AllFeaturesAlreadyEnabled => "AWS answered that the organization already has all features enabled, a \
            refusal of an enable-all-features request that the operator never makes; touch the invite to try \
            again, and report it if it lasts.",
        /// The account must wait after being created before it can change organizations.
        WaitPeriodActive => "AWS refused because the account was created too recently to change organizations \
            (ConstraintViolation WAIT_PERIOD_ACTIVE: at least seven days after creation). The operator retries with \
            backoff.",
        /// Tags the operator applies were refused.
        TagsRefused => "AWS refused the tags of spec.tags (too many tags, or a tag policy of the organization \
            forbids them; the AWS reason in the message says which). Fix spec.tags.",
        /// STS is disabled in the region.
        RegionDisabled => "STS is not enabled in the profile's region; use another region or enable it.",
        /// A billing transfer invitation went out (InvitationSent=True of a BillingTransfer).
        Sent => "The billing transfer invitation went out; the customer's management account decides.",
        /// The start month cannot be invited for yet.
        StartMonthNotYetOpen => "AWS accepts only the next month or the one after as a transfer's start; the \
            invitation goes out by itself when the start month is in that window.",
        /// The start month's acceptance deadline has passed.
        StartMonthTooEarly => "The start month's acceptance deadline (24 hours before its first day, 00:00 UTC) has \
            passed; set spec.startMonth to the month the message names or later.",
        /// The payer manages the customer's bill now.
        InEffect => "The billing transfer is in effect: the payer manages and pays the customer organization's \
            consolidated bill.",
        /// The transfer is withdrawn; it ends at its end month.
        Withdrawn => "The billing transfer was withdrawn; it ends at 23:59:59 UTC on the last day of its end month. \
            AWS cannot undo a withdrawal.",
        /// A withdrawn transfer has ended.
        Ended => "The withdrawn billing transfer has ended; the customer pays its own bill again.",
        /// spec.endMonth has passed.
        EndMonthTooEarly => "spec.endMonth has passed: AWS ends a transfer at the end of the current or next month. \
            Delete the resource with deletionPolicy Withdraw to end it now.",
        /// spec.endMonth waits until AWS allows it.
        EndMonthNotYetOpen => "spec.endMonth is more than a month ahead; the withdrawal is requested when AWS \
            allows it.",
        /// AWS no longer lists the recorded transfer.
        TransferNotFound => "AWS no longer lists the recorded billing transfer for the profile's organization; \
            recreate the resource to invite again.",
        /// AWS refused the billing transfer invitation.
        InvitationRefused => "AWS refused the billing transfer invitation (the message names AWS's reason); it is \
            not sent again until the spec changes.",
    }
}

reasons! {
    /// The reason of a Kubernetes Event the operator publishes.
    pub enum EventReason {
        /// The first invitation went out.
        InvitationSent => "The first invitation went out.",
        /// Another invitation went out (policy or annotation).
        ReInvited => "Another invitation went out (policy or annotation).",
        /// An open invitation sent earlier was adopted.
        Adopted => "An open invitation sent earlier was adopted instead of sending one.",
        /// The daily budget (the profile's or AWS's) is used up.
        Queued => "The daily invitation budget is used up; the invitation goes out by itself later.",
        /// The owner accepted and the account joined.
        Accepted => "The account owner accepted and the account joined.",
        /// The account was already a member; nothing sent.
        AlreadyMember => "The account was already a member; nothing was sent.",
        /// The owner declined the invitation.
        Declined => "The invitation was declined.",
        /// The invitation expired unanswered.
        Expired => "The invitation expired unanswered.",
        /// The invitation was canceled (outside the operator, or on deletion by the operator).
        Canceled => "The invitation was canceled.",
        /// The account left the organization (or was removed, or moved to another) after joining.
        AccountLeftOrganization => "The account is no longer a member of the organization: it left, was removed, \
            or moved to another organization.",
        /// A new reinvite annotation value was ignored: maxAttempts are used up.
        ReinviteRefused => "A new reinvite annotation value was ignored because spec.reinvite.maxAttempts are used up.",
        /// The invite stalled.
        Stalled => "The invite stalled; the message says why and what to do.",
        /// Sending failed with a retryable error.
        AwsUnavailable => "Sending failed with a retryable error; the operator retries.",
        /// Sending failed because the profile's credentials were refused.
        BillingProfileNotReady => "Sending failed because the profile's credentials were refused.",
        /// The automatic IAM check passed.
        IamAccessVerified => "The automatic IAM access check passed.",
        /// IAM access was confirmed by hand.
        IamAccessConfirmed => "IAM access was confirmed by hand.",
        /// The invite became Ready.
        Ready => "The invite became Ready.",
        /// On deletion the open invitation could not be canceled.
        CancelSkipped => "On deletion, the open invitation could not be canceled (the profile is missing or not \
            ready); cancel it in the AWS Organizations console.",
        /// The profile became Ready.
        OrganizationReached => "The billing profile became Ready.",
        /// The profile is not Ready.
        NotReady => "The billing profile is not Ready; its Ready condition says why.",
        /// A billing transfer was renamed in AWS.
        Renamed => "spec.name changed and the billing transfer was renamed in AWS.",
        /// A billing transfer was withdrawn.
        Withdrawn => "The billing transfer was withdrawn; it ends at the end of its end month.",
        /// AWS refused a billing transfer invitation.
        InvitationRefused => "AWS refused the billing transfer invitation; the message says why.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_spelled_as_its_name_and_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert!(!r.advice().is_empty());
            assert!(r.as_str().chars().next().is_some_and(|c| c.is_ascii_uppercase()), "{r}");
        }
        assert_eq!(Reason::AccountLeftOrganization, "AccountLeftOrganization");
        assert_eq!(EventReason::ReInvited.to_string(), "ReInvited");
        assert_eq!(EventReason::ALL.len(), 23);
    }

    /// Issue 13: a management account of another organization is told about billing transfer,
    /// the alternative to dismantling its organization, both in the reason's advice and in
    /// every AwaitingAcceptance message of an invite.
    #[test]
    fn management_accounts_hear_of_billing_transfer() {
        for text in [
            Reason::ManagementAccountOfAnotherOrganization.advice(),
            crate::reconcile::invite::ANOTHER_ORGANIZATION_ADVICE,
        ] {
            assert!(text.contains("BillingTransfer"), "{text}");
            assert!(text.contains("AWS billing transfer"), "{text}");
        }
    }
}
