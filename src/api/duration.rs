//! Durations as Kubernetes users write them (`5m`, `1h30m`, `90s`), the subset of Go's
//! `time.ParseDuration` that the CRD's CEL rule (`^([0-9]+(ms|s|m|h))+$`) accepts.

use std::time::Duration;

/// A duration string that does not match `^([0-9]+(ms|s|m|h))+$`, the CRD's own rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {input:?}: expected digits followed by h, m, s or ms, e.g. \"10m\" or \"1h30m\"")]
pub struct DurationError {
    input: String,
}

/// Parses `1h30m`, `5m`, `90s`, `250ms`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = || DurationError {
        input: input.to_owned(),
    };
    let mut rest = input;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(err());
        };
        let part = unit
            .checked_mul(u32::try_from(value).map_err(|_| err())?)
            .ok_or_else(err)?;
        total = total.checked_add(part).ok_or_else(err)?;
        rest = &rest[len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_crd_accepts() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
    }

    #[test]
    fn rejects_what_the_crd_rejects() {
        for bad in ["", "5", "m", "5d", "-5m", "5 m", "1.5h", "h5"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
