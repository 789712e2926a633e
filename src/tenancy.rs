//! Tenancy rules the operator's installer sets, and the pure checks that apply them
//! (docs/security.md, "Security model"):
//!
//! - credentials Secrets (`BillingProfile.spec.credentials.secretRef`) are read from one
//!   namespace of the operator's only, as cert-manager reads a ClusterIssuer's Secrets from its
//!   cluster resource namespace: a BillingProfile admin cannot make the operator load another
//!   team's keys, and a refusal says nothing about Secrets elsewhere;
//! - `spec.endpointUrl` overrides are off unless the installer turns them on, and then only
//!   hosts on an allowlist are used: the operator's signed requests (access key ID, session
//!   token, account IDs, notes, external IDs) never go to a host the installer did not name.

use std::fmt;

use axum::http::Uri;

/// The tenancy settings of one operator (flags `--credentials-namespace`,
/// `--allow-endpoint-override`, `--endpoint-allowlist`; the chart's `operator.*` values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenancy {
    /// The operator's own namespace: where Events about cluster-scoped BillingProfiles go, so
    /// only those who may read that namespace (profile admins) read them.
    pub operator_namespace: String,
    /// The one namespace credentials Secrets are read from.
    pub credentials_namespace: String,
    /// Which endpoint overrides profiles may use.
    pub endpoints: EndpointPolicy,
}

impl Tenancy {
    /// The safe settings for an operator in `namespace`: Secrets from that namespace only,
    /// no endpoint overrides.
    pub fn in_namespace(namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        Self {
            credentials_namespace: namespace.clone(),
            operator_namespace: namespace,
            endpoints: EndpointPolicy::default(),
        }
    }

    /// The namespace of a credentials Secret reference, or why it is refused. `namespace` is
    /// the reference's (None: the credentials namespace). The refusal names only the field and
    /// the one namespace allowed, never anything about the Secret named.
    pub fn credentials_secret_namespace<'a>(&'a self, namespace: Option<&'a str>) -> Result<&'a str, String> {
        match namespace {
            None => Ok(&self.credentials_namespace),
            Some(ns) if ns == self.credentials_namespace => Ok(ns),
            Some(_) => Err(format!(
                "spec.credentials.secretRef.namespace must be {:?} (or unset): this operator reads credentials \
                 Secrets only from its credentials namespace (--credentials-namespace)",
                self.credentials_namespace
            )),
        }
    }
}

/// A host (any port) or host:port an endpoint override may name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedEndpoint {
    host: String,
    port: Option<u16>,
}

/// Why an allowlist entry cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("endpoint allowlist entry {entry:?} must be a host or host:port (e.g. 127.0.0.1:4566, orgs-emulator.tools)")]
pub struct BadAllowlistEntry {
    entry: String,
}

impl std::str::FromStr for AllowedEndpoint {
    type Err = BadAllowlistEntry;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        let bad = || BadAllowlistEntry {
            entry: entry.to_owned(),
        };
        let trimmed = entry.trim();
        if trimmed.is_empty() || trimmed.contains(['/', '@', '?', '#', '*']) || trimmed.contains(char::is_whitespace) {
            return Err(bad());
        }
        let uri: Uri = format!("http://{trimmed}").parse().map_err(|_| bad())?;
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let port = explicit_port(&uri).ok_or_else(bad)?;
        Ok(Self {
            host: normalize_host(host),
            port,
        })
    }
}

impl fmt::Display for AllowedEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// The URI's port as written: Some(None) without one, Some(Some(port)) with a valid one,
/// None when what follows the host is not `:` and a port number.
fn explicit_port(uri: &Uri) -> Option<Option<u16>> {
    let authority = uri.authority()?.as_str();
    let host = uri.host()?;
    let rest = authority.strip_prefix(host)?;
    if rest.is_empty() {
        return Some(None);
    }
    let digits = rest.strip_prefix(':')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Some)
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Which `spec.endpointUrl` overrides the operator uses. The default allows none: a profile
/// with an override is refused (reason `EndpointNotAllowed`) and nothing is sent anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// None: overrides are off. Some: the hosts (and ports) allowed.
    allowed: Option<Vec<AllowedEndpoint>>,
}

impl EndpointPolicy {
    /// Overrides allowed to these hosts (host: any port; host:port: that port only).
    pub fn allow(hosts: Vec<AllowedEndpoint>) -> Self {
        Self { allowed: Some(hosts) }
    }

    /// Whether overrides are on at all.
    pub fn enabled(&self) -> bool {
        self.allowed.is_some()
    }

