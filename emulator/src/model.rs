//! Input validation derived from AWS's Organizations service model: `model/organizations.json`
//! holds the constraints (required members, lengths, patterns, enums, ranges) of the input
//! shapes of the implemented operations, extracted from botocore's `service-2.json` by
//! `model/extract.py`. AWS checks them before it runs an operation, in two passes as its
//! front end does: the body must deserialize (a member of the wrong type is a
//! `SerializationException`), then each member must satisfy its shape, in the model's member
//! order: required, then the length (`MAX_LENGTH_EXCEEDED` / `MIN_LENGTH_EXCEEDED`) before the
//! pattern (`INVALID_PATTERN`), the enum (`INVALID_ENUM`) and the range
//! (`MAX_VALUE_EXCEEDED` / `MIN_VALUE_EXCEEDED`), all `InvalidInputException`.

use crate::error::AwsError;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const MODEL_JSON: &str = include_str!("../model/organizations.json");

/// The constraints of one shape.
#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    members: Vec<(String, String)>,
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default, rename = "enum")]
    values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct ModelFile {
    operations: BTreeMap<String, Option<String>>,
    shapes: BTreeMap<String, Shape>,
}

/// The loaded model, with each pattern compiled for a whole-string match (as AWS's
/// validator matches them).
struct Model {
    file: ModelFile,
    patterns: BTreeMap<String, Regex>,
}

fn load() -> Result<Model, String> {
    let file: ModelFile = serde_json::from_str(MODEL_JSON).map_err(|e| e.to_string())?;
    let mut patterns = BTreeMap::new();
    for (name, shape) in &file.shapes {
        if let Some(p) = &shape.pattern {
            let re = Regex::new(&format!("^(?:{p})$")).map_err(|e| format!("{name}: {e}"))?;
            patterns.insert(name.clone(), re);
        }
    }
    Ok(Model { file, patterns })
}

fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| match load() {
            Ok(m) => Some(m),
            Err(e) => {
                // The file is embedded at build time and a unit test loads it.
                tracing::error!(error = %e, "the embedded Organizations model does not load; input is not validated");
                None
            }
        })
        .as_ref()
}

/// Checks `input` against the model's input shape of `operation` (operations the model file
/// does not list pass unchecked).
pub(crate) fn validate(operation: &str, input: &Value) -> Result<(), AwsError> {
    let Some(m) = model() else { return Ok(()) };
    let Some(Some(shape)) = m.file.operations.get(operation) else {
        return Ok(());
    };
    m.check_types(shape, input, "input")?;
    m.check_constraints(shape, input, "")
}

impl Model {
    fn shape(&self, name: &str) -> Option<&Shape> {
        self.file.shapes.get(name)
    }

    /// Pass 1: every present member has its shape's JSON type.
    fn check_types(&self, name: &str, v: &Value, field: &str) -> Result<(), AwsError> {
        let Some(shape) = self.shape(name) else { return Ok(()) };
        let (ok, expected) = match shape.ty.as_str() {
            "structure" => (v.is_object(), "a structure"),
            "list" => (v.is_array(), "a list"),
            "string" => (v.is_string(), "a string"),
            "integer" | "long" => (v.is_i64(), "an integer"),
            "boolean" => (v.is_boolean(), "a boolean"),
            _ => (true, ""),
        };
        if !ok {
            return Err(AwsError::client(
                "SerializationException",
                format!("{field}: expected {expected}"),
            ));
        }
        for (member, member_shape) in &shape.members {
            match v.get(member) {
                None | Some(Value::Null) => {}
                Some(x) => self.check_types(member_shape, x, member)?,
            }
        }
        if let (Some(item), Some(items)) = (&shape.member, v.as_array()) {
            for x in items {
                self.check_types(item, x, field)?;
            }
        }
        Ok(())
    }

    /// Pass 2: required members, then each member's constraints, in the model's order.
    fn check_constraints(&self, name: &str, v: &Value, path: &str) -> Result<(), AwsError> {
        let Some(shape) = self.shape(name) else { return Ok(()) };
        for member in &shape.required {
            if v.get(member).is_none_or(Value::is_null) {
                return Err(AwsError::invalid_input(
                    "INPUT_REQUIRED",
                    format!(
                        "You must include a value for all required parameters: {} is required.",
                        join(path, member)
                    ),
                ));
            }
        }
        for (member, member_shape) in &shape.members {
            if let Some(x) = v.get(member).filter(|x| !x.is_null()) {
                self.check_constraints(member_shape, x, &join(path, member))?;
            }
        }
        if let (Some(item), Some(items)) = (&shape.member, v.as_array()) {
            for (i, x) in items.iter().enumerate() {
                self.check_constraints(item, x, &format!("{path}[{i}]"))?;
            }
        }
        match v {
            Value::String(s) => self.check_string(name, shape, s, path),
            Value::Number(n) => n.as_i64().map_or(Ok(()), |n| check_range(shape, n, path)),
            _ => Ok(()),
        }
    }

