//! Tags on accounts and on the organization's root: ListTagsForResource, TagResource,
//! UntagResource, and the checks shared with the tags of an invitation (applied to the account
//! when it joins).
//!
//! Limits (AWS's tagging conventions, and the TagResource API reference: "if you exceed the
//! maximum allowed number of tags for a resource, then the entire request fails"): at most 50
//! tags per resource; keys starting with `aws:` in any case are reserved for AWS
//! (InvalidInputException INVALID_SYSTEM_TAGS_PARAMETER). Key and value lengths and characters
//! are the model's (TagKey, TagValue; see [`crate::model`]).

use super::{Organization, State};
use crate::error::AwsError;
use std::collections::{BTreeMap, HashSet};

/// At most this many tags on one resource.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

/// A taggable resource the emulator models.
enum Resource {
    Account(String),
    Root,
}

fn too_many_tags() -> AwsError {
    AwsError::with_reason(
        "ConstraintViolationException",
        "MAX_TAG_LIMIT_EXCEEDED",
        "You have exceeded the number of tags allowed on this resource.",
    )
}

/// Refuses keys reserved for AWS (`aws:` in any case).
pub(crate) fn check_tag_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<(), AwsError> {
    for k in keys {
        if k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(AwsError::invalid_input(
                "INVALID_SYSTEM_TAGS_PARAMETER",
                format!(
                    "You specified a tag key that is a system tag: {k}. You can't add, edit, or delete system tag keys because they're reserved for AWS use."
                ),
            ));
        }
    }
    Ok(())
}

/// The tags of one request: at most 50, no reserved keys, no key twice.
pub(crate) fn check_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        return Err(too_many_tags());
    }
    check_tag_keys(tags.iter().map(|(k, _)| k.as_str()))?;
    let mut seen = HashSet::new();
    for (k, _) in tags {
        if !seen.insert(k.as_str()) {
            return Err(AwsError::invalid_input(
                "DUPLICATE_TAG_KEY",
                format!("Tag key {k} is duplicated."),
            ));
        }
    }
    Ok(())
}

impl State {
    /// The resource `id` names in the caller's organization (the caller must be its management
    /// account): an account in it (management account included) or its root.
    fn taggable(&self, caller: &str, id: Option<&str>) -> Result<(Organization, Resource), AwsError> {
        let id = id.ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "ResourceId is required."))?;
        let org = self.caller_managed_org(caller)?.clone();
        let member = self
            .accounts
            .get(id)
            .is_some_and(|a| a.organization_id.as_deref() == Some(&org.id));
        let resource = if member {
            Resource::Account(id.to_string())
        } else if id == org.root_id {
            Resource::Root
        } else {
            return Err(AwsError::client(
                "TargetNotFoundException",
                format!("We can't find a root, OU, account, or policy with the TargetId that you specified: {id}."),
            ));
        };
        Ok((org, resource))
    }

    fn tags_mut(&mut self, org: &Organization, r: &Resource) -> Option<&mut BTreeMap<String, String>> {
        match r {
            Resource::Account(id) => self.accounts.get_mut(id).map(|a| &mut a.tags),
            Resource::Root => self.organizations.get_mut(&org.id).map(|o| &mut o.root_tags),
        }
    }

    /// ListTagsForResource (management account only), sorted by key.
    pub fn list_tags(&mut self, caller: &str, id: Option<&str>) -> Result<Vec<(String, String)>, AwsError> {
        let (org, r) = self.taggable(caller, id)?;
        Ok(self
            .tags_mut(&org, &r)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    /// TagResource (management account only): adds or overwrites tags, all or nothing.
    pub fn tag_resource(&mut self, caller: &str, id: Option<&str>, tags: &[(String, String)]) -> Result<(), AwsError> {
        let (org, r) = self.taggable(caller, id)?;
        check_tags(tags)?;
        let current = self.tags_mut(&org, &r).ok_or_else(AwsError::service)?;
        let mut merged = current.clone();
        merged.extend(tags.iter().cloned());
        if merged.len() > MAX_TAGS_PER_RESOURCE {
            return Err(too_many_tags());
        }
        *current = merged;
        Ok(())
    }

    /// UntagResource (management account only): removes the tags with these keys.
    pub fn untag_resource(&mut self, caller: &str, id: Option<&str>, keys: &[String]) -> Result<(), AwsError> {
        let (org, r) = self.taggable(caller, id)?;
        check_tag_keys(keys.iter().map(String::as_str))?;
        let current = self.tags_mut(&org, &r).ok_or_else(AwsError::service)?;
        for k in keys {
            current.remove(k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_validated() {
        assert!(check_tags(&[("a".into(), "b".into())]).is_ok());
        assert_eq!(
            check_tags(&[("a".into(), "b".into()), ("a".into(), "c".into())])
                .unwrap_err()
                .reason,
            Some("DUPLICATE_TAG_KEY".into())
        );
        for reserved in ["aws:x", "AWS:x", "Aws:cost"] {
            assert_eq!(
                check_tags(&[(reserved.into(), String::new())]).unwrap_err().reason,
                Some("INVALID_SYSTEM_TAGS_PARAMETER".into())
            );
        }
        assert!(check_tags(&[("awsx".into(), String::new())]).is_ok());
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(check_tags(&many).unwrap_err().code, "ConstraintViolationException");
    }
}
