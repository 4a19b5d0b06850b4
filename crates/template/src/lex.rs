//! The lexer: template text to a flat list of items.
//!
//! Shaped after Go's `text/template/parse` lexer so that the same inputs fail at the same
//! place with the same words: trim markers are `{{- ` and ` -}}` (the space is required, so
//! `{{-3}}` is the number -3), comments must hug the delimiters, and any printable ASCII
//! character the grammar has no use for is passed through as a `Char` item so that the
//! parser can say `unexpected "}" in operand`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemType {
    Error,
    Eof,
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Bool,
    Char,
    CharConstant,
    Number,
    String,
    RawString,
    Identifier,
    Field,
    Variable,
    Dot,
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
    // Keywords.
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) typ: ItemType,
    /// Byte offset in the input.
    pub(crate) pos: usize,
    pub(crate) val: String,
}

impl std::fmt::Display for Item {
    /// Go's `item.String`, used in "unexpected X in Y" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            ItemType::Eof => write!(f, "EOF"),
            ItemType::Error => write!(f, "{}", self.val),
            t if is_keyword(t) => write!(f, "<{}>", self.val),
            _ => {
                if self.val.chars().count() > 10 {
                    let short: String = self.val.chars().take(10).collect();
                    write!(f, "{}...", crate::gofmt::quote(&short))
                } else {
                    write!(f, "{}", crate::gofmt::quote(&self.val))
                }
            }
        }
    }
}

fn is_keyword(t: ItemType) -> bool {
    matches!(
        t,
        ItemType::Block
            | ItemType::Break
            | ItemType::Continue
            | ItemType::Define
            | ItemType::Else
            | ItemType::End
            | ItemType::If
            | ItemType::Range
            | ItemType::Template
            | ItemType::With
    )
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    items: Vec<Item>,
    paren_depth: usize,
}