    fn check_string(&self, name: &str, shape: &Shape, s: &str, path: &str) -> Result<(), AwsError> {
        let len = s.chars().count() as i64;
        if let Some(max) = shape.max.filter(|max| len > *max) {
            return Err(AwsError::invalid_input(
                "MAX_LENGTH_EXCEEDED",
                format!(
                    "You provided a string parameter that is longer than allowed: {path} can be at most {max} characters."
                ),
            ));
        }
        if let Some(min) = shape.min.filter(|min| len < *min) {
            return Err(AwsError::invalid_input(
                "MIN_LENGTH_EXCEEDED",
                format!(
                    "You provided a string parameter that is shorter than allowed: {path} must be at least {min} characters."
                ),
            ));
        }
        if let (Some(re), Some(p)) = (self.patterns.get(name), &shape.pattern)
            && !re.is_match(s)
        {
            return Err(AwsError::invalid_input(
                "INVALID_PATTERN",
                format!("The {path} '{s}' doesn't match the required pattern {p}."),
            ));
        }
        if let Some(values) = shape.values.as_ref().filter(|vs| !vs.iter().any(|x| x == s)) {
            return Err(AwsError::invalid_input(
                "INVALID_ENUM",
                format!(
                    "You specified an invalid value for {path}: {s} (one of {}).",
                    values.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn check_range(shape: &Shape, n: i64, path: &str) -> Result<(), AwsError> {
    if let Some(min) = shape.min.filter(|min| n < *min) {
        return Err(AwsError::invalid_input(
            "MIN_VALUE_EXCEEDED",
            format!("You provided a value that is less than the minimum value allowed: {path} must be at least {min}."),
        ));
    }
    if let Some(max) = shape.max.filter(|max| n > *max) {
        return Err(AwsError::invalid_input(
            "MAX_VALUE_EXCEEDED",
            format!("You provided a value that exceeds the maximum value allowed: {path} must be at most {max}."),
        ));
    }
    Ok(())
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(op: &str, input: Value) -> Option<&'static str> {
        // Test code: leaking a few short strings keeps the assertions plain.
        validate(op, &input)
            .err()
            .and_then(|e| e.reason)
            .map(|r| &*Box::leak(r.into_owned().into_boxed_str()))
    }

    #[test]
    fn the_embedded_model_loads_and_covers_the_operations() {
        let m = load().unwrap();
        for (op, shape) in &m.file.operations {
            if let Some(s) = shape {
                assert!(m.file.shapes.contains_key(s), "{op}: {s}");
            }
        }
        assert!(m.patterns.contains_key("HandshakeId"));
    }

    #[test]
    fn length_before_pattern() {
        // HandshakeId: max 34, pattern ^h-[0-9a-z]{8,32}$, no min (service-2.json).
        let long = format!("h-{}", "a".repeat(33));
        assert_eq!(
            reason("DescribeHandshake", json!({"HandshakeId": long})),
            Some("MAX_LENGTH_EXCEEDED")
        );
        assert_eq!(
            reason("DescribeHandshake", json!({"HandshakeId": ""})),
            Some("INVALID_PATTERN")
        );
        assert_eq!(reason("DescribeHandshake", json!({})), Some("INPUT_REQUIRED"));
        // HandshakePartyId: min 1, max 64.
        let empty_target = json!({"Target": {"Type": "ACCOUNT", "Id": ""}});
        assert_eq!(
            reason("InviteAccountToOrganization", empty_target),
            Some("MIN_LENGTH_EXCEEDED")
        );
        assert_eq!(
            reason("ListAccounts", json!({"MaxResults": 0})),
            Some("MIN_VALUE_EXCEEDED")
        );
        assert_eq!(
            reason(
                "ListHandshakesForOrganization",
                json!({"Filter": {"ParentHandshakeId": "h-XXXX"}})
            ),
            Some("INVALID_PATTERN")
        );
        assert_eq!(
            validate("DescribeHandshake", &json!({"HandshakeId": 5}))
                .unwrap_err()
                .code,
            "SerializationException"
        );
        assert!(validate("DescribeHandshake", &json!({"HandshakeId": "h-abcdefgh12"})).is_ok());
    }

    #[test]
    fn tag_pattern() {
        // TagKey / TagValue: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$.
        let tags = |k: &str, v: &str| json!({"ResourceId": "123456789012", "Tags": [{"Key": k, "Value": v}]});
        assert_eq!(
            reason("TagResource", tags("team#billing", "x")),
            Some("INVALID_PATTERN")
        );
        assert_eq!(
            reason(
                "TagResource",
                tags("wiki", "https://wiki.example/pages?id=42&ref=a%20b")
            ),
            Some("INVALID_PATTERN")
        );
        assert_eq!(reason("TagResource", tags("Team Name", "Zürich 42 +=.:/@-_")), None);
    }
}
