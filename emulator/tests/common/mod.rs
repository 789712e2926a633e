//! Shared helpers of the contract tests.
#![allow(dead_code)]

use aws_sdk_organizations::config::retry::RetryConfig;
use aws_sdk_organizations::config::{BehaviorVersion, Credentials, Region};
pub mod cli;

use orgs_emulator::{Emulator, EmulatorConfig, RunningEmulator, Seed, SeedAccount, SeedOrganization, SeedRole};

pub const MGMT: &str = "111111111111";
pub const MEMBER: &str = "222222222222";
pub const STANDALONE: &str = "333333333333";
pub const STANDALONE2: &str = "444444444444";
pub const OTHER_MGMT: &str = "555555555555";
pub const OTHER_MEMBER: &str = "666666666666";
pub const ORG: &str = "o-aaaaaaaaaa";
pub const OTHER_ORG: &str = "o-bbbbbbbbbb";

pub fn seed() -> Seed {
    Seed {
        organizations: vec![
            SeedOrganization {
                id: Some(ORG.into()),
                management_account: SeedAccount {
                    id: MGMT.into(),
                    email: Some("payer@example.com".into()),
                    name: Some("Payer".into()),
                },
                members: vec![SeedAccount::new(MEMBER)],
                account_quota: Some(10),
                feature_set: None,
            },
            SeedOrganization {
                id: Some(OTHER_ORG.into()),
                management_account: SeedAccount::new(OTHER_MGMT),
                members: vec![SeedAccount::new(OTHER_MEMBER)],
                account_quota: None,
                feature_set: None,
            },
        ],
        accounts: vec![
            SeedAccount {
                id: STANDALONE.into(),
                email: Some("owner3@example.com".into()),
                name: None,
            },
            SeedAccount::new(STANDALONE2),
        ],
        oidc_providers: vec![],
        pod_identity_associations: vec![],
        roles: vec![SeedRole {
            account_id: MEMBER.into(),
            name: "OrganizationAccountAccessRole".into(),
            path: None,
            trust_policy: serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{MGMT}:root")},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}
                }]
            }),
            max_session_duration: None,
        }],
    }
}

/// Starts an emulator with the standard seed and rate limits off.
pub async fn start() -> RunningEmulator {
    start_with(EmulatorConfig::with_seed(seed()).rate_limits(false)).await
}

pub async fn start_with(config: EmulatorConfig) -> RunningEmulator {
    match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => panic!("emulator failed to start: {e}"),
    }
}

/// An Organizations client acting with access key `key`, retries off.
pub fn orgs(emu: &RunningEmulator, key: &str) -> aws_sdk_organizations::Client {
    let conf = aws_sdk_organizations::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_organizations::Client::from_conf(conf)
}

pub fn sts(emu: &RunningEmulator, key: &str, secret: &str, token: Option<String>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(key, secret, token, None, "test"))
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

pub fn iam(emu: &RunningEmulator, key: &str, secret: &str, token: Option<String>) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(key, secret, token, None, "test"))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// Invites `account` from the default management account; returns the handshake ID.
pub async fn invite(c: &aws_sdk_organizations::Client, account: &str) -> String {
    use aws_sdk_organizations::types::{HandshakeParty, HandshakePartyType};
    let out = c
        .invite_account_to_organization()
        .target(
            HandshakeParty::builder()
                .r#type(HandshakePartyType::Account)
                .id(account)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    out.handshake.unwrap().id.unwrap()
}

/// How an AWS call failed, as the Rust SDK reports it: the error code the SDK parsed, the
/// `Reason` member of the response body (exceptions that have one) and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub reason: Option<String>,
    pub status: u16,
}

impl Failure {
    /// A failure with `code`, no reason and HTTP 400.
    pub fn client(code: &str) -> Self {
        Self {
            code: code.into(),
            reason: None,
            status: 400,
        }
    }

    /// An `InvalidInputException` with `reason` (HTTP 400).
    pub fn invalid_input(reason: &str) -> Self {
        Self {
            code: "InvalidInputException".into(),
            reason: Some(reason.into()),
            status: 400,
        }
    }
}

/// The failure of `result`; panics if it succeeded.
pub fn failure<T: std::fmt::Debug, E>(
    result: Result<T, aws_sdk_organizations::error::SdkError<E, aws_sdk_organizations::config::http::HttpResponse>>,
) -> Failure
where
    E: aws_sdk_organizations::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let e = match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    };
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let reason = e
        .raw_response()
        .and_then(|r| r.body().bytes())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("Reason").and_then(|r| r.as_str()).map(str::to_string));
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_else(|| panic!("not a service error: {e:?}"))
        .to_string();
    Failure { code, reason, status }
}
