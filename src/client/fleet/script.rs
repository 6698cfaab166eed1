//! `--script FILE`: one argv per line, split with shell-like quoting and
//! nothing else (no variables, globs, pipes or redirections: each line is
//! an exact argv, as on the command line after `--`).

/// Why a script line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// Split one line into words: whitespace separates; `'...'` is literal;
/// `"..."` takes `\"`, `\\` and `\$` escapes; a backslash outside quotes
/// escapes the next character.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => w.push(e),
                            Some(e) => {
                                w.push('\\');
                                w.push(e);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(e) => cur.get_or_insert_with(String::new).push(e),
                None => return Err("a backslash at the end of the line".into()),
            },
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = cur {
        out.push(w);
    }
    Ok(out)
}

/// The argvs of a script: blank lines and lines starting with `#` are
/// skipped.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, ScriptError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let argv = words(t).map_err(|why| ScriptError { line: i + 1, why })?;
        out.push(argv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_without_expansion() {
        let cases: &[(&str, &[&str])] = &[
            ("/bin/echo one", &["/bin/echo", "one"]),
            ("/bin/sh -c 'exit 3'", &["/bin/sh", "-c", "exit 3"]),
            (
                r#"echo "a \"b\" $HOME" c\ d"#,
                &["echo", "a \"b\" $HOME", "c d"],
            ),
            ("echo '' x", &["echo", "", "x"]),
            (
                "echo *.log $(id) ; rm",
                &["echo", "*.log", "$(id)", ";", "rm"],
            ),
        ];
        for (line, want) in cases {
            assert_eq!(words(line).unwrap(), *want, "{line}");
        }
        for bad in ["echo 'x", "echo \"x", "echo x\\"] {
            assert!(words(bad).is_err(), "{bad}");
        }
        let s = parse("# deploy\n/bin/echo one\n\n  /bin/true\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(parse("ok\nbad '").unwrap_err().line, 2);
    }
}
