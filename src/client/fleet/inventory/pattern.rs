//! Ansible's inventory host patterns: an optional `:PORT` (split off only
//! when what is left is a valid address or host name, as Ansible's
//! `parse_address` does), then `[BEGIN:END]` / `[BEGIN:END:STEP]` ranges,
//! numeric (zero-padded when BEGIN is) or alphabetic, expanded left to
//! right. This is not the command line's range grammar (`n[1-3]`): an
//! inventory is read the way Ansible reads it.

/// `pattern` split into its host names (at most `max`) and the port it
/// gave, if any.
pub fn expand_pattern(pattern: &str, max: usize) -> Result<(Vec<String>, Option<u16>), String> {
    let (host, port) = match parse_address(pattern) {
        Some((h, p)) => (h, p),
        None => (pattern.to_string(), None),
    };
    let port = match port {
        Some(p) => {
            Some(u16::try_from(p).map_err(|_| format!("port {p} in {pattern:?} is out of range"))?)
        }
        None => None,
    };
    let mut out = Vec::new();
    if host.contains('[') {
        expand_range(&host, max, &mut out)?;
    } else {
        out.push(host);
    }
    Ok((out, port))
}

/// Ansible's `expand_hostname_range`: the first `[...]` is a range,
/// the rest of the name is expanded again for each value.
fn expand_range(name: &str, max: usize, out: &mut Vec<String>) -> Result<(), String> {
    let marked = name.replacen('[', "|", 1).replacen(']', "|", 1);
    let parts: Vec<&str> = marked.split('|').collect();
    let [head, range, tail] = parts[..] else {
        return Err(format!("{name:?}: unbalanced brackets in a host range"));
    };
    let bounds: Vec<&str> = range.split(':').collect();
    if !(2..=3).contains(&bounds.len()) {
        return Err(format!(
            "{name:?}: a host range is [BEGIN:END] or [BEGIN:END:STEP]"
        ));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("{name:?}: the host range has no end"));
    }
    let step: i64 = match bounds.get(2) {
        None => 1,
        Some(s) => python_int(s).ok_or_else(|| format!("{name:?}: step {s:?} is not a number"))?,
    };
    let width = if beg.len() > 1 && beg.starts_with('0') {
        if beg.len() != end.len() {
            return Err(format!(
                "{name:?}: a zero-padded range needs BEGIN and END of the same length"
            ));
        }
        beg.len()
    } else {
        0
    };
    let values = match (letter_index(beg), letter_index(end)) {
        (Some(b), Some(e)) if step != 0 => {
            if b > e {
                return Err(format!("{name:?}: the host range's BEGIN is after its END"));
            }
            letters(b, e, step)
        }
        _ => numbers(name, beg, end, step, width, max)?,
    };
    for v in values {
        let h = format!("{head}{v}{tail}");
        if h.contains('[') {
            expand_range(&h, max, out)?;
        } else {
            out.push(h);
        }
        if out.len() > max {
            return Err(format!("{name:?} expands to more than {max} hosts"));
        }
    }
    Ok(())
}

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Python's `string.ascii_letters.index(s)`: where `s` occurs in a-zA-Z.
fn letter_index(s: &str) -> Option<usize> {
    ASCII_LETTERS.find(s)
}

/// `ascii_letters[b:e+1:step]`.
fn letters(b: usize, e: usize, step: i64) -> Vec<String> {
    if step < 0 {
        return Vec::new(); // a backwards slice of a forward span is empty
    }
    ASCII_LETTERS[b..=e]
        .chars()
        .step_by(step as usize)
        .map(String::from)
        .collect()
}

/// `range(int(beg), int(end) + 1, step)`, zero-filled to `width`.
fn numbers(
    name: &str,
    beg: &str,
    end: &str,
    step: i64,
    width: usize,
    max: usize,
) -> Result<Vec<String>, String> {
    let bad = |s: &str| format!("{name:?}: {s:?} is neither a number nor a letter range");
    let b = python_int(beg).ok_or_else(|| bad(beg))?;
    let e = python_int(end).ok_or_else(|| bad(end))?;
    if step == 0 {
        return Err(format!("{name:?}: the host range's step is 0"));
    }
    let (b, e, step) = (i128::from(b), i128::from(e), i128::from(step));
    let (span, stride) = if step > 0 {
        ((e + 1 - b).max(0), step)
    } else {
        ((b - (e + 1)).max(0), -step)
    };
    let count = (span + stride - 1) / stride;
    if count > max as i128 {
        return Err(format!("{name:?} expands to more than {max} hosts"));
    }
    Ok((0..count)
        .map(|i| {
            let v = b + i * step;
            let s = v.unsigned_abs().to_string();
            let sign = if v < 0 { "-" } else { "" };
            // str.zfill keeps the sign in front of the zeros.
            let pad = width.saturating_sub(s.len() + sign.len());
            format!("{sign}{}{s}", "0".repeat(pad))
        })
        .collect())
}

