//! Keeps the user documentation honest: the reasons, metrics, annotations and AWS actions that
//! the code uses must be documented in `docs/`. The sources are read as text (no cluster, no
//! AWS) with a small Rust lexer, so comments and test modules never count.
//!
//! - every condition type and reason constant in `src/reconcile/conditions.rs`, every reason
//!   that `src/aws/error.rs` classifies AWS failures into, and every other reason or event
//!   reason written as a literal in `src/aws`, `src/controller` and `src/reconcile` appears,
//!   in backticks, in `docs/troubleshooting.md`;
//! - every metric registered in `src/telemetry/metrics.rs` appears in `docs/metrics.md` with
//!   its exposed name, its type and its labels, and every `aws_invite_*` name the page uses
//!   exists;
//! - every annotation constant in `src/api` appears in `docs/usage.md`;
//! - every AWS action the operator calls appears in the IAM policy of `docs/install.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The non-test `.rs` files of a source directory, sorted.
fn rust_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| !p.file_stem().is_some_and(|s| s.to_string_lossy().ends_with("_tests")))
        .map(|p| {
            format!(
                "{dir}/{}",
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
        })
        .collect();
    files.sort();
    files
}

/// Tokens of a Rust source file up to its first `#[cfg(test)]` (test modules come last here).
fn tokens(src: &str) -> Vec<Tok> {
    let toks = lex(src);
    let cfg_test = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    match toks.windows(cfg_test.len()).position(|w| w == cfg_test) {
        Some(at) => toks[..at].to_vec(),
        None => toks,
    }
}

/// A small Rust lexer: identifiers (numbers included), string literals (decoded enough for
/// plain text) and single punctuation characters. Comments and char literals are skipped.
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_start = |ch: char| ch.is_alphabetic() || ch == '_';
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && c.get(i + 1) == Some(&'r'))) && is_raw_string(&c, i) {
            i += if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            let start = i;
            loop {
                if i >= c.len() {
                    panic!("unterminated raw string");
                }
                if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
                    break;
                }
                i += 1;
            }
            out.push(Tok::Str(c[start..i].iter().collect()));
            i += 1 + hashes;
        } else if ch == '"' || (ch == 'b' && c.get(i + 1) == Some(&'"')) {
            i += if ch == 'b' { 2 } else { 1 };
            let mut s = String::new();
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                    match c.get(i) {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('\n') => {
                            while i + 1 < c.len() && c[i + 1].is_whitespace() {
                                i += 1;
                            }
                        }
                        Some(other) => s.push(*other),
                        None => {}
                    }
                } else {
                    s.push(c[i]);
                }
                i += 1;
            }
            out.push(Tok::Str(s));
            i += 1;
        } else if ch == '\'' || (ch == 'b' && c.get(i + 1) == Some(&'\'')) {
            let q = if ch == 'b' { i + 1 } else { i };
            if c.get(q + 1) == Some(&'\\') {
                // An escaped char literal: skip to its closing quote.
                i = q + 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(q + 2) == Some(&'\'') {
                i = q + 3;
            } else {
                // A lifetime or label.
                out.push(Tok::Punct('\''));
                i = q + 1;
            }
        } else if ident_start(ch) || ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            if ch.is_ascii_digit() && c.get(i) == Some(&'.') && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
            }
            let mut word: String = c[start..i].iter().collect();
            if word == "r" && c.get(i) == Some(&'#') && c.get(i + 1).is_some_and(|n| ident_start(*n)) {
                // A raw identifier such as r#type.
                i += 1;
                let start = i;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
                word = c[start..i].iter().collect();
            }
            out.push(Tok::Ident(word));
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn is_raw_string(c: &[char], i: usize) -> bool {
    let mut j = i + if c[i] == 'b' { 2 } else { 1 };
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    c.get(j) == Some(&'"')
}

fn is_ident(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Ident(w)) if w == word)
}

fn is_punct(t: Option<&Tok>, p: char) -> bool {
    t == Some(&Tok::Punct(p))
}

