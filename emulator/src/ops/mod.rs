//! The operations: each service's module turns a parsed request into a model call and renders
//! the result in the service's wire format. Adding an operation means one match arm in its
//! service's module (and, for a new query-protocol action, one line in [`query_service`]).

mod organizations;
mod shape;
mod sts_iam;

use crate::call::{Output, Protocol};
use crate::endpoint::Parsed;
use crate::error::AwsError;
use crate::state::{State, Time};

/// The service (and its protocol) of a query-protocol `Action`.
pub(crate) fn query_service(action: &str) -> Option<(&'static str, Protocol)> {
    match action {
        "AssumeRole" | "AssumeRoleWithWebIdentity" | "GetCallerIdentity" => {
            Some(("sts", Protocol::Query { iam: false }))
        }
        "GetRole" => Some(("iam", Protocol::Query { iam: true })),
        _ => None,
    }
}

/// Executes `operation` against the model.
pub(crate) fn execute(
    state: &mut State,
    req: &Parsed,
    operation: &str,
    protocol: Protocol,
    now: Time,
    rid: &str,
) -> Result<Output, AwsError> {
    match protocol {
        Protocol::Json => {
            let input = shape::input(&state.options.response_shape, operation, &req.input);
            let mut out = organizations::execute(state, &req.caller, operation, &input, now)?;
            out.body = shape::body(state, operation, &out.body);
            Ok(out)
        }
        Protocol::Query { .. } => sts_iam::execute(state, req, operation, now, rid),
    }
}
