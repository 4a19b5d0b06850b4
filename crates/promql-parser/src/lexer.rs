//! The PromQL lexer.
//!
//! It follows Prometheus's `lex.go` state by state, because the lexer decides much of
//! what users see when a query is wrong: which character is "unexpected", whether
//! `5m1` is a bad duration or two tokens, where an error starts. It keeps Prometheus's
//! quirks on purpose: inside `[…]` it lexes a duration expression until the first
//! number and plain statements after it; `fill(` is a keyword only when a parenthesis
//! follows; a literal U+FFFD in a string is reported as invalid UTF-8 (Go's decoder
//! cannot tell the two apart).

use crate::strconv::{go_quote, go_quote_prefix, go_quote_rune, go_unicode_rune};

/// Token kinds, named after Prometheus's item types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum T {
    Eof,
    Error,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Eql,
    Colon,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    At,
    Land,
    Lor,
    Lunless,
    Atan2,
    // Aggregators.
    Avg,
    Bottomk,
    Count,
    CountValues,
    Group,
    Max,
    Min,
    Quantile,
    Stddev,
    Stdvar,
    Sum,
    Topk,
    Limitk,
    LimitRatio,
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors and duration keywords.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl T {
    pub(crate) fn is_operator(self) -> bool {
        matches!(
            self,
            T::Add
                | T::Sub
                | T::Mul
                | T::Div
                | T::Mod
                | T::Pow
                | T::Eqlc
                | T::Neq
                | T::Lte
                | T::Lss
                | T::Gte
                | T::Gtr
                | T::TrimUpper
                | T::TrimLower
                | T::EqlRegex
                | T::NeqRegex
                | T::At
                | T::Land
                | T::Lor
                | T::Lunless
                | T::Atan2
        )
    }

    pub(crate) fn is_aggregator(self) -> bool {
        matches!(
            self,
            T::Avg
                | T::Bottomk
                | T::Count
                | T::CountValues
                | T::Group
                | T::Max
                | T::Min
                | T::Quantile
                | T::Stddev
                | T::Stdvar
                | T::Sum
                | T::Topk
                | T::Limitk
                | T::LimitRatio
        )
    }

    pub(crate) fn is_keyword(self) -> bool {
        matches!(
            self,
            T::Bool
                | T::By
                | T::GroupLeft
                | T::GroupRight
                | T::Fill
                | T::FillLeft
                | T::FillRight
                | T::Ignoring
                | T::Offset
                | T::Smoothed
                | T::Anchored
                | T::On
                | T::Without
        )
    }

    /// Kinds Prometheus has a fixed spelling for (`ItemTypeStr`), which error messages
    /// print without naming the kind.
    fn has_fixed_text(self) -> bool {
        !matches!(
            self,
            T::Eof
                | T::Error
                | T::Identifier
                | T::MetricIdentifier
                | T::Number
                | T::Duration
                | T::String
        )
    }

    fn kind_desc(self) -> &'static str {
        match self {
            T::Error => "error",
            T::Identifier => "identifier",
            T::MetricIdentifier => "metric identifier",
            T::String => "string",
            T::Number => "number",
            T::Duration => "duration",
            _ => "",
        }
    }
}

/// The word-like tokens; `inf` and `nan` are numbers.
fn keyword(lower: &str) -> Option<T> {
    Some(match lower {
        "and" => T::Land,
        "or" => T::Lor,
        "unless" => T::Lunless,
        "atan2" => T::Atan2,
        "sum" => T::Sum,
        "avg" => T::Avg,
        "count" => T::Count,
        "min" => T::Min,
        "max" => T::Max,
        "group" => T::Group,
        "stddev" => T::Stddev,
        "stdvar" => T::Stdvar,
        "topk" => T::Topk,
        "bottomk" => T::Bottomk,
        "count_values" => T::CountValues,
        "quantile" => T::Quantile,
        "limitk" => T::Limitk,
        "limit_ratio" => T::LimitRatio,
        "offset" => T::Offset,
        "smoothed" => T::Smoothed,
        "anchored" => T::Anchored,
        "by" => T::By,
        "without" => T::Without,
        "on" => T::On,
        "ignoring" => T::Ignoring,
        "group_left" => T::GroupLeft,
        "group_right" => T::GroupRight,
        "fill" => T::Fill,
        "fill_left" => T::FillLeft,
        "fill_right" => T::FillRight,
        "bool" => T::Bool,
        "start" => T::Start,
        "end" => T::End,
        "step" => T::Step,
        "range" => T::Range,
        "max_of" => T::MaxOf,
        "min_of" => T::MinOf,
        "inf" | "nan" => T::Number,
        _ => return None,
    })
}

