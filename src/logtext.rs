//! Peer-controlled text made safe for one log line: escaped (no control
//! characters, quotes or newlines get through), cut to a fixed size with
//! its full length noted, so what an attacker sends cannot flood, forge or
//! split log lines. [`visible`] is the same rule for text shown on an
//! operator's terminal: control characters come out as escapes, never raw.

use std::borrow::Cow;

/// Bytes of one peer-controlled string kept in a log line.
pub const MAX_SHOWN: usize = 256;
/// Bytes of a whole argv kept in a log line.
pub const MAX_ARGV_SHOWN: usize = 512;

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` escaped, at most [`MAX_SHOWN`] bytes of it, with `... (N bytes)`
/// when cut.
pub fn shown(s: &str) -> String {
    let kept = cut(s, MAX_SHOWN);
    let head = kept.escape_debug().to_string();
    if kept.len() < s.len() {
        format!("{head}... ({} bytes)", s.len())
    } else {
        head
    }
}

/// An argv as `["a", "b"]`, each element escaped and cut to
/// [`MAX_SHOWN`] bytes, the whole cut after [`MAX_ARGV_SHOWN`] bytes with
/// the number of elements and bytes noted.
pub fn argv(argv: &[String]) -> String {
    let mut out = String::from("[");
    for (i, a) in argv.iter().enumerate() {
        if out.len() > MAX_ARGV_SHOWN {
            let total: usize = argv.iter().map(String::len).sum();
            out.push_str(&format!("... ({} args, {total} bytes)", argv.len()));
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(&shown(a));
        out.push('"');
    }
    out.push(']');
    out
}

/// True for what must never reach a terminal or a log raw: C0 and C1
/// controls, DEL, and the Unicode controls that reorder text on screen
/// (bidirectional embeddings, overrides and isolates).
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character escaped (`\n`, `\r`, `\t`, `\x1b`,
/// `\u{202e}`, ...) and everything else, backslashes included, as it is:
/// text from a peer that secsh prints in its own messages, like OpenSSH's
/// visual encoding of server-sent strings. Borrowed when nothing needed
/// escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One formatted log record made a single line: every control character
/// in `line` escaped as [`visible`] does, except its final newline and,
/// with `ansi`, the colour sequences (`ESC [ digits ; m`) of the formatter.
/// Whatever a field holds, the record cannot start a second line.
pub fn one_line(line: &str, ansi: bool) -> Cow<'_, str> {
    let body = line.strip_suffix('\n').unwrap_or(line);
    if !body.chars().any(hidden) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if ansi && c == '\u{1b}' {
            if let Some(n) = sgr_len(rest) {
                out.push_str(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
        }
        let n = c.len_utf8();
        out.push_str(&visible(&rest[..n]));
        rest = &rest[n..];
    }
    out.push('\n');
    Cow::Owned(out)
}

/// Length of the colour sequence `ESC [ [0-9;]* m` at the start of `s`.
fn sgr_len(s: &str) -> Option<usize> {
    let tail = s.strip_prefix("\u{1b}[")?;
    let params = tail
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (tail.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_escaped_long_text_is_cut_with_its_length() {
        assert_eq!(shown("alice"), "alice");
        assert_eq!(shown("a\nb\"c\u{1b}"), "a\\nb\\\"c\\u{1b}");
        let long = "x".repeat(60_000);
        let s = shown(&long);
        assert!(s.len() < 300 && s.ends_with("... (60000 bytes)"), "{s}");
        // Never cut inside a character.
        assert!(shown(&"é".repeat(200)).ends_with("(400 bytes)"));
    }

    #[test]
    fn visible_escapes_controls_and_keeps_the_rest() {
        assert_eq!(visible("plain \\ text é"), "plain \\ text é");
        assert_eq!(
            visible("<<E\u{1b}]0;PWNED\u{7}\u{1b}[2JE>>"),
            "<<E\\x1b]0;PWNED\\x07\\x1b[2JE>>"
        );
        assert_eq!(visible("a\nb\r\tc\u{7f}\u{9b}"), "a\\nb\\r\\tc\\x7f\\x9b");
        assert_eq!(visible("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn a_log_record_stays_one_line() {
        let forged =
            "2026 INFO transfer path=/x\n2099-01-01T00:00:00Z INFO authenticated user=root\n";
        let line = one_line(forged, false);
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(
            line.ends_with("user=root\n") && line.contains("/x\\n2099"),
            "{line}"
        );
        // The formatter's own colours survive with ansi; a peer's clear-screen does not.
        let coloured = "\u{1b}[32m INFO\u{1b}[0m m=\u{1b}[2J\u{7}\n";
        assert_eq!(
            one_line(coloured, true),
            "\u{1b}[32m INFO\u{1b}[0m m=\\x1b[2J\\x07\n"
        );
        assert_eq!(
            one_line(coloured, false),
            "\\x1b[32m INFO\\x1b[0m m=\\x1b[2J\\x07\n"
        );
        assert!(matches!(one_line("ok\n", false), Cow::Borrowed(_)));
    }

    #[test]
    fn argv_is_bounded() {
        assert_eq!(argv(&["ls".into(), "-l a".into()]), "[\"ls\", \"-l a\"]");
        let many: Vec<String> = (0..10_000).map(|i| format!("arg{i}")).collect();
        let s = argv(&many);
        assert!(s.len() < MAX_ARGV_SHOWN + 100, "{}", s.len());
        assert!(s.ends_with("... (10000 args, 68890 bytes)]"), "{s}");
        let s = argv(&["x".repeat(60_000)]);
        assert!(s.len() < 300, "{s}");
    }
}
