//! Input validation (ID patterns, lengths, tags) and paging, shared by all operations.

use crate::error::AwsError;
use std::str::FromStr;

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page, if there are more.
    pub next_token: Option<String>,
}

/// Whether `s` is a 12-digit account ID.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` matches `o-[a-z0-9]{10,32}`.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `s` matches `h-[0-9a-z]{8,32}`.
pub fn is_handshake_id(s: &str) -> bool {
    s.strip_prefix("h-")
        .is_some_and(|r| (8..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && s.len() <= 64
}

fn encode_token(prefix: &str, value: &str) -> String {
    format!("{prefix}{value}")
}

fn decode_token<'a>(prefix: &str, token: &'a str) -> Result<&'a str, AwsError> {
    token
        .strip_prefix(prefix)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::invalid_input("INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken."))
}

/// One page of `items` in the order of `key`: at most `max` (MaxResults) after the item whose
/// key `token` (NextToken) names, and a token for the next page if there are more.
pub(crate) fn paginate<T, K>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> K,
    prefix: &str,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<Page<T>, AwsError>
where
    K: Ord + ToString + FromStr,
{
    let max = check_max_results(max)?;
    let after = match token {
        Some(t) => Some(decode_token(prefix, t)?.parse::<K>().map_err(|_| {
            AwsError::invalid_input("INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken.")
        })?),
        None => None,
    };
    items.retain(|i| after.as_ref().is_none_or(|a| &key(i) > a));
    items.sort_by_key(|i| key(i));
    let more = items.len() > max;
    items.truncate(max);
    let next_token = if more {
        items.last().map(|i| encode_token(prefix, &key(i).to_string()))
    } else {
        None
    };
    Ok(Page { items, next_token })
}

/// Validates MaxResults (1–20).
pub fn check_max_results(max: Option<i64>) -> Result<usize, AwsError> {
    match max {
        None => Ok(20),
        Some(n) if n < 1 => Err(AwsError::invalid_input(
            "MIN_VALUE_EXCEEDED",
            "You provided a value that is less than the minimum value allowed: MaxResults must be at least 1.",
        )),
        Some(n) if n > 20 => Err(AwsError::invalid_input(
            "MAX_VALUE_EXCEEDED",
            "You provided a value that exceeds the maximum value allowed: MaxResults must be at most 20.",
        )),
        Some(n) => Ok(n as usize),
    }
}

/// A required ID member: present (INPUT_REQUIRED) and matching its pattern (INVALID_PATTERN).
fn check_id<'a>(id: Option<&'a str>, name: &str, valid: fn(&str) -> bool, pattern: &str) -> Result<&'a str, AwsError> {
    let id = id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", format!("{name} is required.")))?;
    if !valid(id) {
        return Err(AwsError::invalid_input(
            "INVALID_PATTERN",
            format!("The {name} '{id}' doesn't match the required pattern {pattern}."),
        ));
    }
    Ok(id)
}

pub(crate) fn check_handshake_id(id: Option<&str>) -> Result<&str, AwsError> {
    check_id(id, "HandshakeId", is_handshake_id, "h-[0-9a-z]{8,32}")
}

pub(crate) fn check_account_id(id: Option<&str>) -> Result<&str, AwsError> {
    check_id(id, "AccountId", is_account_id, "^\\d{12}$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_role_arn;

    #[test]
    fn id_patterns() {
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901a"));
        assert!(is_org_id("o-abcdef1234"));
        assert!(!is_org_id("o-abc"));
        assert!(is_handshake_id("h-abcd1234"));
        assert!(!is_handshake_id("h-ABCD1234"));
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/a/b/Name"),
            Some(("123456789012", "Name"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::123:role/Name"), None);
    }
}