    /// Whether the profile may use `endpoint_url`; the error is the message for its status
    /// (it names the field and the flags, not the allowlist).
    pub fn check(&self, endpoint_url: Option<&str>) -> Result<(), String> {
        let Some(url) = endpoint_url else {
            return Ok(());
        };
        let Some(allowed) = &self.allowed else {
            return Err(
                "spec.endpointUrl is set, but this operator does not use endpoint overrides (its installer \
                        turns them on with --allow-endpoint-override and --endpoint-allowlist, chart value \
                        operator.endpointOverride); remove spec.endpointUrl to use AWS"
                    .to_owned(),
            );
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| "spec.endpointUrl is not a URL the operator can use".to_owned())?;
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => return Err("spec.endpointUrl must be an http:// or https:// URL".to_owned()),
        };
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let host = uri.host().map(normalize_host).unwrap_or_default();
        let port = explicit_port(&uri).filter(|_| !authority.contains('@') && !host.is_empty());
        let Some(port) = port else {
            return Err(
                "spec.endpointUrl must name a host and an optional numeric port, without user information".to_owned(),
            );
        };
        let port = port.unwrap_or(default_port);
        if allowed
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port))
        {
            Ok(())
        } else {
            Err(format!(
                "spec.endpointUrl names {host}:{port}, which is not on this operator's endpoint allowlist \
                 (--endpoint-allowlist, chart value operator.endpointOverride.allowlist); ask the operator's \
                 installer, or remove spec.endpointUrl to use AWS"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> EndpointPolicy {
        EndpointPolicy::allow(entries.iter().map(|e| e.parse().expect("entry")).collect())
    }

    #[test]
    fn endpoint_overrides_are_off_by_default() {
        let off = EndpointPolicy::default();
        assert!(!off.enabled());
        assert_eq!(off.check(None), Ok(()));
        let refused = off.check(Some("http://127.0.0.1:4566")).expect_err("refused");
        assert!(refused.contains("spec.endpointUrl"), "{refused}");
        assert!(refused.contains("--allow-endpoint-override"), "{refused}");
    }

    #[test]
    fn the_allowlist_decides_by_host_and_port() {
        let p = policy(&["127.0.0.1", "orgs-emulator.tools:4566", "[::1]:8080"]);
        for (url, allowed) in [
            ("http://127.0.0.1:4566", true),
            ("http://127.0.0.1:1", true),
            ("http://127.0.0.1", true),
            ("http://orgs-emulator.tools:4566/", true),
            ("https://ORGS-EMULATOR.tools.:4566", true),
            ("http://orgs-emulator.tools", false),
            ("https://orgs-emulator.tools", false),
            ("http://orgs-emulator.tools:4567", false),
            ("http://[::1]:8080", true),
            ("http://[::1]:8081", false),
            ("http://127.0.0.2:4566", false),
            ("http://127.0.0.1.evil.example:4566", false),
            ("http://127.0.0.1@evil.example:4566", false),
            ("http://evil.example@127.0.0.1:4566", false),
            ("http://kubernetes.default.svc", false),
            ("http://169.254.169.254/latest/meta-data", false),
            ("ftp://127.0.0.1:4566", false),
            ("not a url", false),
            ("http://127.0.0.1:port", false),
        ] {
            assert_eq!(p.check(Some(url)).is_ok(), allowed, "{url}");
        }
    }

    #[test]
    fn allowlist_entries_are_hosts() {
        for good in [
            "127.0.0.1",
            "127.0.0.1:4566",
            "emulator",
            "a.b.svc.cluster.local:443",
            "[::1]:80",
        ] {
            assert!(good.parse::<AllowedEndpoint>().is_ok(), "{good}");
        }
        for bad in [
            "",
            " ",
            "http://127.0.0.1",
            "127.0.0.1/x",
            "user@host",
            "*",
            "*.example.com",
            "host:port",
        ] {
            assert!(bad.parse::<AllowedEndpoint>().is_err(), "{bad}");
        }
        assert_eq!(
            "Emulator:4566".parse::<AllowedEndpoint>().expect("entry").to_string(),
            "emulator:4566"
        );
    }

    #[test]
    fn credentials_come_from_one_namespace() {
        let t = Tenancy::in_namespace("aws-invite-operator");
        assert_eq!(t.credentials_secret_namespace(None), Ok("aws-invite-operator"));
        assert_eq!(
            t.credentials_secret_namespace(Some("aws-invite-operator")),
            Ok("aws-invite-operator")
        );
        let refused = t.credentials_secret_namespace(Some("team-a")).expect_err("refused");
        assert!(refused.contains("spec.credentials.secretRef.namespace"), "{refused}");
        assert!(
            !refused.contains("team-a"),
            "the refusal says nothing of the Secret named: {refused}"
        );
    }
}
