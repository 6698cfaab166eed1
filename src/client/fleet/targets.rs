//! Target lists, free of I/O: comma lists whose commas inside `[...]` are
//! range separators, numeric ranges (`web[01-20]`, `db[1-3,7]`, zero
//! padding kept; Ansible's `[1:3]` too), hosts files (one target per line,
//! `#` comments), and exclusions. The grammar is pdsh's and ClusterShell's
//! common subset (docs/CLIENT.md, "Ranges"); anything else (a stray or
//! nested bracket, a set operator, mismatched padding) is refused,
//! quoting the whole item typed, never read as part of a host name.

/// Most hosts one pattern may expand to (a typo like `[1-99999999]` is an
/// error, not an allocation).
pub const MAX_EXPANSION: usize = 100_000;

/// Why a target list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A `[` without `]`, an empty or reversed range, a non-number.
    #[error("bad range in {pattern:?}: {why}")]
    Range {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        why: String,
    },
    /// The pattern expands to too many hosts.
    #[error("{0:?} expands to more than {MAX_EXPANSION} hosts")]
    TooMany(String),
}

/// Split a comma list at the commas outside brackets.
pub fn split_list(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0usize);
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The numbers (as text, padded) one bracket body stands for, each bound
/// written after the digits `lead` that precede the bracket.
fn bracket(pattern: &str, body: &str, lead: &str) -> Result<Vec<String>, TargetError> {
    let bad = |why: &str| TargetError::Range {
        pattern: pattern.to_string(),
        why: why.to_string(),
    };
    let mut out = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        let (a, b) = part
            .split_once('-')
            .or_else(|| part.split_once(':'))
            .unwrap_or((part, part));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(bad("ranges are decimal numbers like [1-9] or [01-20]"));
        }
        let (a, b) = (format!("{lead}{a}"), format!("{lead}{b}"));
        let (a, b) = (a.as_str(), b.as_str());
        let padded = |t: &str| t.len() > 1 && t.starts_with('0');
        if (padded(a) || padded(b)) && a.len() != b.len() {
            return Err(bad(
                "padding mismatch: a zero-padded range has both ends the same width ([01-20], [001-100])",
            ));
        }
        let (lo, hi): (u64, u64) = (
            a.parse().map_err(|_| bad("number too large"))?,
            b.parse().map_err(|_| bad("number too large"))?,
        );
        if lo > hi {
            return Err(bad("the range runs backwards"));
        }
        if hi - lo >= MAX_EXPANSION as u64 {
            return Err(TargetError::TooMany(pattern.to_string()));
        }
        let width = if a.len() > 1 && a.starts_with('0') {
            a.len()
        } else {
            0
        };
        out.extend((lo..=hi).map(|n| format!("{n:0width$}")));
    }
    Ok(out)
}

/// Expand every `[...]` in one pattern (several brackets multiply).
pub fn expand(pattern: &str) -> Result<Vec<String>, TargetError> {
    check(pattern)?;
    expand_from(pattern, pattern, false)
}

/// Refuse what the grammar has no meaning for, before expanding.
fn check(pattern: &str) -> Result<(), TargetError> {
    let bad = |why: String| TargetError::Range {
        pattern: pattern.to_string(),
        why,
    };
    if let Some(op) = pattern.chars().find(|c| matches!(c, '!' | '&' | '^')) {
        return Err(bad(format!(
            "set operator {op:?} is not supported: list the hosts, or leave some out with -x"
        )));
    }
    let mut open = false;
    for c in pattern.chars() {
        match (c, open) {
            ('[', true) => return Err(bad("brackets do not nest".into())),
            ('[', false) => open = true,
            (']', false) => return Err(bad("a ] without its [".into())),
            (']', true) => open = false,
            _ => {}
        }
    }
    if open {
        return Err(bad("no closing ]".into()));
    }
    Ok(())
}

