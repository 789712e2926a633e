//! Per-profile AWS clients: region, endpoint override, credentials (static keys, the default
//! chain, optionally an assumed role), retries and timeouts.

use super::calls::{AwsAction, AwsCallObserver, NoopObserver, outcome};
use super::error::{AwsError, ErrorClass};
use super::rate_limit::RateLimiter;
use crate::api::BillingProfileSpec;
use crate::reason::Reason;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Region used when the profile names none. Organizations is a global service.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Session name for assumed roles when the profile names none.
pub const DEFAULT_SESSION_NAME: &str = "aws-invite-operator";
/// SDK attempts per call (1 + 2 retries); the controller also requeues with backoff.
pub const MAX_ATTEMPTS: u32 = 3;
/// TCP/TLS connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one attempt (a dropped or stalled connection cannot hang a reconcile).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of one call including retries.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Assumed-role credentials are refreshed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Static access keys, from the Secret named by `spec.credentials.secretRef`.
/// `Debug` never prints the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary keys.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("access_key_id", &"[redacted]")
            .field("secret_access_key", &"[redacted]")
            .field("session_token", &self.session_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The AWS clients of one billing profile. Cheap to clone (clients and the rate limiter are shared).
#[derive(Clone)]
pub struct ProfileClients {
    /// AWS Organizations, with the profile's credentials.
    pub orgs: aws_sdk_organizations::Client,
    /// STS, with the profile's credentials (used to assume roles in member accounts).
    pub sts: aws_sdk_sts::Client,
    /// The shared SDK config: region, endpoint override, retries, timeouts and the profile's
    /// credentials provider. Clients for assumed member-account credentials derive from it.
    pub sdk_config: SdkConfig,
    /// The profile's credentials provider (after the optional AssumeRole).
    pub credentials: SharedCredentialsProvider,
    /// The region requests are signed for.
    pub region: Region,
    /// The endpoint override, if any (applies to Organizations, STS and IAM).
    pub endpoint_url: Option<String>,
    /// The organization's management account (`spec.managementAccountId`; the profile is Ready
    /// only when DescribeOrganization names it): never the invitee of a handshake.
    pub management_account_id: String,
    /// The client-side rate limiter of this profile.
    pub limiter: Arc<RateLimiter>,
    /// Where call outcomes are recorded (metrics).
    pub observer: Arc<dyn AwsCallObserver>,
}

impl fmt::Debug for ProfileClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileClients")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

/// Retry configuration of every client: the SDK's standard mode, [`MAX_ATTEMPTS`] attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// Timeouts of every client.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

impl ProfileClients {
    /// Builds the clients of a profile: region from `spec.region` (default us-east-1),
    /// `spec.endpointUrl` for Organizations, STS and IAM, credentials from `static_keys` when
    /// given, else the SDK default chain; then, when `spec.credentials.roleArn` is set, the role
    /// is assumed (with `externalId` and `sessionName`, default "aws-invite-operator") and its
    /// credentials refresh themselves before they expire. With a role, the first AssumeRole is
    /// made here, so a role that cannot be assumed fails `connect` with a Profile-class error.
    pub async fn connect(
        spec: &BillingProfileSpec,
        static_keys: Option<StaticKeys>,
    ) -> Result<ProfileClients, AwsError> {
        let region = Region::new(spec.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_string()));
        let endpoint_url = spec.endpoint_url.clone();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        if let Some(url) = &endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(keys) = static_keys {
            loader = loader.credentials_provider(Credentials::new(
                keys.access_key_id,
                keys.secret_access_key,
                keys.session_token,
                None,
                "aws-invite-operator-secret",
            ));
        }
        let base = loader.load().await;
        let base_credentials = base.credentials_provider().ok_or_else(|| {
            AwsError::local(
                "LoadCredentials",
                ErrorClass::Profile,
                Reason::CredentialsUnavailable,
                "no credentials provider is configured",
            )
        })?;
        let role = spec
            .credentials
            .as_ref()
            .and_then(|c| c.role_arn.clone().map(|r| (r, c)));
        let (sdk_config, credentials) = match role {
            None => (base.clone(), base_credentials),
            Some((role_arn, creds)) => {
                let provider = AssumeRoleCredentials {
                    sts: aws_sdk_sts::Client::new(&base),
                    role_arn,
                    external_id: creds.external_id.clone(),
                    session_name: creds
                        .session_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                    cache: tokio::sync::Mutex::new(None),
                };
                provider.load().await?;
                let shared = SharedCredentialsProvider::new(provider);
                (base.to_builder().credentials_provider(shared.clone()).build(), shared)
            }
        };
        Ok(ProfileClients {
            orgs: aws_sdk_organizations::Client::new(&sdk_config),
            sts: aws_sdk_sts::Client::new(&sdk_config),
            sdk_config,
            credentials,
            region,
            endpoint_url,
            management_account_id: spec.management_account_id.clone(),
            limiter: Arc::new(RateLimiter::new()),
            observer: Arc::new(NoopObserver),
        })
    }

    /// Records the outcome of every call made through these clients in `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn AwsCallObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Replaces the rate limiter (e.g. to share one between clones made by separate connects).
    pub fn with_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// Assumes `role_arn` with the profile's credentials (e.g. the member access role in a
    /// member account) and returns the temporary credentials.
    pub async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        self.metered(
            AwsAction::AssumeRole.name(),
            assume(&self.sts, role_arn, session_name, external_id),
        )
        .await
    }

    /// Waits for the rate limiter, runs `call`, and records its outcome with the observer:
    /// the one path every metered AWS operation of a profile takes.
    pub(crate) async fn metered<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        self.limiter.acquire(operation).await;
        let result = call.await;
        self.observer.record(operation, outcome(&result));
        result
    }

    /// An IAM client acting with `credentials` (same region, endpoint, retries and timeouts).
    pub fn iam_with(&self, credentials: Credentials) -> aws_sdk_iam::Client {
        let config = self
            .sdk_config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        aws_sdk_iam::Client::new(&config)
    }
}

