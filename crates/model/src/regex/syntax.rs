//! Go's `regexp/syntax` parser in Perl mode, reproduced rule for rule, emitting a pattern
//! for the `regex` crate with the same meaning.
//!
//! Translating Go syntax piecemeal into Rust syntax cannot be exact: the two grammars
//! disagree on what is an error (`a**`, `a{1001}`, `\<`, `(?x)`), on what is a literal
//! (`a{x}`, `a{,2}`, `a{01}`, `a{1, 2}` are literal braces in Go), and on what escapes
//! and class names mean. So the pattern is parsed here exactly as Go's `syntax.Parse`
//! does — same acceptance, same error codes and quoted fragments, same limits (repeat
//! counts, nesting depth, program size) — into a small tree, and the tree is written
//! out as an unambiguous Rust pattern: every flag spelled out at the node it applies to
//! (case folding, `.` and newlines, `^`/`$` modes, greediness), every literal escaped,
//! every class written as explicit members, every group that is not a capture made
//! non-capturing, so capture numbers stay Go's.
//!
//! The tree keeps only what matching needs; Go's simplifications (literal strings,
//! factoring of alternations) change no match and are left to the `regex` crate.

use std::fmt::Write as _;

/// Go's `syntax.Error`: an error code and the piece of the pattern it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) code: &'static str,
    pub(crate) expr: String,
}

impl std::fmt::Display for SyntaxError {
    /// Go's `Error()` without its `error parsing regexp: ` prefix, which
    /// [`crate::Error::Regex`] adds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: `{}`", self.code, self.expr)
    }
}

const INVALID_CHAR_CLASS_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_PAREN: &str = "missing closing )";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const UNEXPECTED_PAREN: &str = "unexpected )";
pub(crate) const NESTING_DEPTH: &str = "expression nests too deeply";
const LARGE: &str = "expression too large";

/// Go's `maxHeight`: deepest tree the parser builds.
pub(crate) const MAX_HEIGHT: u32 = 1000;
/// Go's `maxSize` (128 MiB of 40-byte instructions): largest program, in instructions.
const MAX_SIZE: i64 = (128 << 20) / 40;

/// The flags Perl syntax lets a pattern change (`(?imsU)`); the others Go's `Perl`
/// mode fixes (`ClassNL`, `PerlX`, `UnicodeGroups`) are always on here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flags {
    fold_case: bool,
    dot_nl: bool,
    one_line: bool,
    non_greedy: bool,
}

/// The result of parsing: a pattern for the `regex` crate and Go's capture names.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// Unanchored Rust pattern with every flag explicit.
    pub(crate) rust: String,
    /// Capture names by group number; index 0 is the whole match.
    pub(crate) names: Vec<Option<String>>,
    /// Go's height of the tree once Prometheus wraps it in `^(?s:…)$` (a top-level
    /// concatenation absorbs the anchors; anything else gains a level).
    pub(crate) wrapped_height: u32,
}

/// Parses `s` as Go's `syntax.Parse(s, syntax.Perl)` does, or with `syntax.DotNL`
/// added when `dot_nl`.
pub(crate) fn parse(s: &str, dot_nl: bool) -> Result<Parsed, SyntaxError> {
    let mut p = Parser {
        s,
        flags: Flags {
            fold_case: false,
            dot_nl,
            one_line: true,
            non_greedy: false,
        },
        frames: vec![Frame::new(None, None)],
        names: vec![None],
    };
    let tree = p.run()?;
    let mut rust = String::with_capacity(s.len() * 2);
    emit(&tree, &mut rust);
    let wrapped_height = match tree.kind {
        Kind::Concat(_) => tree.height,
        _ => tree.height + 1,
    };
    Ok(Parsed {
        rust,
        names: p.names,
        wrapped_height,
    })
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Go's tree height (a leaf is 1).
    height: u32,
    /// Go's estimate of the compiled program size.
    size: i64,
}