fn duration_keyword(lower: &str) -> Option<T> {
    Some(match lower {
        "step" => T::Step,
        "range" => T::Range,
        "max_of" => T::MaxOf,
        "min_of" => T::MinOf,
        _ => return None,
    })
}

fn is_duration_keyword_start(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm')
}

pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: Option<char>) -> bool {
    c.is_some_and(|c| is_alpha(c) || c.is_ascii_digit())
}

/// One token. For [`T::Error`] the range runs from where the bad token started to the
/// end of the input, as Prometheus reports lexer errors; the message is
/// [`Lexed::error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) kind: T,
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

/// A lexed query.
pub(crate) struct Lexed {
    /// The tokens, comments dropped, ending with [`T::Eof`] or [`T::Error`].
    pub(crate) items: Vec<Item>,
    /// The message of the final [`T::Error`], if there is one.
    pub(crate) error: String,
}

impl Item {
    pub(crate) fn text<'a>(&self, input: &'a str) -> &'a str {
        if self.kind == T::Error {
            return "";
        }
        input.get(self.pos..self.end).unwrap_or("")
    }

    /// Prometheus's `Item.String()`.
    fn display(&self, input: &str) -> String {
        let val = self.text(input);
        match self.kind {
            T::Eof => "EOF".to_string(),
            T::Error => "error".to_string(),
            T::Identifier | T::MetricIdentifier => go_quote(val),
            k if k.is_keyword() => format!("<{val}>"),
            k if k.is_operator() => format!("<op:{val}>"),
            k if k.is_aggregator() => format!("<aggr:{val}>"),
            _ if val.len() > 10 => format!("{}...", go_quote_prefix(val, 10)),
            _ => go_quote(val),
        }
    }

    /// Prometheus's `Item.desc()`: how error messages name a token.
    pub(crate) fn desc(&self, input: &str) -> String {
        if self.kind.has_fixed_text() {
            self.display(input)
        } else if self.kind == T::Eof {
            "end of input".to_string()
        } else {
            format!("{} {}", self.kind.kind_desc(), self.display(input))
        }
    }
}