/// Lexes the whole input. The list always ends with an `Eof` or `Error` item.
pub(crate) fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run();
    l.items
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn emit(&mut self, typ: ItemType) {
        self.items.push(Item {
            typ,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
        });
        self.start = self.pos;
    }

    fn error(&mut self, msg: String) {
        self.items.push(Item {
            typ: ItemType::Error,
            pos: self.start,
            val: msg,
        });
    }

    fn run(&mut self) {
        // Text and actions alternate; each helper returns false once it emitted Eof/Error.
        loop {
            if !self.lex_text() {
                return;
            }
            if !self.lex_action() {
                return;
            }
        }
    }

    /// Scans text up to the next left delimiter. Returns false at EOF.
    fn lex_text(&mut self) -> bool {
        match self.rest().find(LEFT) {
            Some(off) => {
                let delim_at = self.pos + off;
                let after = &self.input[delim_at + LEFT.len()..];
                let trim = has_left_trim(after);
                let mut text_end = delim_at;
                if trim {
                    // `{{- ` eats the whitespace that precedes it.
                    while text_end > self.pos && is_space(self.input.as_bytes()[text_end - 1]) {
                        text_end -= 1;
                    }
                }
                self.pos = text_end;
                if self.pos > self.start {
                    self.emit(ItemType::Text);
                }
                self.pos = delim_at;
                self.start = delim_at;
                true
            }
            None => {
                self.pos = self.input.len();
                if self.pos > self.start {
                    self.emit(ItemType::Text);
                }
                self.emit(ItemType::Eof);
                false
            }
        }
    }

    /// At a left delimiter: lexes one comment or action. Returns false after an error.
    fn lex_action(&mut self) -> bool {
        self.pos += LEFT.len();
        let trim = has_left_trim(self.rest());
        let after_marker = if trim { self.pos + 2 } else { self.pos };
        if self.input[after_marker..].starts_with("/*") {
            self.pos = after_marker;
            self.start = self.pos;
            return self.lex_comment();
        }
        self.emit(ItemType::LeftDelim);
        if trim {
            self.pos += 2;
            self.start = self.pos;
        }
        self.paren_depth = 0;
        self.lex_inside()
    }

    fn lex_comment(&mut self) -> bool {
        let Some(end) = self.rest().find("*/") else {
            self.error("unclosed comment".into());
            return false;
        };
        self.pos += end + 2;
        let (at, trim) = self.at_right_delim();
        if !at {
            self.error("comment ends before closing delimiter".into());
            return false;
        }
        // Comments are dropped, as Go does unless asked to keep them.
        self.pos += if trim { 2 } else { 0 } + RIGHT.len();
        if trim {
            self.skip_leading_space();
        }
        self.start = self.pos;
        true
    }

    /// Whether the input at `pos` is a right delimiter, optionally preceded by " -".
    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim(r) && r[2..].starts_with(RIGHT) {
            return (true, true);
        }
        (r.starts_with(RIGHT), false)
    }

    fn skip_leading_space(&mut self) {
        while self.pos < self.input.len() && is_space(self.input.as_bytes()[self.pos]) {
            self.pos += 1;
        }
        self.start = self.pos;
    }

    fn lex_inside(&mut self) -> bool {
        loop {
            let (at, trim) = self.at_right_delim();
            if at {
                if self.paren_depth > 0 {
                    self.error("unclosed left paren".into());
                    return false;
                }
                if trim {
                    // Only the delimiter belongs to the item; the " -" is dropped.
                    self.pos += 2;
                    self.start = self.pos;
                }
                self.pos += RIGHT.len();
                self.emit(ItemType::RightDelim);
                if trim {
                    self.skip_leading_space();
                }
                return true;
            }
            let Some(c) = self.next() else {
                self.error("unclosed action".into());
                return false;
            };
            match c {
                c if c.is_ascii() && is_space(c as u8) => {
                    // Stop before a " -}}" so the trim marker is seen at the next turn.
                    loop {
                        let r = self.rest();
                        if has_right_trim(&self.input[self.pos - 1..])
                            && self.input[self.pos + 1..].starts_with(RIGHT)
                        {
                            self.pos -= 1;
                            break;
                        }
                        match r.as_bytes().first() {
                            Some(&b) if is_space(b) => self.pos += 1,
                            _ => break,
                        }
                    }
                    if self.pos > self.start {
                        self.emit(ItemType::Space);
                    }
                }
                '=' => self.emit(ItemType::Assign),
                ':' => {
                    if self.next() != Some('=') {
                        self.error("expected :=".into());
                        return false;
                    }
                    self.emit(ItemType::Declare);
                }
                '|' => self.emit(ItemType::Pipe),
                ',' => self.emit(ItemType::Comma),
                '"' => {
                    if !self.lex_quote() {
                        return false;
                    }
                }
                '`' => match self.rest().find('`') {
                    Some(off) => {
                        self.pos += off + 1;
                        self.emit(ItemType::RawString);
                    }
                    None => {
                        self.error("unterminated raw quoted string".into());
                        return false;
                    }
                },
                '$' => {
                    if !self.lex_field_or_var(ItemType::Variable) {
                        return false;
                    }
                }
                '\'' => {
                    if !self.lex_char() {
                        return false;
                    }
                }
                '.' => {
                    // A '.' followed by a digit starts a number such as .5.
                    if self.peek().is_some_and(|d| d.is_ascii_digit()) {
                        self.pos -= 1;
                        if !self.lex_number() {
                            return false;
                        }
                    } else if !self.lex_field_or_var(ItemType::Field) {
                        return false;
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.pos -= 1;
                    if !self.lex_number() {
                        return false;
                    }
                }
                c if is_alnum(c) => {
                    if !self.lex_identifier() {
                        return false;
                    }
                }
                '(' => {
                    self.paren_depth += 1;
                    self.emit(ItemType::LeftParen);
                }
                ')' => {
                    // Go emits the paren before complaining, so the parser usually
                    // reports it first (`unexpected ")" in command`).
                    self.emit(ItemType::RightParen);
                    if self.paren_depth == 0 {
                        self.error(format!(
                            "unexpected right paren {}",
                            crate::gofmt::unicode_u(')')
                        ));
                        return false;
                    }
                    self.paren_depth -= 1;
                }
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(ItemType::Char),
                c => {
                    self.error(format!(
                        "unrecognized character in action: {}",
                        crate::gofmt::unicode_u(c)
                    ));
                    return false;
                }
            }
        }
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if c.is_ascii() && is_space(c as u8) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT),
        }
    }

    fn lex_field_or_var(&mut self, typ: ItemType) -> bool {
        if self.at_terminator() {
            // A lone "." or "$".
            self.emit(if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            });
            return true;
        }
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            self.error(format!("bad character {}", crate::gofmt::unicode_u(c)));
            return false;
        }
        self.emit(typ);
        true
    }

    fn lex_identifier(&mut self) -> bool {
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            self.error(format!("bad character {}", crate::gofmt::unicode_u(c)));
            return false;
        }
        let typ = match &self.input[self.start..self.pos] {
            "block" => ItemType::Block,
            "break" => ItemType::Break,
            "continue" => ItemType::Continue,
            "define" => ItemType::Define,
            "else" => ItemType::Else,
            "end" => ItemType::End,
            "if" => ItemType::If,
            "range" => ItemType::Range,
            "template" => ItemType::Template,
            "with" => ItemType::With,
            "nil" => ItemType::Nil,
            "true" | "false" => ItemType::Bool,
            _ => ItemType::Identifier,
        };
        self.emit(typ);
        true
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        self.error("unterminated quoted string".into());
                        return false;
                    }
                    Some(_) => {}
                },
                Some('\n') | None => {
                    self.error("unterminated quoted string".into());
                    return false;
                }
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::String);
        true
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        self.error("unterminated character constant".into());
                        return false;
                    }
                    Some(_) => {}
                },
                Some('\n') | None => {
                    self.error("unterminated character constant".into());
                    return false;
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::CharConstant);
        true
    }

    /// Scans something that looks like a number; the parser checks its value.
    fn lex_number(&mut self) -> bool {
        if matches!(self.peek(), Some('+' | '-')) {
            self.next();
        }
        let mut digits: &str = "0123456789_";
        let mut exp = "eE";
        if self.rest().starts_with('0') {
            let r = self.rest().as_bytes();
            if r.len() > 1 {
                match r[1] {
                    b'x' | b'X' => {
                        self.pos += 2;
                        digits = "0123456789abcdefABCDEF_";
                        exp = "pP";
                    }
                    b'o' | b'O' => {
                        self.pos += 2;
                        digits = "01234567_";
                        exp = "";
                    }
                    b'b' | b'B' => {
                        self.pos += 2;
                        digits = "01_";
                        exp = "";
                    }
                    _ => {}
                }
            }
        }
        let accept_run = |l: &mut Self, set: &str| {
            while let Some(c) = l.peek() {
                if !set.contains(c) {
                    break;
                }
                l.next();
            }
        };
        accept_run(self, digits);
        if self.peek() == Some('.') {
            self.next();
            accept_run(self, digits);
        }
        if !exp.is_empty() && self.peek().is_some_and(|c| exp.contains(c)) {
            self.next();
            if matches!(self.peek(), Some('+' | '-')) {
                self.next();
            }
            accept_run(self, "0123456789_");
        }
        if self.peek() == Some('i') {
            self.next();
        }
        if self.peek().is_some_and(is_alnum) {
            self.next();
            let bad = self.input[self.start..self.pos].to_string();
            self.error(format!("bad number syntax: {}", crate::gofmt::quote(&bad)));
            return false;
        }
        self.emit(ItemType::Number);
        true
    }
}

fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1])
}

fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0]) && b[1] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(s: &str) -> Vec<ItemType> {
        lex(s).into_iter().map(|i| i.typ).collect()
    }

    #[test]
    fn trim_markers_need_spaces() {
        use ItemType::*;
        assert_eq!(types("{{-3}}"), vec![LeftDelim, Number, RightDelim, Eof]);
        let items = lex("a  {{- 3 -}}  b");
        assert_eq!(items[0].val, "a");
        assert_eq!(items.last().map(|i| i.typ), Some(Eof));
        assert_eq!(items[items.len() - 2].val, "b");
    }

    #[test]
    fn comment_must_hug_delimiters() {
        let items = lex("{{/* x */ }}");
        assert_eq!(items[0].val, "comment ends before closing delimiter");
        assert_eq!(types("a{{/* x */}}b").len(), 3);
    }
}