#[derive(Debug)]
enum Kind {
    Empty,
    Literal(char, bool),
    Class(Class),
    AnyChar(bool),
    BeginLine,
    EndLine,
    BeginText,
    EndText,
    WordBoundary,
    NoWordBoundary,
    Capture(Box<Node>),
    Repeat(Rep, bool, Box<Node>),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rep {
    Star,
    Plus,
    Quest,
    /// `{min,max}`; `max` is -1 for `{min,}`, as in Go.
    Count(i32, i32),
}

#[derive(Debug, Default)]
struct Class {
    negated: bool,
    fold: bool,
    items: Vec<Item>,
}

#[derive(Debug)]
enum Item {
    /// Code points `lo..=hi`; surrogates among them match nothing.
    Range(u32, u32),
    /// A Perl or POSIX group, as Go's ASCII ranges, possibly negated.
    Group(&'static [(u8, u8)], bool),
    /// `\p{Name}`, possibly negated; the name is one Go knows.
    Unicode(&'static str, bool),
}

impl Node {
    fn leaf(kind: Kind) -> Node {
        Node {
            kind,
            height: 1,
            size: 1,
        }
    }

    /// Builds an inner node, computing Go's height and size from its children.
    fn inner(kind: Kind) -> Node {
        let (height, size) = match &kind {
            Kind::Capture(sub) => (sub.height + 1, 2 + sub.size),
            Kind::Repeat(rep, _, sub) => {
                let size = match *rep {
                    Rep::Star => 2 + sub.size,
                    Rep::Plus | Rep::Quest => 1 + sub.size,
                    Rep::Count(0, -1) => 2 + sub.size,
                    Rep::Count(min, -1) => 1 + i64::from(min) * sub.size,
                    Rep::Count(min, max) => i64::from(max) * sub.size + i64::from(max - min),
                };
                (sub.height + 1, size)
            }
            Kind::Concat(subs) => (
                subs.iter().map(|n| n.height).max().unwrap_or(0) + 1,
                subs.iter().map(|n| n.size).sum(),
            ),
            Kind::Alternate(subs) => (
                subs.iter().map(|n| n.height).max().unwrap_or(0) + 1,
                subs.iter().map(|n| n.size).sum::<i64>() + subs.len() as i64 - 1,
            ),
            _ => (1, 1),
        };
        Node {
            kind,
            height,
            size: size.max(1),
        }
    }
}

/// One open group: the alternatives finished so far and the concatenation under way.
struct Frame {
    alts: Vec<Node>,
    cur: Vec<Node>,
    /// Capture number, for `(…)` and named groups.
    cap: Option<usize>,
    /// Flags to restore at the closing parenthesis (Go restores the flags of the
    /// moment the group opened).
    saved: Option<Flags>,
}

impl Frame {
    fn new(cap: Option<usize>, saved: Option<Flags>) -> Frame {
        Frame {
            alts: Vec::new(),
            cur: Vec::new(),
            cap,
            saved,
        }
    }
}

struct Parser<'a> {
    s: &'a str,
    flags: Flags,
    frames: Vec<Frame>,
    names: Vec<Option<String>>,
}

fn err(code: &'static str, expr: &str) -> SyntaxError {
    SyntaxError {
        code,
        expr: expr.to_string(),
    }
}

/// Concatenates, flattening nested concatenations as Go's `collapse` does (so the
/// tree height, which Go limits, is the same).
fn concat(subs: Vec<Node>) -> Node {
    if subs.is_empty() {
        return Node::leaf(Kind::Empty);
    }
    collapse(subs, true)
}

fn collapse(subs: Vec<Node>, is_concat: bool) -> Node {
    if subs.len() == 1 {
        return subs
            .into_iter()
            .next()
            .unwrap_or_else(|| Node::leaf(Kind::Empty));
    }
    let mut flat = Vec::with_capacity(subs.len());
    for n in subs {
        match n.kind {
            Kind::Concat(inner) if is_concat => flat.extend(inner),
            Kind::Alternate(inner) if !is_concat => flat.extend(inner),
            kind => flat.push(Node {
                kind,
                height: n.height,
                size: n.size,
            }),
        }
    }
    Node::inner(if is_concat {
        Kind::Concat(flat)
    } else {
        Kind::Alternate(flat)
    })
}

impl Parser<'_> {
    fn top(&mut self) -> &mut Frame {
        // The parser never pops the outermost frame (see `close_group`).
        let n = self.frames.len() - 1;
        &mut self.frames[n]
    }

    /// Pushes a finished node, enforcing Go's height and size limits.
    fn push(&mut self, n: Node) -> Result<(), SyntaxError> {
        self.check_limits(&n)?;
        self.top().cur.push(n);
        Ok(())
    }

