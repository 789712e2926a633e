//! The signing keys of OIDC identity providers, fetched (and cached) before an
//! AssumeRoleWithWebIdentity request meets the model: STS reads the issuer's JWKS over HTTPS,
//! which is I/O the pure model does not do. A token whose `kid` the cached keys lack triggers
//! one fresh fetch (the issuer rotated its keys).

use crate::error::AwsError;
use crate::shared::{Shared, lock};
use crate::state::{KeySource, OidcProvider, VerificationKey};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use std::time::Duration;

/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

fn unreachable_idp(why: impl std::fmt::Display) -> AwsError {
    tracing::warn!(error = %why, "fetching an OIDC provider's keys failed");
    AwsError::query(
        "IDPCommunicationError",
        400,
        "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached.",
    )
}

/// The provider's signing keys: from the cache when they include `kid`, else fetched.
pub(crate) async fn keys_for(
    shared: &Shared,
    provider: &OidcProvider,
    kid: Option<&str>,
) -> Result<Vec<VerificationKey>, AwsError> {
    keys_for_source(shared, &provider.keys, kid).await
}

/// The keys at `source`: from the cache when they include `kid`, else fetched.
pub(crate) async fn keys_for_source(
    shared: &Shared,
    source: &KeySource,
    kid: Option<&str>,
) -> Result<Vec<VerificationKey>, AwsError> {
    match source {
        KeySource::PublicKeyFile(path) => read_pem_keys(path),
        KeySource::Jwks { url, ca_file } => {
            if let Some(cached) = lock(&shared.jwks_cache).get(url)
                && (kid.is_none() || cached.iter().any(|k| k.kid.as_deref() == kid))
            {
                return Ok(cached.clone());
            }
            let keys = fetch_jwks(url, ca_file.as_deref()).await?;
            lock(&shared.jwks_cache).insert(url.clone(), keys.clone());
            Ok(keys)
        }
    }
}

async fn fetch_jwks(url: &str, ca_file: Option<&str>) -> Result<Vec<VerificationKey>, AwsError> {
    let mut builder = reqwest::Client::builder().timeout(FETCH_TIMEOUT);
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).map_err(|e| unreachable_idp(format!("reading CA file {ca}: {e}")))?;
        for cert in
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unreachable_idp(format!("CA file {ca}: {e}")))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder.build().map_err(unreachable_idp)?;
    let response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| unreachable_idp(format!("GET {url}: {e}")))?;
    let set: JwkSet = response
        .json()
        .await
        .map_err(|e| unreachable_idp(format!("JWKS from {url}: {e}")))?;
    Ok(set
        .keys
        .iter()
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter_map(|jwk| {
            DecodingKey::from_jwk(jwk).ok().map(|key| VerificationKey {
                kid: jwk.common.key_id.clone(),
                key,
            })
        })
        .collect())
}

/// Every RSA public key (PEM, `PUBLIC KEY` or `RSA PUBLIC KEY`) in a file.
fn read_pem_keys(path: &str) -> Result<Vec<VerificationKey>, AwsError> {
    let text = std::fs::read_to_string(path).map_err(|e| unreachable_idp(format!("reading {path}: {e}")))?;
    let mut keys = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(end_marker) = block.find("-----END ") else {
            break;
        };
        let end = block[end_marker..]
            .find('\n')
            .map_or(block.len(), |n| end_marker + n + 1);
        if let Ok(key) = DecodingKey::from_rsa_pem(&block.as_bytes()[..end]) {
            keys.push(VerificationKey { kid: None, key });
        }
        rest = &block[end..];
    }
    if keys.is_empty() {
        return Err(unreachable_idp(format!("{path} holds no RSA public key")));
    }
    Ok(keys)
}
