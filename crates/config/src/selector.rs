//! Syntax checks for Kubernetes label and field selectors, as Prometheus runs them
//! (through client-go's parsers) when it loads `kubernetes_sd_configs[].selectors`.
//! Only validity is decided here; the selectors are passed to the API server as
//! written.

/// Checks a field selector (`metadata.name=foo,status.phase!=Running`).
pub(crate) fn parse_field_selector(s: &str) -> Result<(), String> {
    for term in split_unescaped_commas(s) {
        if term.is_empty() {
            continue;
        }
        let Some(rhs) = split_term(term) else {
            return Err(format!(
                "invalid selector: '{s}'; can't understand '{term}'"
            ));
        };
        unescape_field_value(rhs)?;
    }
    Ok(())
}

fn split_unescaped_commas(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The value of `lhs OP rhs` for the first operator found, trying `!=`, `==` and
/// `=` at each position as client-go does.
fn split_term(term: &str) -> Option<&str> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some(rhs);
            }
        }
    }
    None
}

fn unescape_field_value(v: &str) -> Result<(), String> {
    let mut in_slash = false;
    for c in v.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            _ => {}
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".into());
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Id(&'a str),
    Not,
    NotEq,
    Eq,
    DoubleEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

fn describe(t: &Tok<'_>) -> String {
    match t {
        Tok::Id(s) => (*s).to_string(),
        Tok::Not => "!".into(),
        Tok::NotEq => "!=".into(),
        Tok::Eq => "=".into(),
        Tok::DoubleEq => "==".into(),
        Tok::Gt => ">".into(),
        Tok::Lt => "<".into(),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
        Tok::Comma => ",".into(),
        Tok::End => "end of string".into(),
    }
}

fn lex(s: &str) -> Vec<Tok<'_>> {
    let special = |c: char| "!=(),<>".contains(c);
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_whitespace() {
            continue;
        }
        let tok = match c {
            '!' if it.peek().is_some_and(|(_, n)| *n == '=') => {
                it.next();
                Tok::NotEq
            }
            '!' => Tok::Not,
            '=' if it.peek().is_some_and(|(_, n)| *n == '=') => {
                it.next();
                Tok::DoubleEq
            }
            '=' => Tok::Eq,
            '>' => Tok::Gt,
            '<' => Tok::Lt,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            _ => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = it.peek() {
                    if n.is_whitespace() || special(n) {
                        break;
                    }
                    end = j + n.len_utf8();
                    it.next();
                }
                Tok::Id(&s[i..end])
            }
        };
        out.push(tok);
    }
    out.push(Tok::End);
    out
}

fn valid_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn valid_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn check_key(k: &str) -> Result<(), String> {
    let ok = match k.split_once('/') {
        Some((prefix, name)) => valid_dns_subdomain(prefix) && valid_name_part(name),
        None => valid_name_part(k),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: key: Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() || valid_name_part(v) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: values[0]: Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

/// Checks a label selector (`app=web,tier in (a,b),!canary`).
pub(crate) fn parse_label_selector(s: &str) -> Result<(), String> {
    let toks = lex(s);
    let mut i = 0;
    if toks[0] == Tok::End {
        return Ok(());
    }
    loop {
        let negated = toks[i] == Tok::Not;
        if negated {
            i += 1;
        }
        let key = match &toks[i] {
            Tok::Id(k) => *k,
            t => {
                return Err(format!(
                    "found '{}', expected: !, identifier, or 'end of string'",
                    describe(t)
                ));
            }
        };
        check_key(key)?;
        i += 1;
        if negated || matches!(toks[i], Tok::Comma | Tok::End) {
            if negated && !matches!(toks[i], Tok::Comma | Tok::End) {
                return Err(format!(
                    "found '{}', expected: ',' or 'end of string'",
                    describe(&toks[i])
                ));
            }
        } else {
            match &toks[i] {
                Tok::Eq | Tok::DoubleEq | Tok::NotEq => {
                    i += 1;
                    match &toks[i] {
                        Tok::Id(v) => {
                            check_value(v)?;
                            i += 1;
                        }
                        Tok::Comma | Tok::End => {}
                        t => {
                            return Err(format!("found '{}', expected: identifier", describe(t)));
                        }
                    }
                }
                Tok::Gt | Tok::Lt => {
                    i += 1;
                    match &toks[i] {
                        Tok::Id(v) if v.parse::<i64>().is_ok() => i += 1,
                        t => {
                            return Err(format!(
                                "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer, got {:?}",
                                describe(t)
                            ));
                        }
                    }
                }
                Tok::Id(op) if *op == "in" || *op == "notin" => {
                    i += 1;
                    if toks[i] != Tok::Open {
                        return Err(format!("found '{}', expected: '('", describe(&toks[i])));
                    }
                    i += 1;
                    loop {
                        match &toks[i] {
                            Tok::Id(v) => {
                                check_value(v)?;
                                i += 1;
                            }
                            Tok::Close => {}
                            Tok::Comma => {}
                            t => {
                                return Err(format!(
                                    "found '{}', expected: ',', ')' or identifier",
                                    describe(t)
                                ));
                            }
                        }
                        match &toks[i] {
                            Tok::Comma => i += 1,
                            Tok::Close => {
                                i += 1;
                                break;
                            }
                            t => {
                                return Err(format!(
                                    "found '{}', expected: ',' or ')'",
                                    describe(t)
                                ));
                            }
                        }
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: '=', '!=', '==', 'in', notin'",
                        describe(t)
                    ));
                }
            }
        }
        match &toks[i] {
            Tok::End => return Ok(()),
            Tok::Comma => i += 1,
            t => {
                return Err(format!(
                    "found '{}', expected: ',' or 'end of string'",
                    describe(t)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_selectors() {
        assert!(parse_field_selector("").is_ok());
        assert!(parse_field_selector("metadata.status=Running").is_ok());
        assert!(parse_field_selector("a==b,c!=d").is_ok());
        assert!(parse_field_selector(r"a=b\,c").is_ok());
        assert_eq!(
            parse_field_selector("metadata.status-Running").unwrap_err(),
            "invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'"
        );
        assert!(parse_field_selector("a=b=c").is_err());
        assert!(parse_field_selector(r"a=b\x").is_err());
    }

    #[test]
    fn label_selectors() {
        for ok in [
            "",
            "foo=bar",
            "foo in (bar,baz)",
            "foo notin (bar)",
            "!foo",
            "foo",
            "foo!=bar, x==y",
            "example.com/app=web",
            "a>5",
            "foo=",
        ] {
            assert!(
                parse_label_selector(ok).is_ok(),
                "{ok}: {:?}",
                parse_label_selector(ok)
            );
        }
        for bad in [
            "foo bar",
            "=x",
            "foo=b@r",
            "a>b",
            "foo in bar",
            "foo in (a",
            "-a=b",
        ] {
            assert!(parse_label_selector(bad).is_err(), "{bad}");
        }
    }
}
