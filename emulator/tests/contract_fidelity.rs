//! Faithfulness where AWS's model or documentation says what happens (issue "usable from a
//! fresh start by any SDK, and faithful where AWS's model says so"): accounts the seed does not
//! list, tags, STS MaxSessionDuration, validation derived from the model, one open invitation
//! per account, and a call log that records what AWS did. Each test cites its source; the
//! model is botocore's `botocore/data/organizations/2016-11-28/service-2.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use aws_sdk_organizations::types::{
    AccountJoinedMethod, HandshakeFilter, HandshakeParty, HandshakePartyType, HandshakeState, Tag,
};
use common::*;
use orgs_emulator::{Fault, FaultKind};
use std::time::{Duration, Instant};

fn party(ty: HandshakePartyType, id: &str) -> HandshakeParty {
    HandshakeParty::builder().r#type(ty).id(id).build().unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

/// Polls `check` until it holds or `deadline` passes.
async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// README rule: every 12-digit ID names an account; one the seed does not list is a standalone
/// account with email account-<id>@example.com, so it can be invited, answer and join.
#[tokio::test]
async fn unseeded_accounts_go_through_invite_accept_member() {
    let emu = start().await;
    let m = orgs(&emu, MGMT);
    let h = invite(&m, "777777777777").await;
    let who = orgs(&emu, "777777777777");
    let listed = who.list_handshakes_for_account().send().await.unwrap();
    assert_eq!(listed.handshakes().len(), 1);
    let accepted = who.accept_handshake().handshake_id(&h).send().await.unwrap();
    assert_eq!(accepted.handshake.unwrap().state(), Some(&HandshakeState::Accepted));
    let a = m
        .describe_account()
        .account_id("777777777777")
        .send()
        .await
        .unwrap()
        .account
        .unwrap();
    assert_eq!(a.joined_method(), Some(&AccountJoinedMethod::Invited));
    assert_eq!(a.email(), Some("account-777777777777@example.com"));
    let org = who.describe_organization().send().await.unwrap().organization.unwrap();
    assert_eq!(org.id(), Some(ORG));

    // By email, answered through the control API.
    let email = "account-888888888888@example.com";
    m.invite_account_to_organization()
        .target(party(HandshakePartyType::Email, email))
        .send()
        .await
        .unwrap();
    let joined = emu.control().accept_invite_for("888888888888").await.unwrap();
    assert_eq!(joined.state, "ACCEPTED");
    let info = emu.control().account("888888888888").await.unwrap();
    assert_eq!(info.organization_id.as_deref(), Some(ORG));
}

/// TagKey and TagValue: length 1-128 / 0-256 and pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$
/// (service-2.json); keys starting with aws: are reserved: InvalidInputException
/// INVALID_SYSTEM_TAGS_PARAMETER ("You specified a tag key that is a system tag", model's
/// InvalidInputException documentation; "Do not use aws:, AWS:, or any upper or lowercase
/// combination of such as a prefix", AWS tag restrictions).
#[tokio::test]
async fn invitation_tags_follow_the_model() {
    let emu = start().await;
    let m = orgs(&emu, MGMT);
    let with_tag = |t: Tag| {
        m.invite_account_to_organization()
            .target(party(HandshakePartyType::Account, STANDALONE))
            .tags(t)
            .send()
    };
    let cases = [
        (
            tag("wiki", "https://wiki.example/pages?id=42&ref=a%20b"),
            "INVALID_PATTERN",
        ),
        (tag("team#billing", "x"), "INVALID_PATTERN"),
        (tag("aws:createdBy", "x"), "INVALID_SYSTEM_TAGS_PARAMETER"),
        (tag("AWS:cost", "x"), "INVALID_SYSTEM_TAGS_PARAMETER"),
        (tag(&"k".repeat(129), "x"), "MAX_LENGTH_EXCEEDED"),
        (tag("", "x"), "MIN_LENGTH_EXCEEDED"),
        (tag("k", &"v".repeat(257)), "MAX_LENGTH_EXCEEDED"),
    ];
    for (t, reason) in cases {
        assert_eq!(
            failure(with_tag(t.clone()).await),
            Failure::invalid_input(reason),
            "{t:?}"
        );
    }
    assert!(emu.control().handshakes().await.unwrap().is_empty());
    // Letters of any script, spaces, digits and _.:/=+-@ are fine; an empty value too.
    with_tag(tag("Équipe Zürich 42", "a_b.c:d/e=f+g-h@i")).await.unwrap();
}

/// ListTagsForResource / TagResource / UntagResource (API reference): accounts and the root of
/// the caller's organization, management account only; at most 50 tags per resource
/// (ConstraintViolationException MAX_TAG_LIMIT_EXCEEDED; "if you exceed the maximum allowed
/// number of tags for a resource, then the entire request fails"); other IDs:
/// TargetNotFoundException.
#[tokio::test]
async fn tags_on_accounts_and_the_root() {
    let emu = start().await;
    let m = orgs(&emu, MGMT);
    let h = invite_with_tags(&m, STANDALONE, vec![tag("team", "billing"), tag("cost-center", "42")]).await;
    emu.control().accept_handshake(&h).await.unwrap();
    let list = |id: &str| m.list_tags_for_resource().resource_id(id).send();
    let pairs = |o: aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput| {
        o.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pairs(list(STANDALONE).await.unwrap()),
        [("cost-center".into(), "42".into()), ("team".into(), "billing".into())]
    );
    m.tag_resource()
        .resource_id(STANDALONE)
        .tags(tag("team", "platform"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    m.untag_resource()
        .resource_id(STANDALONE)
        .tag_keys("cost-center")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pairs(list(STANDALONE).await.unwrap()),
        [("env".into(), "prod".into()), ("team".into(), "platform".into())]
    );
    // 2 tags + 49 new ones = 51 > 50: nothing changes.
    let many: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        failure(
            m.tag_resource()
                .resource_id(STANDALONE)
                .set_tags(Some(many))
                .send()
                .await
        ),
        Failure {
            code: "ConstraintViolationException".into(),
            reason: Some("MAX_TAG_LIMIT_EXCEEDED".into()),
            status: 400
        }
    );
    assert_eq!(pairs(list(STANDALONE).await.unwrap()).len(), 2);
    assert_eq!(
        failure(
            m.untag_resource()
                .resource_id(STANDALONE)
                .tag_keys("aws:x")
                .send()
                .await
        ),
        Failure::invalid_input("INVALID_SYSTEM_TAGS_PARAMETER")
    );

    // The root, found with ListRoots (RootId pattern ^r-[0-9a-z]{4,32}$).
    let roots = m.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_string();
    assert!(root.starts_with("r-") && root.len() == 6, "{root}");
    m.tag_resource()
        .resource_id(&root)
        .tags(tag("scope", "org"))
        .send()
        .await
        .unwrap();
    assert_eq!(pairs(list(&root).await.unwrap()), [("scope".into(), "org".into())]);

    // Not in the organization, or no such resource: TargetNotFoundException.
    assert_eq!(
        failure(list(STANDALONE2).await),
        Failure::client("TargetNotFoundException")
    );
    assert_eq!(
        failure(list("r-zzzz").await),
        Failure::client("TargetNotFoundException")
    );
    // TaggableResourceId's pattern.
    assert_eq!(failure(list("x-1234").await), Failure::invalid_input("INVALID_PATTERN"));
    // Members can't.
    assert_eq!(
        failure(
            orgs(&emu, MEMBER)
                .list_tags_for_resource()
                .resource_id(MEMBER)
                .send()
                .await
        ),
        Failure::client("AccessDeniedException")
    );
}

async fn invite_with_tags(c: &aws_sdk_organizations::Client, account: &str, tags: Vec<Tag>) -> String {
    c.invite_account_to_organization()
        .target(party(HandshakePartyType::Account, account))
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap()
        .id
        .unwrap()
}

/// STS AssumeRole: "The value specified can range from 900 seconds (15 minutes) up to the
/// maximum session duration set for the role" (AssumeRole API reference, DurationSeconds); a
/// longer request fails with ValidationError "The requested DurationSeconds exceeds the
/// MaxSessionDuration set for this role." (HTTP 400). A role's MaxSessionDuration defaults to
/// 3600 (IAM CreateRole, MaxSessionDuration: "the default value of one hour is applied").
#[tokio::test]
async fn assume_role_honours_max_session_duration() {
    let emu = start().await;
    let s = sts(&emu, MGMT, "secret", None);
    let arn = format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole");
    let assume = |arn: String, seconds: i32| {
        s.assume_role()
            .role_arn(arn)
            .role_session_name("verify")
            .external_id("ext-123")
            .duration_seconds(seconds)
            .send()
    };
    let e = assume(arn.clone(), 43200).await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let e = e.into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("ValidationError")
    );
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::message(&e),
        Some("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    );
    assume(arn.clone(), 3600).await.unwrap();
    let creds = sts(&emu, MGMT, "secret", None)
        .assume_role()
        .role_arn(&arn)
        .role_session_name("verify")
        .external_id("ext-123")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let role = iam(
        &emu,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(creds.session_token.clone()),
    )
    .get_role()
    .role_name("OrganizationAccountAccessRole")
    .send()
    .await
    .unwrap()
    .role
    .unwrap();
    assert_eq!(role.max_session_duration(), Some(3600));

    // A 12-hour role grants 12 hours.
    let mut long = seed().roles[0].clone();
    long.name = "LongSessions".into();
    long.max_session_duration = Some(43200);
    emu.control().add_role(&long).await.unwrap();
    let long_arn = format!("arn:aws:iam::{MEMBER}:role/LongSessions");
    let before = emu.control().clock().await.unwrap().now;
    let out = assume(long_arn, 43200).await.unwrap();
    let expires = out.credentials.unwrap().expiration;
    let lasts = expires.secs() - before.timestamp();
    assert!((43199..=43202).contains(&lasts), "{lasts}");
    // IAM's roleMaxSessionDurationType is 3600-43200.
    let mut bad = long.clone();
    bad.max_session_duration = Some(43201);
    assert_eq!(
        emu.control().add_role(&bad).await.unwrap_err().code(),
        Some("BadRequest")
    );
}

/// Input checked against the model's constraints, length before pattern: AccountId (max 12,
/// ^\d{12}$), HandshakeId (max 34, ^h-[0-9a-z]{8,32}$, also for Filter.ParentHandshakeId),
/// HandshakePartyId (min 1, max 64), MaxResults (1-20).
#[tokio::test]
async fn validation_follows_the_model() {
    let emu = start().await;
    let m = orgs(&emu, MGMT);
    let cases = [
        (
            failure(m.describe_account().account_id("1234567890123").send().await),
            "MAX_LENGTH_EXCEEDED",
        ),
        (
            failure(m.describe_account().account_id("12345678901a").send().await),
            "INVALID_PATTERN",
        ),
        (
            failure(
                m.describe_handshake()
                    .handshake_id(format!("h-{}", "0".repeat(33)))
                    .send()
                    .await,
            ),
            "MAX_LENGTH_EXCEEDED",
        ),
        (
            failure(m.describe_handshake().handshake_id("h-0000").send().await),
            "INVALID_PATTERN",
        ),
        (
            failure(
                m.invite_account_to_organization()
                    .target(party(HandshakePartyType::Account, ""))
                    .send()
                    .await,
            ),
            "MIN_LENGTH_EXCEEDED",
        ),
        (
            failure(
                m.invite_account_to_organization()
                    .target(party(
                        HandshakePartyType::Email,
                        &format!("{}@example.com", "a".repeat(60)),
                    ))
                    .send()
                    .await,
            ),
            "MAX_LENGTH_EXCEEDED",
        ),
        (
            failure(
                m.list_handshakes_for_organization()
                    .filter(HandshakeFilter::builder().parent_handshake_id("h-XXXX").build())
                    .send()
                    .await,
            ),
            "INVALID_PATTERN",
        ),
        (
            failure(
                orgs(&emu, STANDALONE)
                    .list_handshakes_for_account()
                    .filter(HandshakeFilter::builder().parent_handshake_id("h-XXXX").build())
                    .send()
                    .await,
            ),
            "INVALID_PATTERN",
        ),
        (
            failure(m.list_accounts().max_results(21).send().await),
            "MAX_VALUE_EXCEEDED",
        ),
        (
            failure(m.list_accounts().max_results(0).send().await),
            "MIN_VALUE_EXCEEDED",
        ),
    ];
    for (i, (got, reason)) in cases.into_iter().enumerate() {
        assert_eq!(got, Failure::invalid_input(reason), "case {i}");
    }
    // A well-formed ParentHandshakeId filters (invitations have no parent): an empty list.
    let none = m
        .list_handshakes_for_organization()
        .filter(HandshakeFilter::builder().parent_handshake_id("h-0000000000").build())
        .send()
        .await
        .unwrap();
    assert!(none.handshakes().is_empty());
}

/// DuplicateHandshakeException: "A handshake with the same action and target already exists.
/// For example, if you invited an account to join your organization, the invited account might
/// already have a pending invitation from this organization." (model documentation). An account
/// invited by ID and by its email is the same target.
#[tokio::test]
async fn one_open_invitation_per_account_by_id_or_email() {
    let emu = start().await;
    let m = orgs(&emu, MGMT);
    let email = "account-666666666666@example.com";
    let by = |ty: HandshakePartyType, id: &str| m.invite_account_to_organization().target(party(ty, id)).send();
    let first = by(HandshakePartyType::Account, OTHER_MEMBER)
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(
        failure(by(HandshakePartyType::Email, email).await),
        Failure::client("DuplicateHandshakeException")
    );
    assert_eq!(
        failure(by(HandshakePartyType::Email, &email.to_uppercase()).await),
        Failure::client("DuplicateHandshakeException")
    );
    m.cancel_handshake()
        .handshake_id(first.id().unwrap())
        .send()
        .await
        .unwrap();
    // The reverse order, with a seeded account's own email.
    by(HandshakePartyType::Email, "owner3@example.com").await.unwrap();
    assert_eq!(
        failure(by(HandshakePartyType::Account, STANDALONE).await),
        Failure::client("DuplicateHandshakeException")
    );
    let open: Vec<_> = emu
        .control()
        .handshakes()
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.state == "OPEN")
        .collect();
    assert_eq!(open.len(), 1);
}