async fn assume(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    external_id: Option<&str>,
) -> Result<Credentials, AwsError> {
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(AwsAction::AssumeRole.name(), e, |_| None))?;
    let c = out.credentials().ok_or_else(|| {
        AwsError::local(
            AwsAction::AssumeRole.name(),
            ErrorClass::Retryable,
            Reason::AwsUnavailable,
            "AssumeRole returned no credentials",
        )
    })?;
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        "aws-invite-operator-assume-role",
    ))
}

/// Credentials of an assumed role, cached until shortly before they expire.
struct AssumeRoleCredentials {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    cache: tokio::sync::Mutex<Option<Credentials>>,
}

impl fmt::Debug for AssumeRoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleCredentials")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl AssumeRoleCredentials {
    async fn load(&self) -> Result<Credentials, AwsError> {
        let mut cached = self.cache.lock().await;
        if let Some(c) = cached.as_ref() {
            let soon = SystemTime::now().checked_add(REFRESH_BEFORE_EXPIRY);
            let fresh = c.expiry().is_none_or(|e| soon.is_some_and(|soon| e > soon));
            if fresh {
                return Ok(c.clone());
            }
        }
        let creds = assume(
            &self.sts,
            &self.role_arn,
            &self.session_name,
            self.external_id.as_deref(),
        )
        .await?;
        *cached = Some(creds.clone());
        Ok(creds)
    }
}

impl ProvideCredentials for AssumeRoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move { self.load().await.map_err(CredentialsError::provider_error) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_keys_debug_is_redacted() {
        let k = StaticKeys {
            access_key_id: "AKIAEXAMPLEKEY123456".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token".into()),
        };
        let s = format!("{k:?}");
        assert!(!s.contains("AKIAEXAMPLE"));
        assert!(!s.contains("very-secret"));
        assert!(!s.contains("token\""));
    }
}
