//! Durations as Kubernetes users write them: the grammar of Kubernetes' `metav1.Duration`,
//! which is Go's `time.ParseDuration` (`"300s"`, `"1.5h"`, `"1h30m"`, `"5000000000ms"`).
//!
//! The CRD checks a duration field at admission with CEL's `duration()`, which is the same Go
//! function; [`parse_duration`] follows that function step by step (its overflow rules and its
//! float arithmetic for fractions included) so that the operator reads every admitted value
//! exactly as the API server did. `tests/admission.rs` sends generated strings to both and
//! requires the same verdict.

use std::time::Duration;

/// `spec.reinvite.resendAfter`: the shortest duration admission accepts (the same floor as
/// between any two invitations, [`super::MIN_REINVITE_INTERVAL_SECS`]).
pub const RESEND_AFTER_MIN: &str = "5m";
/// `spec.reinvite.resendAfter`: the longest duration admission accepts. AWS expires an
/// invitation nobody answers after 15 days, so a longer timer could never fire.
pub const RESEND_AFTER_MAX: &str = "360h";
/// `spec.reinvite.resendAfter`: the longest string admission accepts.
pub const RESEND_AFTER_MAX_LENGTH: usize = 32;

/// The CEL rule on `spec.reinvite.resendAfter`. The regular expression is Go's duration
/// grammar with each number's significant digits capped per unit, so that `duration(self)`
/// never overflows (an overflow would be a CEL evaluation error instead of the rule's message);
/// every string it leaves out is longer than [`RESEND_AFTER_MAX`] or not a duration at all.
/// (`[.]` is a literal dot; `\u00b5` and `\u03bc` are the two micro signs Go accepts in `µs`.)
pub const RESEND_AFTER_RULE: &str = concat!(
    "self.matches('^[-+]?(",
    "(0*[0-9]{1,16}([.][0-9]*)?|[.][0-9]+)ns|",
    "(0*[0-9]{1,13}([.][0-9]*)?|[.][0-9]+)(us|\\u00b5s|\\u03bcs)|",
    "(0*[0-9]{1,10}([.][0-9]*)?|[.][0-9]+)ms|",
    "(0*[0-9]{1,7}([.][0-9]*)?|[.][0-9]+)s|",
    "(0*[0-9]{1,5}([.][0-9]*)?|[.][0-9]+)m|",
    "(0*[0-9]{1,4}([.][0-9]*)?|[.][0-9]+)h",
    ")+$') && duration(self) >= duration('5m') && duration(self) <= duration('360h')"
);

/// A string that is not a duration in Go's `time.ParseDuration` grammar, or one out of range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration at all.
    #[error(
        "invalid duration {input:?}: expected numbers with units, e.g. \"90s\", \"1.5h\" or \"1h30m\" (units ns, us, ms, s, m, h)"
    )]
    Invalid {
        /// The string given.
        input: String,
    },
    /// A duration below zero, where only non-negative ones make sense.
    #[error("invalid duration {input:?}: must not be negative")]
    Negative {
        /// The string given.
        input: String,
    },
    /// A duration outside the range a field allows.
    #[error("duration {input:?} is out of range: it must be between {min} and {max}")]
    OutOfRange {
        /// The string given.
        input: String,
        /// The smallest allowed.
        min: &'static str,
        /// The largest allowed.
        max: &'static str,
    },
}

/// A duration in nanoseconds, as Go's `time.ParseDuration` returns it (negative allowed), or
/// `None` where Go returns an error.
pub fn parse_go_duration(input: &str) -> Option<i64> {
    const MAX: u64 = 1 << 63;
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        // [0-9]*: an overflow of the integer part is an error.
        let before = s.len();
        let mut v: u64 = 0;
        while let Some((&c, rest)) = s.split_first()
            && c.is_ascii_digit()
        {
            if v > MAX / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > MAX {
                return None;
            }
            s = rest;
        }
        let pre = before != s.len();
        // (\.[0-9]*)?: digits past what fits are dropped, as Go's leadingFraction does.
        let mut post = false;
        let (mut f, mut scale): (u64, f64) = (0, 1.0);
        if let Some((b'.', rest)) = s.split_first() {
            s = rest;
            let before = s.len();
            let mut overflow = false;
            while let Some((&c, rest)) = s.split_first()
                && c.is_ascii_digit()
            {
                s = rest;
                if overflow {
                    continue;
                }
                if f > (MAX - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > MAX {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = before != s.len();
        }
        if !pre && !post {
            return None;
        }
        // The unit: everything up to the next digit or '.'.
        let end = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        let unit: u64 = match &s[..end] {
            b"ns" => 1,
            // "µs" with U+00B5 MICRO SIGN or U+03BC GREEK SMALL LETTER MU, as UTF-8.
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[end..];
        if v > MAX / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            // Go: float64 is needed to be nanosecond accurate for fractions of hours.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let fraction = (f as f64 * (unit as f64 / scale)) as u64;
            v += fraction;
            if v > MAX {
                return None;
            }
        }
        // Go adds in uint64 arithmetic, which wraps (2^63 + 2^63 is 0).
        d = d.wrapping_add(v);
        if d > MAX {
            return None;
        }
    }
    if neg {
        // d <= 1 << 63, so -d fits (1 << 63 itself is i64::MIN).
        return Some(0_i64.wrapping_sub_unsigned(d));
    }
    i64::try_from(d).ok()
}

/// Parses a non-negative duration in Go's grammar: `"5m"`, `"1h30m"`, `"1.5h"`, `"300s"`, `"250ms"`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let nanos = parse_go_duration(input).ok_or_else(|| DurationError::Invalid {
        input: input.to_owned(),
    })?;
    let nanos = u64::try_from(nanos).map_err(|_| DurationError::Negative {
        input: input.to_owned(),
    })?;
    Ok(Duration::from_nanos(nanos))
}

