//! STS (AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity) and IAM (GetRole) over the query protocol.

use crate::call::Output;
use crate::endpoint::Parsed;
use crate::error::AwsError;
use crate::state::{State, Time, WebIdentityRequest};
use crate::wire;

/// Executes one STS / IAM query-protocol operation.
pub(super) fn execute(state: &mut State, req: &Parsed, op: &str, now: Time, rid: &str) -> Result<Output, AwsError> {
    let caller = &req.caller;
    let f = |k: &str| req.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let duration = || match f("DurationSeconds") {
        Some(d) => d
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AwsError::query("ValidationError", 400, "DurationSeconds must be an integer")),
        None => Ok(None),
    };
    let body = match op {
        "AssumeRole" => {
            let duration = duration()?;
            let s = state.assume_role(
                caller,
                f("RoleArn"),
                f("RoleSessionName"),
                f("ExternalId"),
                duration,
                now,
            )?;
            wire::assume_role_xml(&s, rid)
        }
        "AssumeRoleWithWebIdentity" => {
            let request = WebIdentityRequest {
                role_arn: f("RoleArn"),
                session_name: f("RoleSessionName"),
                token: f("WebIdentityToken"),
                duration_seconds: duration()?,
            };
            let s = state.assume_role_with_web_identity(&request, &req.web_identity_keys, now)?;
            wire::assume_role_with_web_identity_xml(&s, rid)
        }
        "GetCallerIdentity" => wire::caller_identity_xml(&caller.account_id, &caller.arn, &caller.user_id, rid),
        "GetRole" => {
            let r = state.get_role(caller, f("RoleName"))?;
            wire::get_role_xml(&r, rid)
        }
        other => {
            return Err(AwsError::query(
                "InvalidAction",
                400,
                format!("Could not find operation {other}"),
            ));
        }
    };
    Ok(Output {
        body,
        handshake_id: None,
    })
}