/// Python's `int(s)` for the forms a range bound takes: optional sign,
/// decimal digits with single `_` between them, surrounding whitespace.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let v: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Ansible's `parse_address(pattern, allow_ranges=True)`: the host and
/// port, or `None` when it is not a valid address or host name (Ansible
/// then keeps the whole pattern, port included, as the name).
fn parse_address(pattern: &str) -> Option<(String, Option<u64>)> {
    let mut address = pattern.to_string();
    let mut port = None;
    // `[host]:port`, then `host:port` (both tried, in that order).
    if let Some((h, p)) = bracketed_hostport(&address) {
        (address, port) = (h, Some(p));
    }
    if let Some((h, p)) = hostport(&address) {
        (address, port) = (h, Some(p));
    }
    let valid = is_ipv4(&address)
        || (!address.contains('[') && address.parse::<std::net::Ipv6Addr>().is_ok())
        || is_hostname(&address);
    valid.then_some((address, port))
}

fn port_of(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Ansible takes any digits; a port past 65535 is refused later.
    Some(s.parse().unwrap_or(u64::MAX))
}

fn bracketed_hostport(s: &str) -> Option<(String, u64)> {
    let rest = s.strip_prefix('[')?;
    let (inner, port) = rest.rsplit_once("]:")?;
    if inner.is_empty() {
        return None;
    }
    Some((inner.to_string(), port_of(port)?))
}

/// `((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`
fn hostport(s: &str) -> Option<(String, u64)> {
    let (head, port) = s.rsplit_once(':')?;
    let port = port_of(port)?;
    let mut in_bracket = false;
    for c in head.chars() {
        match (in_bracket, c) {
            (false, '[') => in_bracket = true,
            (false, ']' | ':') => return None,
            (true, ']') => in_bracket = false,
            _ => {}
        }
    }
    (!in_bracket).then(|| (head.to_string(), port))
}

/// An IPv4 address whose parts may be numeric ranges.
fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            numeric_range(p)
                || (!p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && p.parse::<u16>().is_ok_and(|v| v <= 255))
        })
}

/// `[N:M]` or `[N:M:S]`, digits only.
fn numeric_range(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a:z]`-style one-letter range (either case) or a numeric one, with an
/// optional numeric step.
fn alnum_range(s: &str) -> bool {
    if numeric_range(s) {
        return true;
    }
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(':').collect();
    let letter = |p: &str| p.len() == 1 && p.bytes().all(|b| b.is_ascii_alphabetic());
    (2..=3).contains(&parts.len())
        && letter(parts[0])
        && letter(parts[1])
        && parts
            .get(2)
            .is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Ansible's host name rule: dot-separated labels of word characters,
/// `-` and ranges, each starting with a word character or a range and not
/// ending in `-` or `_`.
fn is_hostname(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut rest = label;
    let mut first = true;
    let mut last = None;
    while let Some(c) = rest.chars().next() {
        if c == '[' {
            let Some(end) = rest.find(']') else {
                return false;
            };
            if !alnum_range(&rest[..=end]) {
                return false;
            }
            rest = &rest[end + 1..];
            last = Some(']');
        } else if word(c) || (!first && c == '-') {
            rest = &rest[c.len_utf8()..];
            last = Some(c);
        } else {
            return false;
        }
        first = false;
    }
    !matches!(last, None | Some('-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        expand_pattern(p, 100_000).unwrap().0
    }

    #[test]
    fn ranges_as_ansible_expands_them() {
        assert_eq!(names("web[01:03]"), ["web01", "web02", "web03"]);
        assert_eq!(names("w[1:10:3]"), ["w1", "w4", "w7", "w10"]);
        assert_eq!(names("v[:2]"), ["v0", "v1", "v2"]);
        assert_eq!(names("x[a:c]y"), ["xay", "xby", "xcy"]);
        assert_eq!(names("z[x:B]"), ["zx", "zy", "zz", "zA", "zB"]);
        assert_eq!(
            names("r[1:2]n[08:09]"),
            ["r1n08", "r1n09", "r2n08", "r2n09"]
        );
        assert_eq!(names("n[1:03]"), ["n1", "n2", "n3"]);
        assert!(names("m[3:1]").is_empty());
        assert_eq!(names("n1]"), ["n1]"]);
        for bad in ["n[1-2]", "n[01:3]", "n[1:", "n[a:c:0]", "n[1:2:0]", "n[:]"] {
            assert!(expand_pattern(bad, 100_000).is_err(), "{bad}");
        }
        assert!(expand_pattern("n[0:999999]", 100_000).is_err());
    }

    #[test]
    fn ports_split_off_only_valid_addresses() {
        assert_eq!(
            expand_pattern("h1:2222", 100_000).unwrap(),
            (vec!["h1".into()], Some(2222))
        );
        assert_eq!(
            expand_pattern("db[1:2]:7304", 100_000).unwrap(),
            (vec!["db1".into(), "db2".into()], Some(7304))
        );
        assert_eq!(
            expand_pattern("127.0.0.72:7302", 100_000).unwrap(),
            (vec!["127.0.0.72".into()], Some(7302))
        );
        assert_eq!(
            expand_pattern("[::1]:22", 100_000).unwrap(),
            (vec!["::1".into()], Some(22))
        );
        assert_eq!(
            expand_pattern("fe80::1", 100_000).unwrap(),
            (vec!["fe80::1".into()], None)
        );
        // Not a valid name: the port stays part of it.
        assert_eq!(expand_pattern("n1]:22", 100_000).unwrap().0, ["n1]:22"]);
        assert!(expand_pattern("h:70000", 100_000).is_err());
    }
}