/// Parses `spec.reinvite.resendAfter` exactly as admission judges it ([`RESEND_AFTER_RULE`] and
/// the field's maxLength): a duration between [`RESEND_AFTER_MIN`] and [`RESEND_AFTER_MAX`].
pub fn parse_resend_after(input: &str) -> Result<Duration, DurationError> {
    let out_of_range = || DurationError::OutOfRange {
        input: input.to_owned(),
        min: RESEND_AFTER_MIN,
        max: RESEND_AFTER_MAX,
    };
    if input.chars().count() > RESEND_AFTER_MAX_LENGTH {
        return Err(DurationError::Invalid {
            input: input.to_owned(),
        });
    }
    let nanos = parse_go_duration(input).ok_or_else(|| DurationError::Invalid {
        input: input.to_owned(),
    })?;
    let (min, max) = (5 * 60 * 1_000_000_000, 360 * 3600 * 1_000_000_000);
    if !(min..=max).contains(&nanos) {
        return Err(out_of_range());
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    /// Values from Go's own table (src/time/time_test.go, parseDurationTests).
    #[test]
    fn agrees_with_gos_parse_duration_table() {
        for (input, want) in [
            ("0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4_000_000),
            ("1.0040s", S + 4_000_000),
            ("100.00100s", 100 * S + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12\u{b5}s", 12_000),
            ("12\u{3bc}s", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * S),
            ("15m", 15 * 60 * S),
            ("16h", 16 * 3600 * S),
            ("3h30m", 3 * 3600 * S + 30 * 60 * S),
            ("10.5s4m", 4 * 60 * S + 10 * S + S / 2),
            ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)),
            ("1h2m3s4ms5us6ns", 3600 * S + 2 * 60 * S + 3 * S + 4_000_000 + 5_000 + 6),
            ("39h9m14.425s", 39 * 3600 * S + 9 * 60 * S + 14 * S + 425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * S),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("-9223372036s854ms775us808ns", i64::MIN),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("0.100000000000000000000h", 6 * 60 * S),
            ("0.830103483285477580700h", 49 * 60 * S + 48 * S + 372_539_827),
            // Go sums the parts in wrapping uint64 arithmetic: 2^63 + 2^63 is 0.
            ("9223372036854775808ns9223372036854775808ns", 0),
        ] {
            assert_eq!(parse_go_duration(input), Some(want), "{input:?}");
        }
    }

    /// Go's table of errors (parseDurationErrorTests) and a few of ours.
    #[test]
    fn refuses_what_go_refuses() {
        for input in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "\u{85}\u{85}",
            "\u{ffff}",
            "9223372036854775810ns",
            "9223372036854775808ns",
            "-9223372036854775809ns",
            "9223372036854776us",
            "3000000h",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "5 m",
            "5mm",
            "h5",
            " 5m",
            "5m ",
            "1h-30m",
        ] {
            assert_eq!(parse_go_duration(input), None, "{input:?}");
        }
    }

    #[test]
    fn parse_duration_takes_the_go_grammar_and_refuses_negatives() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration("5000000000ms"), Ok(Duration::from_secs(5_000_000)));
        assert!(matches!(parse_duration("-5m"), Err(DurationError::Negative { .. })));
        assert!(matches!(parse_duration("5d"), Err(DurationError::Invalid { .. })));
    }

    #[test]
    fn resend_after_is_bounded_like_admission() {
        assert_eq!(parse_resend_after("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_resend_after("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_resend_after("360h"), Ok(Duration::from_secs(360 * 3600)));
        assert_eq!(parse_resend_after("15.0h"), Ok(Duration::from_secs(15 * 3600)));
        for out in ["4m59s", "-1h", "0", "360h1ns", "5000000000ms"] {
            assert!(
                matches!(parse_resend_after(out), Err(DurationError::OutOfRange { .. })),
                "{out:?}"
            );
        }
        assert!(matches!(
            parse_resend_after("000000000000000000000000000000005m"),
            Err(DurationError::Invalid { .. })
        ));
    }
}
