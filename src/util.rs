//! Small helpers shared by several areas.

/// `text` made safe to show in an error message or a terminal: control characters
/// (escape sequences, newlines, NUL) are replaced by `?` and the result is cut to at most
/// `max` characters, with `...` marking the cut. Used for everything a peer or a file
/// supplies that ends up in a message.
pub(crate) fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_never_reach_a_terminal() {
        assert_eq!(super::printable("ok\x1b[2J\nbad\0", 80), "ok?[2J?bad?");
        assert_eq!(super::printable("abcdef", 3), "abc...");
    }
}
