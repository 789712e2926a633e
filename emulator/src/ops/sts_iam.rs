//! STS (AssumeRole, GetCallerIdentity) and IAM (GetRole) over the query protocol.

use crate::call::Output;
use crate::error::AwsError;
use crate::state::{Caller, State, Time};
use crate::wire;

/// Executes one STS / IAM query-protocol operation.
pub(super) fn execute(
    state: &mut State,
    caller: &Caller,
    op: &str,
    form: &[(String, String)],
    now: Time,
    rid: &str,
) -> Result<Output, AwsError> {
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let body = match op {
        "AssumeRole" => {
            let duration = match f("DurationSeconds") {
                Some(d) => Some(
                    d.parse::<i64>()
                        .map_err(|_| AwsError::query("ValidationError", 400, "DurationSeconds must be an integer"))?,
                ),
                None => None,
            };
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