/// The index just past the bracket that closes the one opened at `open`.
fn closing(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// `const NAME: &str = "value";` items among `toks`: (NAME, value).
fn str_consts(toks: &[Tok]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in 0..toks.len() {
        if is_ident(toks.get(k), "const")
            && let (Some(Tok::Ident(name)), Some(Tok::Str(value))) = (toks.get(k + 1), toks.get(k + 6))
            && is_punct(toks.get(k + 2), ':')
            && is_punct(toks.get(k + 3), '&')
            && is_ident(toks.get(k + 4), "str")
            && is_punct(toks.get(k + 5), '=')
        {
            out.push((name.clone(), value.clone()));
        }
    }
    out
}

/// The condition types (top-level constants) and reasons (`mod reason`) of conditions.rs.
fn condition_types_and_reasons() -> (Vec<String>, Vec<String>) {
    let toks = tokens(&read("src/reconcile/conditions.rs"));
    let start = toks
        .windows(3)
        .position(|w| is_ident(w.first(), "mod") && is_ident(w.get(1), "reason") && is_punct(w.get(2), '{'))
        .expect("conditions.rs has `mod reason {`");
    let end = closing(&toks, start + 2);
    let types = str_consts(&toks[..start]).into_iter().map(|(_, v)| v).collect();
    let reasons: Vec<String> = str_consts(&toks[start..end]).into_iter().map(|(_, v)| v).collect();
    assert!(
        reasons.len() >= 20,
        "expected the reason module's constants, found {reasons:?}"
    );
    (types, reasons)
}

/// The reasons `classify` in src/aws/error.rs can return: the last string literal of every
/// `c(class, "Reason")` call.
fn classified_reasons() -> BTreeSet<String> {
    let toks = tokens(&read("src/aws/error.rs"));
    let mut out = BTreeSet::new();
    for k in 1..toks.len() {
        if is_ident(toks.get(k), "c") && is_punct(toks.get(k + 1), '(') && !is_ident(toks.get(k - 1), "fn") {
            let end = closing(&toks, k + 1);
            if let Some(Tok::Str(reason)) = toks[k + 1..end].iter().rev().find(|t| matches!(t, Tok::Str(_))) {
                out.insert(reason.clone());
            }
        }
    }
    assert!(
        out.contains("AccessDenied") && out.contains("ManagementAccountOfAnotherOrganization"),
        "the classification table was not found in src/aws/error.rs: {out:?}"
    );
    out
}

/// String literals in the expression that starts at `from` and ends at a `,` or `;` at depth 0
/// (or at the bracket that closes the enclosing one).
fn literals_of_expression(toks: &[Tok], from: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    for t in &toks[from..] {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
            }
            Tok::Punct(',' | ';') if depth == 0 => break,
            Tok::Str(s) => out.push(s.clone()),
            _ => {}
        }
    }
    out
}

/// Other reasons written as literals in the code: `reason: "X"` fields (IAM check results,
/// event reasons), `ErrorClass::Y, "X"` (errors raised by the operator itself) and the
/// `(ready, "X".to_owned(), message)` tuples of the profile status.
fn literal_reasons() -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let files: Vec<String> = ["src/aws", "src/controller", "src/reconcile"]
        .into_iter()
        .flat_map(rust_files)
        .collect();
    for file in files {
        let toks = tokens(&read(&file));
        for k in 0..toks.len() {
            let mut add = |s: &str| {
                found.entry(s.to_owned()).or_default().insert(file.clone());
            };
            if is_ident(toks.get(k), "reason") && is_punct(toks.get(k + 1), ':') && !is_punct(toks.get(k + 2), ':') {
                for s in literals_of_expression(&toks, k + 2) {
                    add(&s);
                }
            }
            if is_ident(toks.get(k), "ErrorClass")
                && is_punct(toks.get(k + 1), ':')
                && is_punct(toks.get(k + 2), ':')
                && is_punct(toks.get(k + 4), ',')
                && let Some(Tok::Str(s)) = toks.get(k + 5)
            {
                add(s);
            }
            if is_punct(toks.get(k), '(')
                && (is_ident(toks.get(k + 1), "true") || is_ident(toks.get(k + 1), "false"))
                && is_punct(toks.get(k + 2), ',')
                && let Some(Tok::Str(s)) = toks.get(k + 3)
                && is_punct(toks.get(k + 4), '.')
            {
                add(s);
            }
        }
    }
    found
}