/// Splits a query into tokens.
pub(crate) fn lex(input: &str) -> Lexed {
    let mut l = Lexer::new(input);
    let mut items = Vec::new();
    loop {
        let item = l.next_item();
        let last = matches!(item.kind, T::Eof | T::Error);
        items.push(item);
        if last {
            return Lexed {
                items,
                error: l.error_msg,
            };
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    in_duration_expr: bool,
    done: bool,
    error_msg: String,
}

type Step = Option<Item>;

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            width: 0,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            got_duration: false,
            in_duration_expr: false,
            done: false,
            error_msg: String::new(),
        }
    }

    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        // Go's lexer can back up once per read; a second backup must be a no-op.
        self.width = 0;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn is(&self, valid: &str) -> bool {
        self.peek().is_some_and(|c| valid.contains(c))
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn emit(&mut self, kind: T) -> Step {
        let item = Item {
            kind,
            pos: self.start,
            end: self.pos,
        };
        self.start = self.pos;
        Some(item)
    }

    fn error(&mut self, msg: String) -> Step {
        self.done = true;
        self.error_msg = msg;
        Some(Item {
            kind: T::Error,
            pos: self.start,
            end: self.input.len(),
        })
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
        self.ignore();
    }

    fn skip_comment(&mut self) {
        self.pos += 1;
        while let Some(c) = self.peek() {
            if c == '\r' || c == '\n' {
                break;
            }
            self.next();
        }
        self.ignore();
    }

    fn next_item(&mut self) -> Item {
        loop {
            if self.done {
                let end = self.input.len();
                return Item {
                    kind: T::Eof,
                    pos: end,
                    end,
                };
            }
            let step = if self.in_duration_expr {
                self.lex_duration_expr()
            } else if self.brace_open {
                self.lex_inside_braces()
            } else {
                self.lex_statements()
            };
            if let Some(item) = step {
                return item;
            }
        }
    }

    fn lex_statements(&mut self) -> Step {
        if self.input[self.pos..].starts_with('#') {
            self.skip_comment();
            return None;
        }
        let Some(r) = self.next() else {
            if self.paren_depth != 0 {
                return self.error("unclosed left parenthesis".into());
            }
            if self.bracket_open {
                return self.error("unclosed left bracket".into());
            }
            self.done = true;
            return Some(Item {
                kind: T::Eof,
                pos: self.start,
                end: self.start,
            });
        };
        match r {
            ',' => self.emit(T::Comma),
            c if is_space(c) => {
                self.skip_spaces();
                None
            }
            '*' => self.emit(T::Mul),
            '/' => self.emit(T::Div),
            '%' => self.emit(T::Mod),
            '+' => self.emit(T::Add),
            '-' => self.emit(T::Sub),
            '^' => self.emit(T::Pow),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(T::Eqlc)
                }
                Some('~') => self.error("unexpected character after '=': '~'".into()),
                _ => self.emit(T::Eql),
            },
            '!' => {
                let t = self.next();
                if t != Some('=') {
                    return self.error(format!(
                        "unexpected character after '!': {}",
                        go_quote_rune(t)
                    ));
                }
                self.emit(T::Neq)
            }
            '<' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(T::Lte)
                }
                Some('/') => {
                    self.next();
                    self.emit(T::TrimUpper)
                }
                _ => self.emit(T::Lss),
            },
            '>' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(T::Gte)
                }
                Some('/') => {
                    self.next();
                    self.emit(T::TrimLower)
                }
                _ => self.emit(T::Gtr),
            },
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|p| p.is_ascii_digit())) =>
            {
                self.backup();
                self.lex_number_or_duration()
            }
            '"' | '\'' => self.lex_string(r),
            '`' => self.lex_raw_string(),
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    return self.lex_keyword_or_identifier();
                }
                if c == ':' {
                    if self.got_colon {
                        return self.error("unexpected colon ':'".into());
                    }
                    self.got_colon = true;
                    return self.emit(T::Colon);
                }
                if is_duration_keyword_start(c)
                    && let Some(kind) = self.scan_duration_keyword()
                {
                    return self.emit(kind);
                }
                self.error(format!(
                    "unexpected character: {}, expected ':'",
                    go_quote_rune(Some(c))
                ))
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(T::LeftParen)
            }
            ')' => {
                let item = self.emit(T::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right parenthesis ')'".into());
                }
                item
            }
            '{' => {
                self.brace_open = true;
                self.emit(T::LeftBrace)
            }
            '[' => {
                if self.bracket_open {
                    return self.error("unexpected left bracket '['".into());
                }
                self.got_colon = false;
                let item = self.emit(T::LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.in_duration_expr = true;
                item
            }
            ']' => {
                if !self.bracket_open {
                    return self.error("unexpected right bracket ']'".into());
                }
                self.bracket_open = false;
                self.emit(T::RightBracket)
            }
            '@' => self.emit(T::At),
            c => self.error(format!("unexpected character: {}", go_quote_rune(Some(c)))),
        }
    }

    fn lex_duration_expr(&mut self) -> Step {
        let Some(r) = self.next() else {
            return self.error("unexpected end of input in duration expression".into());
        };
        match r {
            ']' => {
                self.bracket_open = false;
                self.got_colon = false;
                self.in_duration_expr = false;
                self.emit(T::RightBracket)
            }
            ':' => {
                let item = self.emit(T::Colon);
                if !self.got_duration {
                    return self
                        .error("unexpected colon before duration in duration expression".into());
                }
                if self.got_colon {
                    return self.error("unexpected repeated colon in duration expression".into());
                }
                self.got_colon = true;
                item
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(T::LeftParen)
            }
            ')' => {
                let item = self.emit(T::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right parenthesis ')'".into());
                }
                item
            }
            c if is_space(c) => {
                self.skip_spaces();
                None
            }
            '+' => self.emit(T::Add),
            '-' => self.emit(T::Sub),
            '*' => self.emit(T::Mul),
            '/' => self.emit(T::Div),
            '%' => self.emit(T::Mod),
            '^' => self.emit(T::Pow),
            ',' => self.emit(T::Comma),
            c if is_duration_keyword_start(c) => match self.scan_duration_keyword() {
                Some(kind) => self.emit(kind),
                None => self.error(format!(
                    "unexpected character in duration expression: {}",
                    go_quote_rune(Some(c))
                )),
            },
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|p| p.is_ascii_digit())) =>
            {
                self.backup();
                self.got_duration = true;
                self.in_duration_expr = false;
                self.lex_number_or_duration()
            }
            c => self.error(format!(
                "unexpected character in duration expression: {}",
                go_quote_rune(Some(c))
            )),
        }
    }

    fn lex_inside_braces(&mut self) -> Step {
        if self.input[self.pos..].starts_with('#') {
            self.skip_comment();
            return None;
        }
        let Some(r) = self.next() else {
            return self.error("unexpected end of input inside braces".into());
        };
        match r {
            c if is_space(c) => {
                self.skip_spaces();
                None
            }
            c if is_alpha(c) => {
                while is_alnum(self.peek()) {
                    self.next();
                }
                self.emit(T::Identifier)
            }
            ',' => self.emit(T::Comma),
            '"' | '\'' => self.lex_string(r),
            '`' => self.lex_raw_string(),
            '=' => {
                if self.next() == Some('~') {
                    return self.emit(T::EqlRegex);
                }
                self.backup();
                self.emit(T::Eql)
            }
            '!' => match self.next() {
                Some('~') => self.emit(T::NeqRegex),
                Some('=') => self.emit(T::Neq),
                nr => self.error(format!(
                    "unexpected character after '!' inside braces: {}",
                    go_quote_rune(nr)
                )),
            },
            '{' => self.error("unexpected left brace '{'".into()),
            '}' => {
                self.brace_open = false;
                self.emit(T::RightBrace)
            }
            c => self.error(format!(
                "unexpected character inside braces: {}",
                go_quote_rune(Some(c))
            )),
        }
    }

    fn lex_string(&mut self, quote: char) -> Step {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(msg) = self.lex_escape(quote) {
                        return self.error(msg);
                    }
                }
                Some('\u{fffd}') => return self.error("invalid UTF-8 rune".into()),
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some(c) if c == quote => return self.emit(T::String),
                Some(_) => {}
            }
        }
    }

    /// Checks one escape sequence (the backslash is consumed); returns the error.
    fn lex_escape(&mut self, quote: char) -> Option<String> {
        let mut ch = self.next();
        let (mut n, base, max): (u32, u32, u32) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return None,
            Some(c) if c == quote => return None,
            Some('0'..='7') => (3, 8, 255),
            Some('x') => {
                ch = self.next();
                (2, 16, 255)
            }
            Some('u') => {
                ch = self.next();
                (4, 16, 0x10ffff)
            }
            Some('U') => {
                ch = self.next();
                (8, 16, 0x10ffff)
            }
            None => return Some("escape sequence not terminated".into()),
            Some(c) => return Some(format!("unknown escape sequence {}", go_unicode_rune(c))),
        };
        let mut x: u64 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Some(match ch {
                    None => "escape sequence not terminated".into(),
                    Some(c) => format!(
                        "illegal character {} in escape sequence",
                        go_unicode_rune(c)
                    ),
                });
            }
            x = x * u64::from(base) + u64::from(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > u64::from(max) || (0xd800..0xe000).contains(&x) {
            return Some("escape sequence is an invalid Unicode code point".into());
        }
        None
    }

    fn lex_raw_string(&mut self) -> Step {
        loop {
            match self.next() {
                Some('\u{fffd}') => return self.error("invalid UTF-8 rune".into()),
                None => return self.error("unterminated raw string".into()),
                Some('`') => return self.emit(T::String),
                Some(_) => {}
            }
        }
    }

    fn lex_number_or_duration(&mut self) -> Step {
        if self.scan_number() {
            return self.emit(T::Number);
        }
        if self.accept_remaining_duration() {
            self.backup();
            return self.emit(T::Duration);
        }
        let text = self.input[self.start..self.pos].to_string();
        self.error(format!(
            "bad number or duration syntax: {}",
            go_quote(&text)
        ))
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        // `ms`; impossible units such as `hs` are left for the duration parser.
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            // `y` may only come first.
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        let c = self.next();
        !is_alnum(c)
    }

    /// Scans what may be a number; the parser reports values that do not parse.
    fn scan_number(&mut self) -> bool {
        const DEC: &str = "0123456789";
        const HEX: &str = "0123456789abcdefABCDEF";
        let initial = self.pos;
        let mut digits = DEC;
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = HEX;
        }
        let run: String = format!("{digits}._eE");
        self.accept(".");
        self.accept(digits);
        let mut dot_consumed = false;
        let mut exponent_consumed = false;
        while self.is(&run) {
            if self.is(".") && dot_consumed {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exponent_consumed {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot_consumed = true;
                if self.accept("_.") {
                    return false;
                }
                // Fractional hexadecimal literals are not supported.
                if digits == HEX {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent_consumed = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        !is_alnum(self.peek())
    }

    fn scan_duration_keyword(&mut self) -> Option<T> {
        while self.peek().is_some_and(is_alpha) {
            self.next();
        }
        duration_keyword(&self.input[self.start..self.pos].to_ascii_lowercase())
    }

    fn lex_keyword_or_identifier(&mut self) -> Step {
        while self
            .peek()
            .is_some_and(|c| is_alpha(c) || c.is_ascii_digit() || c == ':')
        {
            self.next();
        }
        let word = &self.input[self.start..self.pos];
        match keyword(&word.to_ascii_lowercase()) {
            // `fill` and friends stay usable as metric names unless a parenthesis follows.
            Some(T::Fill | T::FillLeft | T::FillRight) if !self.followed_by_left_paren() => {
                self.emit(T::Identifier)
            }
            Some(kind) => self.emit(kind),
            None if word.contains(':') => self.emit(T::MetricIdentifier),
            None => self.emit(T::Identifier),
        }
    }

    fn followed_by_left_paren(&self) -> bool {
        self.input[self.pos..]
            .chars()
            .find(|c| !is_space(*c))
            .is_some_and(|c| c == '(')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<(T, usize, String)> {
        let lexed = lex(input);
        lexed
            .items
            .into_iter()
            .filter(|i| i.kind != T::Eof)
            .map(|i| {
                let text = if i.kind == T::Error {
                    lexed.error.clone()
                } else {
                    i.text(input).to_string()
                };
                (i.kind, i.pos, text)
            })
            .collect()
    }

    fn fails(input: &str) -> bool {
        lex(input).items.last().is_some_and(|i| i.kind == T::Error)
    }

    fn one(input: &str, kind: T) {
        assert_eq!(kinds(input), vec![(kind, 0, input.to_string())], "{input}");
    }

    #[test]
    fn common() {
        assert_eq!(kinds(","), vec![(T::Comma, 0, ",".into())]);
        assert_eq!(
            kinds("()"),
            vec![
                (T::LeftParen, 0, "(".into()),
                (T::RightParen, 1, ")".into())
            ]
        );
        assert_eq!(
            kinds("[  5m ]"),
            vec![
                (T::LeftBracket, 0, "[".into()),
                (T::Duration, 3, "5m".into()),
                (T::RightBracket, 6, "]".into())
            ]
        );
        assert!(kinds("\r\n\r").is_empty());
    }

    #[test]
    fn numbers() {
        for n in [
            "1",
            "4.23",
            ".3",
            "5.",
            "NaN",
            "nAN",
            "iNf",
            "Inf",
            "0x123",
            "00_1_23_4.56_7_8",
            "0x1_2_34",
            "1.e2",
            "1e1_2_34",
        ] {
            one(n, T::Number);
        }
        assert_eq!(
            kinds("NaN 123"),
            vec![(T::Number, 0, "NaN".into()), (T::Number, 4, "123".into())]
        );
        one("NaN123", T::Identifier);
        one("Infoo", T::Identifier);
        one("_1_2", T::Identifier);
        assert_eq!(
            kinds("-Inf 123"),
            vec![
                (T::Sub, 0, "-".into()),
                (T::Number, 1, "Inf".into()),
                (T::Number, 5, "123".into())
            ]
        );
        for bad in [
            "1..2",
            "1.2.",
            "00_1_23__4.56_7_8",
            "00_1_23_4._56_7_8",
            "00_1_23_4_.56_7_8",
            "0x1_2__34",
            "0x1_2__34.5_6p1",
            "0x1_2__34.5_6",
            "0x1_2__34.56",
            "1_e2",
            "1e.2",
            "1e+.2",
            "1ee2",
            "1e+e2",
            "1e",
            "1e+",
            "1e_1_2_34",
            "1e1_2__34",
            "1e+_1_2_34",
            "1e-_1_2_34",
            "12_",
            "1a",
            "0a:bc",
        ] {
            assert!(fails(bad), "{bad} should not lex");
        }
    }

    #[test]
    fn strings() {
        one("\"test\\tsequence\"", T::String);
        one("\"test\\\\.expression\"", T::String);
        one("`test\\.expression`", T::String);
        assert_eq!(
            kinds("\"test\\.expression\""),
            vec![(T::Error, 0, "unknown escape sequence U+002E '.'".into())]
        );
        assert!(fails(".٩"));
        assert!(fails("\"\u{fffd}\""));
        assert!(fails("`\u{fffd}`"));
    }

    #[test]
    fn durations_identifiers_comments() {
        for d in ["5s", "123m", "1h", "3w", "1y", "1m30ms", "5m1h"] {
            one(d, T::Duration);
        }
        one("abc", T::Identifier);
        one("a:bc", T::MetricIdentifier);
        one(":bc", T::MetricIdentifier);
        assert_eq!(
            kinds("abc d"),
            vec![
                (T::Identifier, 0, "abc".into()),
                (T::Identifier, 4, "d".into())
            ]
        );
        assert!(kinds("# some comment").is_empty());
        assert_eq!(
            kinds("5 # 1+1\n5"),
            vec![(T::Number, 0, "5".into()), (T::Number, 8, "5".into())]
        );
    }

    #[test]
    fn operators_and_keywords() {
        let cases = [
            ("==", T::Eqlc),
            ("!=", T::Neq),
            ("<", T::Lss),
            (">", T::Gtr),
            (">=", T::Gte),
            ("<=", T::Lte),
            ("</", T::TrimUpper),
            (">/", T::TrimLower),
            ("+", T::Add),
            ("-", T::Sub),
            ("*", T::Mul),
            ("/", T::Div),
            ("^", T::Pow),
            ("%", T::Mod),
            ("=", T::Eql),
            ("AND", T::Land),
            ("or", T::Lor),
            ("unless", T::Lunless),
            ("@", T::At),
            ("sum", T::Sum),
            ("AVG", T::Avg),
            ("GROUP", T::Group),
            ("stdvar", T::Stdvar),
            ("limit_ratio", T::LimitRatio),
            ("offset", T::Offset),
            ("by", T::By),
            ("without", T::Without),
            ("on", T::On),
            ("ignoring", T::Ignoring),
            ("group_left", T::GroupLeft),
            ("group_right", T::GroupRight),
            ("bool", T::Bool),
            ("atan2", T::Atan2),
            ("start", T::Start),
            ("end", T::End),
            ("step", T::Step),
            ("anchored", T::Anchored),
        ];
        for (input, kind) in cases {
            one(input, kind);
        }
        // `fill` is a keyword only before a parenthesis.
        one("fill", T::Identifier);
        assert_eq!(kinds("fill (1)")[0].0, T::Fill);
        assert_eq!(
            kinds("{=}"),
            vec![
                (T::LeftBrace, 0, "{".into()),
                (T::Eql, 1, "=".into()),
                (T::RightBrace, 2, "}".into())
            ]
        );
    }

    #[test]
    fn selectors() {
        assert_eq!(
            kinds(r#"{NaN	!= "bar" }"#),
            vec![
                (T::LeftBrace, 0, "{".into()),
                (T::Identifier, 1, "NaN".into()),
                (T::Neq, 5, "!=".into()),
                (T::String, 8, "\"bar\"".into()),
                (T::RightBrace, 14, "}".into())
            ]
        );
        assert_eq!(
            kinds(r#"{on!~"bar"}"#),
            vec![
                (T::LeftBrace, 0, "{".into()),
                (T::Identifier, 1, "on".into()),
                (T::NeqRegex, 3, "!~".into()),
                (T::String, 5, "\"bar\"".into()),
                (T::RightBrace, 10, "}".into())
            ]
        );
        for bad in [
            "台北",
            "{台北='a'}",
            "{0a='a'}",
            r#"{alert!#"bar"}"#,
            r#"{foo:a="bar"}"#,
            "=~",
            "!~",
            "!(",
            "(",
            "())",
            "(()",
            "{",
            "}",
            "{{",
            "{{}}",
            "[",
            "[[",
            "[]]",
            "[[]]",
            "]",
        ] {
            assert!(fails(bad), "{bad} should not lex");
        }
    }

    #[test]
    fn duration_expressions() {
        let ks: Vec<T> = kinds("[5m+step()*2:min_of(1m, range())]")
            .into_iter()
            .map(|k| k.0)
            .collect();
        assert_eq!(
            ks,
            vec![
                T::LeftBracket,
                T::Duration,
                T::Add,
                T::Step,
                T::LeftParen,
                T::RightParen,
                T::Mul,
                T::Number,
                T::Colon,
                T::MinOf,
                T::LeftParen,
                T::Duration,
                T::Comma,
                T::Range,
                T::LeftParen,
                T::RightParen,
                T::RightParen,
                T::RightBracket
            ]
        );
        assert_eq!(
            kinds("[:5m]").last().map(|k| k.2.clone()),
            Some("unexpected colon before duration in duration expression".into())
        );
        assert_eq!(
            kinds("[5s x 5s]").last().map(|k| (k.1, k.2.clone())),
            Some((4, "unexpected character: 'x', expected ':'".into()))
        );
    }

    #[test]
    fn error_descriptions() {
        let input = r#"foo "a long string" 5m sum by () x:y"#;
        let descs: Vec<String> = lex(input).items.iter().map(|i| i.desc(input)).collect();
        assert_eq!(
            descs,
            vec![
                r#"identifier "foo""#,
                r#"string "\"a long st"..."#,
                r#"duration "5m""#,
                "<aggr:sum>",
                "<by>",
                r#""(""#,
                r#"")""#,
                r#"metric identifier "x:y""#,
                "end of input",
            ]
        );
    }
}
