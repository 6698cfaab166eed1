//! Python's `shlex.split(line, comments=True)`, which Ansible's INI
//! inventory uses for host lines: words split on whitespace, single
//! quotes literal, double quotes with `\"` and `\\` escapes, a backslash
//! escaping any character outside quotes, and `#` starting a comment
//! wherever a word could start or continue.

#[derive(Clone, Copy, PartialEq)]
enum State {
    Space,
    Word,
    Quote(char),
    Escape(Escaped),
}

#[derive(Clone, Copy, PartialEq)]
enum Escaped {
    Word,
    InDouble,
}

/// The words of `line`, or why it cannot be split.
pub fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    let mut emit = |token: &mut String, quoted: &mut bool| {
        if !token.is_empty() || *quoted {
            out.push(std::mem::take(token));
        }
        *quoted = false;
    };
    for c in line.chars() {
        match state {
            State::Space | State::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    emit(&mut token, &mut quoted);
                    state = State::Space;
                }
                '#' => {
                    emit(&mut token, &mut quoted);
                    return Ok(out);
                }
                '\'' | '"' => state = State::Quote(c),
                '\\' => state = State::Escape(Escaped::Word),
                _ => {
                    token.push(c);
                    state = State::Word;
                }
            },
            State::Quote(q) => {
                quoted = true;
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape(Escaped::InDouble);
                } else {
                    token.push(c);
                }
            }
            State::Escape(from) => {
                if from == Escaped::InDouble {
                    // Inside double quotes only `\"` and `\\` are escapes.
                    if c != '\\' && c != '"' {
                        token.push('\\');
                    }
                    token.push(c);
                    state = State::Quote('"');
                } else {
                    token.push(c);
                    state = State::Word;
                }
            }
        }
    }
    match state {
        State::Quote(_) => Err("no closing quotation"),
        State::Escape(Escaped::Word) => Err("no escaped character"),
        State::Escape(Escaped::InDouble) => Err("no closing quotation"),
        _ => {
            emit(&mut token, &mut quoted);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_as_python_shlex_does() {
        let w = |s: &str| split(s).unwrap();
        assert_eq!(w("web1 a=1   b=2 # c"), ["web1", "a=1", "b=2"]);
        assert_eq!(
            w(r#"h motd="hello world" x='a b'c"#),
            ["h", "motd=hello world", "x=a bc"]
        );
        assert_eq!(
            w(r#"h c="x\" y" d=a\ b e=\#f g="a\nb""#),
            ["h", "c=x\" y", "d=a b", "e=#f", "g=a\\nb"]
        );
        assert_eq!(w("h a=#b"), ["h", "a="]);
        assert_eq!(w("h a=\"\" ''"), ["h", "a=", ""]);
        assert_eq!(w("h a#b"), ["h", "a"]);
        assert_eq!(w(r#"h n="a # b""#), ["h", "n=a # b"]);
        assert!(split("h a=\"b").is_err());
        assert!(split("h a=\\").is_err());
    }
}
