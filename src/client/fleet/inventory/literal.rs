//! What Ansible's INI inventory makes of a value: Python's
//! `ast.literal_eval`, and the text itself when that fails. `7022` is a
//! number, `'ops'` and `"hello world"` are strings without their quotes,
//! `True` or `[1, 2]` are other Python values, and `ops` or `10.0.0.1`
//! stay text. Python's tokenizer also drops a trailing `# comment` after a
//! literal (`7022 # ssh` is 7022) but not after text.

/// A variable's value, as far as secsh needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text (a Python string, or text that is no literal).
    Str(String),
    /// An integer.
    Int(i128),
    /// Anything else (bool, None, float, list, dict, ...), described.
    Other(&'static str),
}

/// `ast.literal_eval(text)`, or the text when it is no literal.
pub fn eval(text: &str) -> Value {
    let mut p = Parser {
        s: text.trim_start_matches([' ', '\t']).chars().collect(),
        i: 0,
    };
    match p.expr() {
        Some(v) if p.at_end() => v,
        _ => Value::Str(text.to_string()),
    }
}

struct Parser {
    s: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\x0c')) {
            self.i += 1;
        }
    }

    /// Only whitespace and a comment left.
    fn at_end(&mut self) -> bool {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.i += 1;
        }
        matches!(self.peek(), None | Some('#'))
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// A literal, with unary signs on numbers and `a + bj` complex sums.
    fn expr(&mut self) -> Option<Value> {
        let v = self.unary()?;
        self.skip_space();
        if matches!(self.peek(), Some('+' | '-')) {
            // Only number +/- imaginary is a literal.
            let (save, _) = (self.i, self.next());
            match (&v, self.unary()) {
                (
                    Value::Int(_) | Value::Other("a number"),
                    Some(Value::Other("a complex number")),
                ) => return Some(Value::Other("a complex number")),
                _ => {
                    self.i = save;
                    return None;
                }
            }
        }
        Some(v)
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn unary(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            '+' | '-' => {
                let neg = self.next() == Some('-');
                match self.unary()? {
                    Value::Int(n) => Some(Value::Int(if neg { -n } else { n })),
                    v @ Value::Other("a number" | "a complex number") => Some(v),
                    _ => None,
                }
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Option<Value> {
        self.skip_space();
        let c = self.peek()?;
        if c.is_ascii_digit()
            || (c == '.' && self.s.get(self.i + 1).is_some_and(char::is_ascii_digit))
        {
            return self.number();
        }
        if let Some(close) = match c {
            '[' => Some(']'),
            '(' => Some(')'),
            '{' => Some('}'),
            _ => None,
        } {
            self.i += 1;
            return self.container(close, c == '{');
        }
        if c.is_alphabetic() || c == '_' || c == '\'' || c == '"' {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                self.i += 1;
            }
            let word: String = self.s[start..self.i].iter().collect();
            match word.as_str() {
                "True" | "False" => return Some(Value::Other("a boolean")),
                "None" => return Some(Value::Other("None")),
                _ => {}
            }
            let prefix = word.to_ascii_lowercase();
            if matches!(self.peek(), Some('\'' | '"'))
                && matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb")
            {
                return self.strings(start);
            }
            return None;
        }
        None
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self, start: usize) -> Option<Value> {
        self.i = start;
        let mut out = String::new();
        loop {
            self.skip_space();
            let begin = self.i;
            while self.peek().is_some_and(char::is_alphabetic) {
                self.i += 1;
            }
            let prefix: String = self.s[begin..self.i]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            let Some(q @ ('\'' | '"')) = self.peek() else {
                self.i = begin;
                return (!out.is_empty() || begin > start).then_some(Value::Str(out));
            };
            if !matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb") {
                return None;
            }
            let raw = prefix.contains('r');
            let triple = self.s.get(self.i..self.i + 3) == Some(&[q, q, q][..]);
            self.i += if triple { 3 } else { 1 };
            loop {
                let c = self.next()?;
                if c == q && (!triple || self.s.get(self.i..self.i + 2) == Some(&[q, q][..])) {
                    if triple {
                        self.i += 2;
                    }
                    break;
                }
                if c == '\n' && !triple {
                    return None;
                }
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                let e = self.next()?;
                if raw {
                    out.push('\\');
                    out.push(e);
                    continue;
                }
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            match self.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    v = v * 8 + d;
                                    self.i += 1;
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = self.s.get(self.i..self.i + n)?.iter().collect();
                        self.i += n;
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    '\n' => {}
                    '\\' | '\'' | '"' => out.push(e),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            self.i += 1;
            // An exponent's sign belongs to the number.
            if matches!(self.s.get(self.i - 1), Some('e' | 'E'))
                && matches!(self.peek(), Some('+' | '-'))
                && !self.s[start..self.i].iter().any(|c| matches!(c, 'x' | 'X'))
            {
                self.i += 1;
            }
        }
        let t: String = self.s[start..self.i].iter().collect();
        let well_formed = |d: &str, ok: fn(char) -> bool| {
            !d.is_empty()
                && !d.starts_with('_')
                && !d.ends_with('_')
                && !d.contains("__")
                && d.chars().all(|c| c == '_' || ok(c))
        };
        let lower = t.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(d) = lower.strip_prefix(prefix) {
                let d = d.strip_prefix('_').unwrap_or(d);
                let ok = match radix {
                    16 => |c: char| c.is_ascii_hexdigit(),
                    8 => |c: char| c.is_digit(8),
                    _ => |c: char| c.is_digit(2),
                };
                return well_formed(d, ok)
                    .then(|| i128::from_str_radix(&d.replace('_', ""), radix).ok())
                    .flatten()
                    .map(Value::Int);
            }
        }
        if well_formed(&t, |c| c.is_ascii_digit()) {
            // A decimal integer may not have leading zeros (other than 0).
            let digits = t.replace('_', "");
            if digits.len() > 1 && digits.starts_with('0') && digits.bytes().any(|b| b != b'0') {
                return None;
            }
            return Some(digits.parse().map_or(Value::Other("a number"), Value::Int));
        }
        let (body, imaginary) = match lower.strip_suffix('j') {
            Some(b) => (b, true),
            None => (lower.as_str(), false),
        };
        let float = body.replace('_', "").parse::<f64>().is_ok()
            && !body.contains("inf")
            && !body.contains("nan")
            && well_formed(body, |c| {
                c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')
            });
        float.then_some(Value::Other(if imaginary {
            "a complex number"
        } else {
            "a number"
        }))
    }

    fn container(&mut self, close: char, braces: bool) -> Option<Value> {
        let kind = if braces {
            "a dict or set"
        } else {
            "a list or tuple"
        };
        if self.eat(close) {
            return Some(Value::Other(kind));
        }
        loop {
            self.skip_newlines();
            self.expr()?;
            self.skip_newlines();
            if braces && self.eat(':') {
                self.skip_newlines();
                self.expr()?;
                self.skip_newlines();
            }
            if self.eat(close) {
                return Some(Value::Other(kind));
            }
            if !self.eat(',') {
                return None;
            }
            self.skip_newlines();
            if self.eat(close) {
                return Some(Value::Other(kind));
            }
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{eval, Value};

    #[test]
    fn values_as_literal_eval_reads_them() {
        let s = |t: &str| Value::Str(t.to_string());
        assert_eq!(eval("7022"), Value::Int(7022));
        assert_eq!(eval("7022 # ssh"), Value::Int(7022));
        assert_eq!(eval(" 7_022"), Value::Int(7022));
        assert_eq!(eval("0x1b"), Value::Int(27));
        assert_eq!(eval("-5"), Value::Int(-5));
        assert_eq!(eval("007"), s("007"));
        assert_eq!(eval("'ops'"), s("ops"));
        assert_eq!(eval("\"hi there\""), s("hi there"));
        assert_eq!(eval("'a' \"b\""), s("ab"));
        assert_eq!(eval(r"'a\tb\x41\q'"), s("a\tbA\\q"));
        assert_eq!(eval(r"r'a\tb'"), s("a\\tb"));
        assert_eq!(eval("ops"), s("ops"));
        assert_eq!(eval("webadmin # trailing"), s("webadmin # trailing"));
        assert_eq!(eval("10.0.0.1"), s("10.0.0.1"));
        assert_eq!(eval("1.5"), Value::Other("a number"));
        assert_eq!(eval("True"), Value::Other("a boolean"));
        assert_eq!(eval("{'region': 'infra'}"), Value::Other("a dict or set"));
        assert_eq!(eval("[1, 2,]"), Value::Other("a list or tuple"));
        assert_eq!(eval("[1-2]"), s("[1-2]"));
        assert_eq!(eval("[::1]"), s("[::1]"));
        assert_eq!(eval("'unterminated"), s("'unterminated"));
        assert_eq!(eval("f'x'"), s("f'x'"));
        assert_eq!(eval(""), s(""));
    }
}
