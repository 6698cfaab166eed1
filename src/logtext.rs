//! Peer-controlled text made safe for one log line: escaped (no control
//! characters, quotes or newlines get through), cut to a fixed size with
//! its full length noted, so what an attacker sends cannot flood, forge or
//! split log lines.

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
