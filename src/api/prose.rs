//! Field descriptions as `kubectl explain` shows them: doc comments are wrapped at the source's
//! line width, and `kubectl explain` wraps again at the terminal's, so hard line breaks inside a
//! sentence come out as ragged lines. [`join_wrapped_lines`] joins the lines of each paragraph
//! into one, as controller-gen does for Go types, keeping what a writer meant: blank lines
//! between paragraphs, list items (`- `, `* `, `1. `) on lines of their own, and fenced code
//! blocks verbatim. [`super::schema::join_descriptions`] applies it to every `description` of a
//! CRD's schemas.

/// Whether `line` (without its indentation) starts a list item: `- x`, `* x`, `+ x`, `1. x`, `1) x`.
pub fn is_list_item(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        return rest.starts_with(' ');
    }
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && digits <= 9 && {
        let rest = &line[digits..];
        rest.starts_with(". ") || rest.starts_with(") ")
    }
}

/// Joins the hard-wrapped lines of each paragraph of `text` into one line.
///
/// - A blank line ends a paragraph; runs of blank lines become one `"\n\n"`.
/// - A line that starts a list item ([`is_list_item`]) starts a new line (keeping its
///   indentation, for nested lists); the lines after it that start no item continue it.
/// - Lines between ```` ``` ```` fences are kept as they are.
/// - Other lines continue the line before, joined by one space.
pub fn join_wrapped_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    let mut paragraph_break = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        let bare = line.trim_start();
        let fence = bare.starts_with("```");
        if in_fence || fence {
            if !out.is_empty() {
                out.push_str(if paragraph_break { "\n\n" } else { "\n" });
            }
            out.push_str(line);
            paragraph_break = false;
            in_fence ^= fence;
            continue;
        }
        if bare.is_empty() {
            paragraph_break = !out.is_empty();
            continue;
        }
        if out.is_empty() {
            out.push_str(if is_list_item(bare) { line } else { bare });
        } else if paragraph_break {
            out.push_str("\n\n");
            out.push_str(if is_list_item(bare) { line } else { bare });
        } else if is_list_item(bare) || out.ends_with("```") {
            out.push('\n');
            out.push_str(line);
        } else {
            out.push(' ');
            out.push_str(bare);
        }
        paragraph_break = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_wrapped_lines_into_one_paragraph() {
        assert_eq!(
            join_wrapped_lines("The 12-digit ID, e.g. \"444455556666\" (quote it in YAML so\nleading zeros survive)."),
            "The 12-digit ID, e.g. \"444455556666\" (quote it in YAML so leading zeros survive)."
        );
        assert_eq!(join_wrapped_lines("one line"), "one line");
        assert_eq!(join_wrapped_lines("  padded  \n  lines  "), "padded lines");
        assert_eq!(join_wrapped_lines(""), "");
    }

    #[test]
    fn keeps_paragraph_breaks_and_collapses_runs_of_blank_lines() {
        assert_eq!(
            join_wrapped_lines("First paragraph\nwrapped.\n\nSecond\nparagraph.\n\n\n\nThird."),
            "First paragraph wrapped.\n\nSecond paragraph.\n\nThird."
        );
        // Leading and trailing blank lines are dropped.
        assert_eq!(join_wrapped_lines("\n\ntext\n\n"), "text");
    }

    #[test]
    fn keeps_list_items_on_their_own_lines_and_joins_their_continuations() {
        let doc =
            "Phases:\n- Pending: nothing\n  sent yet.\n- Ready\n* starred\n+ plus\n1. first\n10) tenth\n  - nested";
        assert_eq!(
            join_wrapped_lines(doc),
            "Phases:\n- Pending: nothing sent yet.\n- Ready\n* starred\n+ plus\n1. first\n10) tenth\n  - nested"
        );
        // After a list, a blank line starts a paragraph again.
        assert_eq!(join_wrapped_lines("- a\n\nafter\nthe list"), "- a\n\nafter the list");
    }

    #[test]
    fn does_not_take_ordinary_text_for_a_list() {
        for (text, joined) in [
            ("costs\n-5 dollars", "costs -5 dollars"),
            ("since\n2026.", "since 2026."),
            ("a\n*emphasis*", "a *emphasis*"),
            ("the --flag\n--other", "the --flag --other"),
        ] {
            assert_eq!(join_wrapped_lines(text), joined, "{text:?}");
        }
    }

    #[test]
    fn keeps_fenced_code_verbatim() {
        let doc = "Example:\n```yaml\nspec:\n  accountId: \"1\"\n```\nThat is\nall.";
        assert_eq!(
            join_wrapped_lines(doc),
            "Example:\n```yaml\nspec:\n  accountId: \"1\"\n```\nThat is all."
        );
    }

    #[test]
    fn is_idempotent() {
        let doc = "a\nb\n\n- c\n  d\n\n```\nx\n y\n```\n\ne\nf";
        let once = join_wrapped_lines(doc);
        assert_eq!(join_wrapped_lines(&once), once);
    }
}