    fn check_limits(&self, n: &Node) -> Result<(), SyntaxError> {
        if n.size > MAX_SIZE {
            return Err(err(LARGE, self.s));
        }
        if n.height > MAX_HEIGHT {
            return Err(err(NESTING_DEPTH, self.s));
        }
        Ok(())
    }

    fn literal(&mut self, c: char) -> Result<(), SyntaxError> {
        let fold = self.flags.fold_case;
        self.push(Node::leaf(Kind::Literal(c, fold)))
    }

    /// A literal given by code point: Go accepts surrogates (`\x{D800}`), which no
    /// decoded text contains, so they match nothing.
    fn literal_code(&mut self, c: u32) -> Result<(), SyntaxError> {
        match char::from_u32(c) {
            Some(c) => self.literal(c),
            None => self.op(Kind::Class(Class::default())),
        }
    }

    fn op(&mut self, kind: Kind) -> Result<(), SyntaxError> {
        self.push(Node::leaf(kind))
    }

    /// Finishes the current frame's alternation.
    fn finish(&mut self, frame: Frame) -> Result<Node, SyntaxError> {
        let mut alts = frame.alts;
        let c = concat(frame.cur);
        self.check_limits(&c)?;
        alts.push(c);
        let n = collapse(alts, false);
        self.check_limits(&n)?;
        Ok(n)
    }

    fn run(&mut self) -> Result<Node, SyntaxError> {
        let s = self.s;
        let b = s.as_bytes();
        let mut i = 0;
        // Where the repetition operator just before this token starts, if the
        // previous token was one: Perl forbids stacking them (`a**`).
        let mut last_repeat: Option<usize> = None;
        while i < b.len() {
            let mut repeat = None;
            match b[i] {
                b'(' => {
                    if b.get(i + 1) == Some(&b'?') {
                        i = self.perl_flags(i)?;
                    } else {
                        self.names.push(None);
                        let cap = self.names.len() - 1;
                        let saved = self.flags;
                        self.frames.push(Frame::new(Some(cap), Some(saved)));
                        i += 1;
                    }
                }
                b'|' => {
                    let f = self.top();
                    let c = concat(std::mem::take(&mut f.cur));
                    f.alts.push(c);
                    i += 1;
                }
                b')' => {
                    self.close_group()?;
                    i += 1;
                }
                b'^' => {
                    self.op(if self.flags.one_line {
                        Kind::BeginText
                    } else {
                        Kind::BeginLine
                    })?;
                    i += 1;
                }
                b'$' => {
                    self.op(if self.flags.one_line {
                        Kind::EndText
                    } else {
                        Kind::EndLine
                    })?;
                    i += 1;
                }
                b'.' => {
                    self.op(Kind::AnyChar(self.flags.dot_nl))?;
                    i += 1;
                }
                b'[' => i = self.class(i)?,
                b'*' | b'+' | b'?' => {
                    let rep = match b[i] {
                        b'*' => Rep::Star,
                        b'+' => Rep::Plus,
                        _ => Rep::Quest,
                    };
                    let before = i;
                    i = self.repeat(rep, before, i + 1, last_repeat)?;
                    repeat = Some(before);
                }
                b'{' => match parse_repeat(&s[i..]) {
                    None => {
                        // Not a well-formed repetition: Go reads `{` as a literal.
                        self.literal('{')?;
                        i += 1;
                    }
                    Some((min, max, len)) => {
                        let before = i;
                        let after = i + len;
                        if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                            return Err(err(INVALID_REPEAT_SIZE, &s[before..after]));
                        }
                        i = self.repeat(Rep::Count(min, max), before, after, last_repeat)?;
                        repeat = Some(before);
                    }
                },
                b'\\' => i = self.escape(i)?,
                _ => {
                    let c = s[i..].chars().next().unwrap_or('\u{fffd}');
                    self.literal(c)?;
                    i += c.len_utf8();
                }
            }
            last_repeat = repeat;
        }
        if self.frames.len() != 1 {
            return Err(err(MISSING_PAREN, s));
        }
        let f = self.frames.pop().unwrap_or_else(|| Frame::new(None, None));
        self.finish(f)
    }