/// [`expand`] of `pattern`, the rest of the item `full` (errors quote it);
/// `after` when `pattern` follows a range.
fn expand_from(full: &str, pattern: &str, after: bool) -> Result<Vec<String>, TargetError> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| i + open)
        .ok_or_else(|| TargetError::Range {
            pattern: full.to_string(),
            why: "no closing ]".into(),
        })?;
    let body = &pattern[open + 1..close];
    let range_like = !body.contains("::")
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '-' | ':' | ' '));
    let host_start = open == 0 || pattern[..open].ends_with('@');
    if !range_like && host_start {
        // An IPv6 address in brackets (`[::1]:7022`): literal.
        let rest = expand_from(full, &pattern[close + 1..], false)?;
        return Ok(rest
            .into_iter()
            .map(|r| format!("{}{r}", &pattern[..=close]))
            .collect());
    }
    // Digits right before a range are part of its numbers, as in
    // ClusterShell: `n9[3-12]` is 93 to 912, `n0[1-9]` 01 to 09. Between
    // two ranges there must be something else.
    let text = &pattern[..open];
    if after && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetError::Range {
            pattern: full.to_string(),
            why: "two ranges need a letter or sign between them (n[1-2]x[3-4])".into(),
        });
    }
    let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, lead) = text.split_at(text.len() - digits);
    if !lead.is_empty() && body.contains(',') {
        // ClusterShell reads `n9[1,3-4]` value by value but `n9[3-12]`
        // by its bounds: too subtle to guess at.
        return Err(TargetError::Range {
            pattern: full.to_string(),
            why: "digits before a list of ranges: write them inside ([91,93-94])".into(),
        });
    }
    let heads = bracket(full, body, lead)?;
    let tails = expand_from(full, &pattern[close + 1..], true)?;
    if heads.len().saturating_mul(tails.len()) > MAX_EXPANSION {
        return Err(TargetError::TooMany(full.to_string()));
    }
    let mut out = Vec::with_capacity(heads.len() * tails.len());
    for h in &heads {
        for t in &tails {
            out.push(format!("{prefix}{h}{t}"));
        }
    }
    Ok(out)
}

/// The targets of a hosts file's text: one per line (each may be a list
/// or a range), `#` starts a comment, blank lines are skipped.
pub fn hosts_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .flat_map(split_list)
        .collect()
}

/// Remove duplicates, keeping the first of each.
pub fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<String> {
        split_list(s)
            .iter()
            .flat_map(|p| expand(p).unwrap())
            .collect()
    }

    #[test]
    fn ranges_lists_and_padding() {
        let cases: &[(&str, &[&str])] = &[
            ("web1", &["web1"]),
            ("db[1-3,7]", &["db1", "db2", "db3", "db7"]),
            (
                "web[01-03].example.com",
                &[
                    "web01.example.com",
                    "web02.example.com",
                    "web03.example.com",
                ],
            ),
            ("a[1-2]b[8-9]", &["a1b8", "a1b9", "a2b8", "a2b9"]),
            (
                "127.0.0.[1-3,7],127.0.0.9",
                &[
                    "127.0.0.1",
                    "127.0.0.2",
                    "127.0.0.3",
                    "127.0.0.7",
                    "127.0.0.9",
                ],
            ),
            ("web[9:11]", &["web9", "web10", "web11"]),
            ("alice@h[1-2]:7022", &["alice@h1:7022", "alice@h2:7022"]),
            ("[::1]:7022, x", &["[::1]:7022", "x"]),
            (" a , ,b ", &["a", "b"]),
        ];
        for (input, want) in cases {
            assert_eq!(all(input), *want, "{input}");
        }
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in ["web[3-1]", "web[1-", "web[a-b]x[", "db[1-x]", "h[]"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
        // Refused, quoting the whole item as typed.
        for bad in [
            "n[1-2]]",
            "n]",
            "]n",
            "n[[1-2]]",
            "r[1-2]n[3",
            "n[1-5]!n3",
            "n[1-5]&n[3-9]",
            "a^b",
            "n[1-010]",
            "n[01-3]",
        ] {
            let e = expand(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        assert_eq!(expand("n[00-01]").unwrap(), ["n00", "n01"]);
        // Digits before a range belong to it (ClusterShell's reading).
        assert_eq!(
            expand("x9[8-10]").unwrap(),
            (98..=910).map(|n| format!("x{n}")).collect::<Vec<_>>()
        );
        assert_eq!(expand("n0[1-3]").unwrap(), ["n01", "n02", "n03"]);
        for bad in ["n0[8-10]", "n[1-2][3-4]", "n[1-2]0[3]", "n9[1,3]"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            expand("h[0-999999999]"),
            Err(TargetError::TooMany(_))
        ));
        assert!(matches!(
            expand("h[0-999]x[0-999]"),
            Err(TargetError::TooMany(_))
        ));
    }

    #[test]
    fn hosts_files_and_dedup() {
        let text = "# web tier\nweb1\n\n   # indented\nweb2 # inline\nweb[3-4],db1\nweb1\n";
        let got: Vec<String> = hosts_file(text)
            .iter()
            .flat_map(|p| expand(p).unwrap())
            .collect();
        assert_eq!(dedup(got), ["web1", "web2", "web3", "web4", "db1"]);
        assert!(hosts_file("# nothing\n\n").is_empty());
    }
}