/// Whether `doc` has `word` in backticks, alone or as the first word (`` `Word` `` or `` `Word: ...` ``).
fn has_code_word(doc: &str, word: &str) -> bool {
    let needle = format!("`{word}");
    doc.match_indices(&needle).any(|(at, _)| {
        let next = doc[at + needle.len()..].chars().next();
        !next.is_some_and(|n| n.is_alphanumeric() || n == '_')
    })
}

/// Whether `doc` has `name` not followed by more of an identifier.
fn has_name(doc: &str, name: &str) -> bool {
    doc.match_indices(name).any(|(at, _)| {
        let next = doc[at + name.len()..].chars().next();
        !next.is_some_and(|n| n.is_alphanumeric() || n == '_')
    })
}

fn fail_if_missing(what: &str, page: &str, missing: &[String]) {
    assert!(
        missing.is_empty(),
        "{page} does not document these {what}:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_condition_type_and_reason_is_in_troubleshooting() {
    let doc = read("docs/troubleshooting.md");
    let (types, reasons) = condition_types_and_reasons();
    let missing: Vec<String> = types
        .iter()
        .chain(&reasons)
        .filter(|r| !has_code_word(&doc, r))
        .map(|r| format!("{r} (src/reconcile/conditions.rs)"))
        .collect();
    fail_if_missing(
        "condition types and reasons (write each in backticks, with its meaning and what to do)",
        "docs/troubleshooting.md",
        &missing,
    );
}

#[test]
fn every_classified_aws_error_reason_is_in_troubleshooting() {
    let doc = read("docs/troubleshooting.md");
    let missing: Vec<String> = classified_reasons()
        .into_iter()
        .filter(|r| !has_code_word(&doc, r))
        .map(|r| format!("{r} (src/aws/error.rs)"))
        .collect();
    fail_if_missing(
        "AWS error reasons (write each in backticks, with its meaning and what to do)",
        "docs/troubleshooting.md",
        &missing,
    );
}

#[test]
fn every_other_reason_and_event_reason_is_in_troubleshooting() {
    let doc = read("docs/troubleshooting.md");
    let found = literal_reasons();
    for expected in [
        "MemberAccessDenied",
        "TrustPolicyMismatch",
        "WrongOrganization",
        "CancelSkipped",
    ] {
        assert!(
            found.contains_key(expected),
            "the scan no longer finds {expected}: {found:?}"
        );
    }
    let missing: Vec<String> = found
        .iter()
        .filter(|(r, _)| !has_code_word(&doc, r))
        .map(|(r, files)| format!("{r} ({})", files.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    fail_if_missing(
        "reasons (write each in backticks, with its meaning and what to do)",
        "docs/troubleshooting.md",
        &missing,
    );
}

/// A registered metric: exposed sample name, type and labels.
#[derive(Debug)]
struct Metric {
    name: String,
    kind: &'static str,
    labels: Vec<String>,
}

/// The metrics registered in src/telemetry/metrics.rs, as Prometheus shows them.
fn registered_metrics() -> Vec<Metric> {
    let toks = tokens(&read("src/telemetry/metrics.rs"));
    let prefix = toks
        .windows(3)
        .find_map(|w| match (&w[0], &w[1], &w[2]) {
            (Tok::Ident(f), Tok::Punct('('), Tok::Str(p)) if f == "with_prefix" => Some(p.clone()),
            _ => None,
        })
        .expect("metrics.rs names a registry prefix");
    // Label sets: `struct XLabels { field: String, ... }`.
    let mut label_sets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in 0..toks.len() {
        if is_ident(toks.get(k), "struct")
            && let Some(Tok::Ident(name)) = toks.get(k + 1)
            && is_punct(toks.get(k + 2), '{')
        {
            let end = closing(&toks, k + 2);
            let fields = toks[k + 3..end]
                .windows(2)
                .filter_map(|w| match (&w[0], &w[1]) {
                    (Tok::Ident(f), Tok::Punct(':')) => Some(f.clone()),
                    _ => None,
                })
                .filter(|f| f != "pub")
                .collect();
            label_sets.insert(name.clone(), fields);
        }
    }
    let mut metrics = Vec::new();
    for k in 0..toks.len() {
        let with_unit = is_ident(toks.get(k), "register_with_unit");
        if !(with_unit || is_ident(toks.get(k), "register")) || !is_punct(toks.get(k + 1), '(') {
            continue;
        }
        let Some(Tok::Str(name)) = toks.get(k + 2) else {
            continue;
        };
        let end = closing(&toks, k + 1);
        let args = &toks[k + 2..end];
        // `register_with_unit(name, help, ...::Unit::Seconds, metric)`: the unit is a suffix.
        let unit = if with_unit {
            args.windows(4).find_map(|w| match (&w[0], &w[3]) {
                (Tok::Ident(u), Tok::Ident(v)) if u == "Unit" => Some(v.to_lowercase()),
                _ => None,
            })
        } else {
            None
        };
        let var = args
            .windows(2)
            .rev()
            .find_map(|w| match (&w[0], &w[1]) {
                (Tok::Ident(v), Tok::Punct('.')) => Some(v.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("cannot tell which variable metric {name:?} registers"));
        let decl = toks
            .windows(2)
            .position(|w| is_ident(w.first(), "let") && is_ident(w.get(1), &var))
            .unwrap_or_else(|| panic!("no `let {var}` for metric {name:?}"));
        let decl_end = toks[decl..]
            .iter()
            .position(|t| *t == Tok::Punct(';'))
            .map_or(toks.len(), |p| decl + p);
        let decl = &toks[decl..decl_end];
        let mentions = |w: &str| decl.iter().any(|t| matches!(t, Tok::Ident(i) if i.contains(w)));
        let kind = if mentions("Counter") {
            "counter"
        } else if mentions("Histogram") {
            "histogram"
        } else if mentions("Gauge") {
            "gauge"
        } else {
            panic!("cannot tell the type of metric {name:?}")
        };
        let labels = decl
            .iter()
            .find_map(|t| match t {
                Tok::Ident(i) => label_sets.get(i).cloned(),
                _ => None,
            })
            .unwrap_or_default();
        let mut full = format!("{prefix}_{name}");
        if let Some(unit) = unit {
            full = format!("{full}_{unit}");
        }
        if kind == "counter" {
            full.push_str("_total");
        }
        metrics.push(Metric {
            name: full,
            kind,
            labels,
        });
    }
    assert!(metrics.len() >= 8, "expected the registered metrics, found {metrics:?}");
    metrics
}

#[test]
fn every_metric_is_in_metrics_page_with_type_and_labels() {
    let doc = read("docs/metrics.md");
    let metrics = registered_metrics();
    let mut missing = Vec::new();
    for m in &metrics {
        if !has_name(&doc, &m.name) {
            missing.push(format!("{} ({}, labels {:?}): not mentioned", m.name, m.kind, m.labels));
            continue;
        }
        // Its row in a table: `| `name` | type | labels | ... |`.
        let row = doc.lines().filter(|l| l.trim_start().starts_with('|')).find(|l| {
            l.split('|')
                .nth(1)
                .is_some_and(|cell| cell.trim() == format!("`{}`", m.name))
        });
        let Some(row) = row else {
            missing.push(format!("{}: no table row starting with `{}`", m.name, m.name));
            continue;
        };
        // Cells: "", name, type, labels, meaning, "".
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (kind, labels) = (cells.get(2).copied().unwrap_or(""), cells.get(3).copied().unwrap_or(""));
        if !kind.contains(m.kind) {
            missing.push(format!("{}: its type column says {kind:?}, not {}", m.name, m.kind));
        }
        for label in &m.labels {
            if !labels.contains(&format!("`{label}`")) {
                missing.push(format!("{}: its labels column {labels:?} lacks `{label}`", m.name));
            }
        }
    }
    fail_if_missing("metrics", "docs/metrics.md", &missing);
}

#[test]
fn metrics_page_names_no_unknown_metric() {
    let doc = read("docs/metrics.md");
    let mut known = BTreeSet::new();
    for m in registered_metrics() {
        let base = m.name.trim_end_matches("_total").to_owned();
        if m.kind == "histogram" {
            for suffix in ["_bucket", "_count", "_sum"] {
                known.insert(format!("{}{suffix}", m.name));
            }
        }
        known.insert(m.name);
        known.insert(base);
    }
    let prefix = "aws_invite_";
    let mut unknown = BTreeSet::new();
    for (at, _) in doc.match_indices(prefix) {
        if doc[..at]
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '_')
        {
            continue;
        }
        let name: String = doc[at..]
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
            .collect();
        // The bare prefix ("all names start with aws_invite_") names no metric.
        if name != prefix && !known.contains(&name) {
            unknown.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/metrics.md names metrics the operator does not export: {unknown:?}"
    );
}

#[test]
fn every_annotation_is_in_usage() {
    let doc = read("docs/usage.md");
    let mut missing = Vec::new();
    let mut seen = 0;
    for file in rust_files("src/api") {
        for (name, value) in str_consts(&tokens(&read(&file))) {
            if name.ends_with("_ANNOTATION") {
                seen += 1;
                if !doc.contains(&value) {
                    missing.push(format!("{value} ({name}, {file})"));
                }
            }
        }
    }
    assert!(seen >= 2, "expected the annotation constants of src/api");
    fail_if_missing("annotations (explain when to set each)", "docs/usage.md", &missing);
}

/// The AWS actions the operator calls: `const OP: &str = "..."` and `metered("...")` per file.
fn aws_actions() -> BTreeSet<String> {
    let service_of = |file: &str| match Path::new(file).file_stem().and_then(|s| s.to_str()) {
        Some("organizations") => Some("organizations"),
        Some("iam_access") => Some("iam"),
        Some("client") => Some("sts"),
        _ => None,
    };
    let mut out = BTreeSet::new();
    for file in rust_files("src/aws") {
        let toks = tokens(&read(&file));
        let mut ops: Vec<String> = str_consts(&toks)
            .into_iter()
            .filter(|(name, _)| name == "OP")
            .map(|(_, v)| v)
            .collect();
        for w in toks.windows(3) {
            if let (Tok::Ident(f), Tok::Punct('('), Tok::Str(op)) = (&w[0], &w[1], &w[2])
                && f == "metered"
            {
                ops.push(op.clone());
            }
        }
        for op in ops {
            // AssumeRole is STS wherever it is called from.
            let service = if op == "AssumeRole" {
                Some("sts")
            } else {
                service_of(&file)
            };
            let service = service.unwrap_or_else(|| panic!("which AWS service is {op} (in {file})?"));
            out.insert(format!("{service}:{op}"));
        }
    }
    for expected in [
        "organizations:InviteAccountToOrganization",
        "organizations:ListHandshakesForOrganization",
        "sts:AssumeRole",
        "iam:GetRole",
    ] {
        assert!(out.contains(expected), "the scan no longer finds {expected}: {out:?}");
    }
    out
}

#[test]
fn every_aws_action_is_in_the_iam_policy() {
    let doc = read("docs/install.md");
    let missing: Vec<String> = aws_actions()
        .into_iter()
        .filter(|a| !doc.contains(&format!("\"{a}\"")))
        .collect();
    fail_if_missing(
        "AWS actions (as \"service:Action\" in a policy)",
        "docs/install.md",
        &missing,
    );
}

#[test]
fn the_lexer_sees_through_comments_and_strings() {
    let toks = lex(
        "// \"not\" a string\nconst A: &str = \"a\\\"b\"; /* \"no\" */ let r = r#\"raw\"#; fn f<'a>(x: &'a str) { \
         let c = '\"'; }",
    );
    let strings: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(strings, ["a\"b", "raw"]);
    assert_eq!(str_consts(&toks), [("A".to_owned(), "a\"b".to_owned())]);
}