    /// Applies a repetition operator (`s[before..after]`, a `?` after it making it
    /// non-greedy) to the last node; returns where parsing goes on.
    fn repeat(
        &mut self,
        rep: Rep,
        before: usize,
        mut after: usize,
        last_repeat: Option<usize>,
    ) -> Result<usize, SyntaxError> {
        let s = self.s;
        let mut non_greedy = self.flags.non_greedy;
        if s.as_bytes().get(after) == Some(&b'?') {
            after += 1;
            non_greedy = !non_greedy;
        }
        if let Some(lr) = last_repeat {
            return Err(err(INVALID_REPEAT_OP, &s[lr..after]));
        }
        let Some(sub) = self.top().cur.pop() else {
            return Err(err(MISSING_REPEAT_ARGUMENT, &s[before..after]));
        };
        let n = Node::inner(Kind::Repeat(rep, !non_greedy, Box::new(sub)));
        self.check_limits(&n)?;
        if let Rep::Count(min, max) = rep
            && (min >= 2 || max >= 2)
            && !repeat_is_valid(&n, 1000)
        {
            return Err(err(INVALID_REPEAT_SIZE, &s[before..after]));
        }
        self.top().cur.push(n);
        Ok(after)
    }

    fn close_group(&mut self) -> Result<(), SyntaxError> {
        if self.frames.len() < 2 {
            return Err(err(UNEXPECTED_PAREN, self.s));
        }
        let f = match self.frames.pop() {
            Some(f) => f,
            None => return Err(err(UNEXPECTED_PAREN, self.s)),
        };
        let (cap, saved) = (f.cap, f.saved);
        let mut n = self.finish(f)?;
        if let Some(saved) = saved {
            self.flags = saved;
        }
        if cap.is_some() {
            n = Node::inner(Kind::Capture(Box::new(n)));
        }
        self.push(n)
    }