/// The call log records what AWS did: an operation is logged when it executes, whatever
/// becomes of the reply (a client gone during a delayed reply), in the order of execution,
/// with every fault named (latency included).
#[tokio::test]
async fn the_call_log_is_written_at_execution() {
    let emu = start().await;
    let ctl = emu.control();
    let m = orgs(&emu, MGMT);

    // The reply is delayed 5 s after the invitation executed; the client gives up after 200 ms.
    ctl.add_fault(
        &Fault::new("InviteAccountToOrganization", FaultKind::Latency)
            .latency_ms(5000)
            .after(),
    )
    .await
    .unwrap();
    let send = m
        .invite_account_to_organization()
        .target(party(HandshakePartyType::Account, STANDALONE))
        .send();
    assert!(tokio::time::timeout(Duration::from_millis(200), send).await.is_err());
    assert_eq!(ctl.handshakes().await.unwrap().len(), 1);
    let calls = ctl.calls_for("InviteAccountToOrganization").await.unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].executed);
    assert_eq!(calls[0].fault.as_deref(), Some("latency_after"));
    assert_eq!(calls[0].outcome, "ok");
    ctl.clear_calls().await.unwrap();

    // A call delayed before execution is logged after a call that came later but ran first.
    ctl.add_fault(&Fault::new("DescribeOrganization", FaultKind::Latency).latency_ms(400))
        .await
        .unwrap();
    let slow = tokio::spawn({
        let m = m.clone();
        async move { m.describe_organization().send().await }
    });
    assert!(
        eventually(Duration::from_secs(5), || async {
            ctl.faults().await.unwrap().is_empty()
        })
        .await
    );
    m.list_accounts().send().await.unwrap();
    slow.await.unwrap().unwrap();
    let calls = ctl.calls().await.unwrap();
    let ops: Vec<_> = calls
        .iter()
        .map(|c| (c.seq, c.operation.as_str(), c.fault.as_deref()))
        .collect();
    assert_eq!(
        ops,
        [(1, "ListAccounts", None), (2, "DescribeOrganization", Some("latency"))]
    );
    assert!(calls[0].time <= calls[1].time);
}