    /// `(?…`: named captures, flag changes and non-capturing groups.
    fn perl_flags(&mut self, start: usize) -> Result<usize, SyntaxError> {
        let s = self.s;
        let t = &s[start..];
        let tb = t.as_bytes();
        // `(?P<name>` and, as Go 1.22 added, `(?<name>`.
        if (tb.len() > 4 && tb[2] == b'P' && tb[3] == b'<') || (tb.len() > 3 && tb[2] == b'<') {
            let begin = if tb[2] == b'<' { 3 } else { 4 };
            let Some(end) = t.find('>') else {
                return Err(err(INVALID_NAMED_CAPTURE, t));
            };
            let name = &t[begin..end];
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return Err(err(INVALID_NAMED_CAPTURE, &t[..=end]));
            }
            self.names.push(Some(name.to_string()));
            let cap = self.names.len() - 1;
            let saved = self.flags;
            self.frames.push(Frame::new(Some(cap), Some(saved)));
            return Ok(start + end + 1);
        }
        let mut flags = self.flags;
        let mut negate = false;
        let mut saw_flag = false;
        let mut i = 2;
        while let Some(c) = t[i..].chars().next() {
            i += c.len_utf8();
            match c {
                'i' => {
                    flags.fold_case = !negate;
                    saw_flag = true;
                }
                'm' => {
                    flags.one_line = negate;
                    saw_flag = true;
                }
                's' => {
                    flags.dot_nl = !negate;
                    saw_flag = true;
                }
                'U' => {
                    flags.non_greedy = !negate;
                    saw_flag = true;
                }
                '-' => {
                    if negate {
                        break;
                    }
                    negate = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negate && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        let saved = self.flags;
                        self.frames.push(Frame::new(None, Some(saved)));
                    }
                    self.flags = flags;
                    return Ok(start + i);
                }
                _ => break,
            }
        }
        Err(err(INVALID_PERL_OP, &t[..i]))
    }

    fn escape(&mut self, i: usize) -> Result<usize, SyntaxError> {
        let s = self.s;
        let b = s.as_bytes();
        if let Some(&next) = b.get(i + 1) {
            match next {
                b'A' => {
                    self.op(Kind::BeginText)?;
                    return Ok(i + 2);
                }
                b'b' => {
                    self.op(Kind::WordBoundary)?;
                    return Ok(i + 2);
                }
                b'B' => {
                    self.op(Kind::NoWordBoundary)?;
                    return Ok(i + 2);
                }
                b'C' => return Err(err(INVALID_ESCAPE, &s[i..i + 2])),
                b'Q' => {
                    // `\Q…\E`: everything up to `\E` (or the end) is literal.
                    let rest = &s[i + 2..];
                    let (lit, next) = match rest.find("\\E") {
                        Some(e) => (&rest[..e], i + 2 + e + 2),
                        None => (rest, s.len()),
                    };
                    for c in lit.chars() {
                        self.literal(c)?;
                    }
                    return Ok(next);
                }
                b'z' => {
                    self.op(Kind::EndText)?;
                    return Ok(i + 2);
                }
                b'p' | b'P' => {
                    let (item, next) = unicode_class(s, i)?;
                    let class = Class {
                        negated: false,
                        fold: self.flags.fold_case,
                        items: vec![item],
                    };
                    self.op(Kind::Class(class))?;
                    return Ok(next);
                }
                _ => {}
            }
        }
        if let Some(item) = perl_group(&s[i..]) {
            let class = Class {
                negated: false,
                fold: self.flags.fold_case,
                items: vec![item],
            };
            self.op(Kind::Class(class))?;
            return Ok(i + 2);
        }
        let (c, next) = parse_escape(s, i)?;
        self.literal_code(c)?;
        Ok(next)
    }

    /// `[…]`, starting at `start`; returns where parsing goes on.
    fn class(&mut self, start: usize) -> Result<usize, SyntaxError> {
        let s = self.s;
        let whole = &s[start..];
        let mut class = Class {
            negated: false,
            fold: self.flags.fold_case,
            items: Vec::new(),
        };
        let mut i = start + 1;
        if s.as_bytes().get(i) == Some(&b'^') {
            class.negated = true;
            i += 1;
        }
        // `]` is a member when it comes first.
        let mut first = true;
        loop {
            let t = &s[i..];
            if t.starts_with(']') && !first {
                break;
            }
            first = false;
            // POSIX `[:alnum:]`.
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(k) = t[2..].find(":]")
            {
                let name = &t[..k + 4];
                let Some(item) = posix_group(name) else {
                    return Err(err(INVALID_CHAR_CLASS_RANGE, name));
                };
                class.items.push(item);
                i += name.len();
                continue;
            }
            if t.starts_with("\\p") || t.starts_with("\\P") {
                let (item, next) = unicode_class(s, i)?;
                class.items.push(item);
                i = next;
                continue;
            }
            if let Some(item) = perl_group(t) {
                class.items.push(item);
                i += 2;
                continue;
            }
            let rng = i;
            let (lo, next) = class_char(s, i, whole)?;
            i = next;
            let mut hi = lo;
            let t = &s[i..];
            // `[a-]` is `a` or `-`.
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, next) = class_char(s, i + 1, whole)?;
                i = next;
                hi = h;
                if hi < lo {
                    return Err(err(INVALID_CHAR_CLASS_RANGE, &s[rng..i]));
                }
            }
            class.items.push(Item::Range(lo, hi));
        }
        self.op(Kind::Class(class))?;
        Ok(i + 1)
    }
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` at the start of `s`, as (min, max,
/// length), max -1 for no upper bound and min -1 for a number too big; `None` when `s`
/// does not have that form.
fn parse_repeat(s: &str) -> Option<(i32, i32, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let (mut min, n) = parse_int(&b[i..])?;
    i += n;
    let max;
    match b.get(i)? {
        b',' => {
            i += 1;
            match b.get(i)? {
                b'}' => max = -1,
                _ => {
                    let (m, n) = parse_int(&b[i..])?;
                    i += n;
                    max = m;
                    if m < 0 {
                        min = -1;
                    }
                }
            }
        }
        _ => max = min,
    }
    if b.get(i) != Some(&b'}') {
        return None;
    }
    Some((min, max, i + 1))
}

/// Go's `parseInt`: a decimal number without leading zeros; -1 when it is 10^8 or more.
fn parse_int(b: &[u8]) -> Option<(i32, usize)> {
    let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 || (len >= 2 && b[0] == b'0') {
        return None;
    }
    let mut n: i32 = 0;
    for &d in &b[..len] {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i32::from(d - b'0');
    }
    Some((n, len))
}

/// Go's `repeatIsValid`: nested counted repetitions must not multiply past `n`.
fn repeat_is_valid(node: &Node, mut n: i32) -> bool {
    if let Kind::Repeat(Rep::Count(min, max), _, _) = node.kind {
        let mut m = max;
        if m == 0 {
            return true;
        }
        if m < 0 {
            m = min;
        }
        if m > n {
            return false;
        }
        if m > 0 {
            n /= m;
        }
    }
    match &node.kind {
        Kind::Capture(sub) | Kind::Repeat(_, _, sub) => repeat_is_valid(sub, n),
        Kind::Concat(subs) | Kind::Alternate(subs) => subs.iter().all(|x| repeat_is_valid(x, n)),
        _ => true,
    }
}

/// Go's `parseEscape` for the escape at `s[i]` (a backslash): the character it stands
/// for and where parsing goes on.
fn parse_escape(s: &str, i: usize) -> Result<(u32, usize), SyntaxError> {
    let mut t = i + 1;
    let Some(c) = s[t..].chars().next() else {
        return Err(err(TRAILING_BACKSLASH, ""));
    };
    t += c.len_utf8();
    let bad = |t: usize| Err(err(INVALID_ESCAPE, &s[i..t]));
    let b = s.as_bytes();
    let is_octal = |k: usize| b.get(k).is_some_and(|d| (b'0'..=b'7').contains(d));
    match c {
        '1'..='7' if !is_octal(t) => bad(t),
        '0'..='7' => {
            // Up to two more octal digits.
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                if !is_octal(t) {
                    break;
                }
                r = r * 8 + u32::from(b[t] - b'0');
                t += 1;
            }
            Ok((r, t))
        }
        'x' => {
            let Some(c) = s[t..].chars().next() else {
                return bad(t);
            };
            t += c.len_utf8();
            if c == '{' {
                let mut r: u32 = 0;
                let mut nhex = 0;
                loop {
                    let Some(c) = s[t..].chars().next() else {
                        return bad(t);
                    };
                    t += c.len_utf8();
                    if c == '}' {
                        break;
                    }
                    let Some(v) = c.to_digit(16) else {
                        return bad(t);
                    };
                    r = r * 16 + v;
                    if r > 0x10FFFF {
                        return bad(t);
                    }
                    nhex += 1;
                }
                if nhex == 0 {
                    return bad(t);
                }
                return Ok((r, t));
            }
            let x = c.to_digit(16);
            let y = s[t..].chars().next();
            if let Some(y) = y {
                t += y.len_utf8();
            }
            match (x, y.and_then(|y| y.to_digit(16))) {
                (Some(x), Some(y)) => Ok((x * 16 + y, t)),
                _ => bad(t),
            }
        }
        'a' => Ok((7, t)),
        'f' => Ok((0xc, t)),
        'n' => Ok((0xa, t)),
        'r' => Ok((0xd, t)),
        't' => Ok((9, t)),
        'v' => Ok((0xb, t)),
        // Escaped ASCII punctuation (and `\_`) stands for itself.
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, t)),
        _ => bad(t),
    }
}

/// Go's `parseClassChar`: a member of a class, escaped or not.
fn class_char(s: &str, i: usize, whole: &str) -> Result<(u32, usize), SyntaxError> {
    match s[i..].chars().next() {
        None => Err(err(MISSING_BRACKET, whole)),
        Some('\\') => parse_escape(s, i),
        Some(c) => Ok((c as u32, i + c.len_utf8())),
    }
}

const DIGIT: &[(u8, u8)] = &[(b'0', b'9')];
const SPACE: &[(u8, u8)] = &[(b'\t', b'\n'), (0x0c, b'\r'), (b' ', b' ')];
const WORD: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')];

/// `\d \D \s \S \w \W`, ASCII-only as in Go.
fn perl_group(t: &str) -> Option<Item> {
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'\\' {
        return None;
    }
    let (g, neg) = match b[1] {
        b'd' => (DIGIT, false),
        b'D' => (DIGIT, true),
        b's' => (SPACE, false),
        b'S' => (SPACE, true),
        b'w' => (WORD, false),
        b'W' => (WORD, true),
        _ => return None,
    };
    Some(Item::Group(g, neg))
}

/// `[:alpha:]` and `[:^alpha:]`, with Go's (POSIX) ASCII definitions.
fn posix_group(name: &str) -> Option<Item> {
    let (neg, base) = match name.strip_prefix("[:^") {
        Some(rest) => (true, rest),
        None => (false, name.strip_prefix("[:")?),
    };
    let g: &'static [(u8, u8)] = match base.strip_suffix(":]")? {
        "alnum" => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        "alpha" => &[(b'A', b'Z'), (b'a', b'z')],
        "ascii" => &[(0, 0x7f)],
        "blank" => &[(b'\t', b'\t'), (b' ', b' ')],
        "cntrl" => &[(0, 0x1f), (0x7f, 0x7f)],
        "digit" => DIGIT,
        "graph" => &[(b'!', b'~')],
        "lower" => &[(b'a', b'z')],
        "print" => &[(b' ', b'~')],
        "punct" => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        "space" => &[(b'\t', b'\r'), (b' ', b' ')],
        "upper" => &[(b'A', b'Z')],
        "word" => WORD,
        "xdigit" => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
        _ => return None,
    };
    Some(Item::Group(g, neg))
}

/// Go's `parseUnicodeClass` for `\p…`/`\P…` at `s[i]`: the class and where parsing
/// goes on.
fn unicode_class(s: &str, i: usize) -> Result<(Item, usize), SyntaxError> {
    let mut neg = s.as_bytes().get(i + 1) == Some(&b'P');
    let t = i + 2;
    let (seq_end, name) = match s[t..].chars().next() {
        Some('{') => {
            let Some(end) = s[i..].find('}') else {
                return Err(err(INVALID_CHAR_CLASS_RANGE, &s[i..]));
            };
            (i + end + 1, &s[t + 1..i + end])
        }
        Some(c) => (t + c.len_utf8(), &s[t..t + c.len_utf8()]),
        None => (t, ""),
    };
    let name = match name.strip_prefix('^') {
        Some(n) => {
            neg = !neg;
            n
        }
        None => name,
    };
    let Some(known) = go_unicode_name(name) else {
        return Err(err(INVALID_CHAR_CLASS_RANGE, &s[i..seq_end]));
    };
    Ok((Item::Unicode(known, neg), seq_end))
}

/// Go's `unicode.Categories` names.
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Go's `unicode.Scripts` names (Unicode 15.0, as in the Go releases Prometheus 3 is
/// built with).
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// The name as Go spells it (case-sensitive, no loose matching), if Go knows it.
fn go_unicode_name(name: &str) -> Option<&'static str> {
    if name == "Any" {
        return Some("Any");
    }
    CATEGORIES
        .iter()
        .chain(SCRIPTS)
        .find(|n| **n == name)
        .copied()
}

fn emit(n: &Node, out: &mut String) {
    match &n.kind {
        Kind::Empty => out.push_str("(?:)"),
        Kind::Literal(c, fold) => {
            if *fold {
                out.push_str("(?i:");
                emit_char(*c, out);
                out.push(')');
            } else {
                emit_char(*c, out);
            }
        }
        Kind::Class(c) => emit_class(c, out),
        Kind::AnyChar(true) => out.push_str("(?s:.)"),
        Kind::AnyChar(false) => out.push_str("(?-s:.)"),
        Kind::BeginLine => out.push_str("(?m:^)"),
        Kind::EndLine => out.push_str("(?m:$)"),
        Kind::BeginText => out.push_str("\\A"),
        Kind::EndText => out.push_str("\\z"),
        // Go's word boundaries are ASCII.
        Kind::WordBoundary => out.push_str("(?-u:\\b)"),
        Kind::NoWordBoundary => out.push_str("(?-u:\\B)"),
        Kind::Capture(sub) => {
            out.push('(');
            emit(sub, out);
            out.push(')');
        }
        Kind::Repeat(rep, greedy, sub) => {
            out.push_str("(?:");
            emit(sub, out);
            out.push(')');
            match *rep {
                Rep::Star => out.push('*'),
                Rep::Plus => out.push('+'),
                Rep::Quest => out.push('?'),
                Rep::Count(min, max) if min == max => {
                    let _ = write!(out, "{{{min}}}");
                }
                Rep::Count(min, -1) => {
                    let _ = write!(out, "{{{min},}}");
                }
                Rep::Count(min, max) => {
                    let _ = write!(out, "{{{min},{max}}}");
                }
            }
            if !greedy {
                out.push('?');
            }
        }
        Kind::Concat(subs) => subs.iter().for_each(|s| emit(s, out)),
        Kind::Alternate(subs) => {
            out.push_str("(?:");
            for (k, s) in subs.iter().enumerate() {
                if k > 0 {
                    out.push('|');
                }
                emit(s, out);
            }
            out.push(')');
        }
    }
}

fn emit_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() && !c.is_control() && !c.is_whitespace() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    }
}

/// Writes a class; case folding, when on, is applied by the `regex` crate to the
/// members before negation, as Go's parser does.
fn emit_class(c: &Class, out: &mut String) {
    let mut body = String::new();
    for item in &c.items {
        match item {
            Item::Range(lo, hi) => {
                // The `regex` crate has no surrogates: leave them out.
                for (lo, hi) in [(*lo, (*hi).min(0xd7ff)), ((*lo).max(0xe000), *hi)] {
                    if lo <= hi {
                        let _ = write!(body, "\\x{{{lo:x}}}-\\x{{{hi:x}}}");
                    }
                }
            }
            Item::Group(ranges, neg) => {
                body.push_str(if *neg { "[^" } else { "[" });
                for (lo, hi) in ranges.iter() {
                    let _ = write!(body, "\\x{{{lo:x}}}-\\x{{{hi:x}}}");
                }
                body.push(']');
            }
            Item::Unicode(name, neg) => {
                let members = match *name {
                    "Any" => Some("\\x{0}-\\x{10ffff}"),
                    // Go's `C` is Cc, Cf, Co and Cs; the `regex` crate's also holds the
                    // unassigned code points. Surrogates (Cs) never occur in text, and
                    // the `regex` crate has no such class.
                    "C" => Some("\\p{Cc}\\p{Cf}\\p{Co}"),
                    "Cs" if *neg => Some("\\x{0}-\\x{10ffff}"),
                    "Cs" => continue,
                    _ => None,
                };
                let Some(members) = members else {
                    let _ = write!(body, "\\{}{{{name}}}", if *neg { 'P' } else { 'p' });
                    continue;
                };
                body.push_str(if *neg && *name != "Cs" { "[^" } else { "[" });
                body.push_str(members);
                body.push(']');
            }
        }
    }
    if body.is_empty() {
        // Only surrogates, or nothing at all: `[]` is not a class in Rust syntax.
        body.push_str("\\x{0}-\\x{10ffff}");
        out.push_str(if c.negated { "[" } else { "[^" });
        out.push_str(&body);
        out.push(']');
        return;
    }
    if c.fold {
        out.push_str("(?i:");
    }
    out.push('[');
    if c.negated {
        out.push('^');
    }
    out.push_str(&body);
    out.push(']');
    if c.fold {
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str) -> String {
        match parse(p, true) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn repeat_forms() {
        assert_eq!(parse_repeat("{2}"), Some((2, 2, 3)));
        assert_eq!(parse_repeat("{2,}x"), Some((2, -1, 4)));
        assert_eq!(parse_repeat("{2,5}"), Some((2, 5, 5)));
        assert_eq!(parse_repeat("{,5}"), None);
        assert_eq!(parse_repeat("{02}"), None);
        assert_eq!(parse_repeat("{2, 5}"), None);
        assert_eq!(parse_repeat("{2"), None);
        assert_eq!(
            parse_repeat("{999999999}"),
            Some((999_999_999, 999_999_999, 11))
        );
        assert_eq!(parse_repeat("{9999999999}"), Some((-1, -1, 12)));
        assert_eq!(parse_repeat("{1,9999999999}"), Some((-1, -1, 14)));
    }

    #[test]
    fn errors_quote_what_go_quotes() {
        assert_eq!(e("a**"), "invalid nested repetition operator: `**`");
        assert_eq!(e("a*??"), "invalid nested repetition operator: `*??`");
        assert_eq!(
            e("a{2}{3}x"),
            "invalid nested repetition operator: `{2}{3}`"
        );
        assert_eq!(e("*"), "missing argument to repetition operator: `*`");
        assert_eq!(e("a{1001}"), "invalid repeat count: `{1001}`");
        assert_eq!(e("(a{100}){100}?"), "invalid repeat count: `{100}?`");
        assert_eq!(e("[a"), "missing closing ]: `[a`");
        assert_eq!(e("x(y"), "missing closing ): `x(y`");
        assert_eq!(e("\\"), "trailing backslash at end of expression: ``");
    }
}
