//! The pull parser for both text formats.
//!
//! One hand-written scanner per format, each following the grammar of Prometheus's
//! lexers (`promlex.l`, `openmetricslex.l`) rule for rule, including their leniencies
//! (the text format allows blanks almost anywhere and a missing final newline;
//! OpenMetrics allows exactly one space between fields and nothing after `# EOF`).
//! Entries borrow from the input and from a label buffer the parser reuses, so a
//! sample costs no allocation until the caller asks for owned labels.

use std::borrow::Cow;

use ember_model::labels::{Label, Labels, METRIC_NAME};

use crate::error::{Error, Position, quote};
use crate::escape::{EscapedStr, Escaping};
use crate::float::{NumError, om_float_string, parse_float, parse_int_timestamp, seconds_to_ms};
use crate::types::{Format, MetricType};

/// One entry of an exposition: a metadata line, a comment or a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry<'p> {
    /// `# HELP name text`.
    Help {
        /// The metric family's name.
        name: EscapedStr<'p>,
        /// The help text, escaped as written.
        help: EscapedStr<'p>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family's name.
        name: EscapedStr<'p>,
        /// The declared type.
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family's name.
        name: EscapedStr<'p>,
        /// The unit; empty when none is given.
        unit: &'p str,
    },
    /// Any other `#` line (text format), including the `#`. Not necessarily UTF-8,
    /// as Prometheus does not check comments.
    Comment(&'p [u8]),
    /// A sample.
    Series(Series<'p>),
}

/// A label as written: name and value, each still escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawLabel<'p> {
    /// Label name.
    pub name: EscapedStr<'p>,
    /// Label value.
    pub value: EscapedStr<'p>,
}

/// An exemplar as written (OpenMetrics).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawExemplar<'p> {
    /// The exemplar's labels, in input order.
    pub labels: &'p [RawLabel<'p>],
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
    /// The line of the sample it belongs to.
    pub line: u32,
}

impl RawExemplar<'_> {
    /// The exemplar's labels as a label set (unescaped, sorted, empty values dropped).
    ///
    /// Prometheus keeps exemplar label values as written, escapes and all; Ember
    /// unescapes them like every other label value.
    pub fn to_labels(&self) -> Result<Labels, Error> {
        let mut v = Vec::with_capacity(self.labels.len());
        for l in self.labels {
            v.push(Label {
                name: l.name.unescape().into_owned(),
                value: l.value.unescape().into_owned(),
            });
        }
        sorted_labels(v, self.line)
    }
}

/// A sample line, borrowing from the input and from the parser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'p> {
    /// The metric name (inside or outside the braces).
    pub name: EscapedStr<'p>,
    /// The labels other than the name, in input order; duplicates are kept.
    pub labels: &'p [RawLabel<'p>],
    /// The value; a NaN is always Prometheus's normal NaN, never the stale marker.
    pub value: f64,
    /// The timestamp in milliseconds, if given (OpenMetrics' seconds are converted).
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if given (OpenMetrics).
    pub exemplar: Option<RawExemplar<'p>>,
    /// The type of the last `# TYPE` line before this sample, whatever family it
    /// named: the type Prometheus applies to the sample (see [`to_labels`](Self::to_labels)).
    pub metric_type: MetricType,
    /// Name and labels exactly as written, e.g. as a cache key across scrapes.
    pub raw: &'p [u8],
    /// The line the sample starts on.
    pub line: u32,
}

impl Series<'_> {
    /// Whether this is an OpenMetrics `_created` series of a counter, summary or
    /// histogram, which carries the start time of the others rather than a value.
    /// Such series are still returned as samples (as Prometheus does by default), so
    /// nothing is lost; this tells a consumer which ones they are.
    pub fn is_created(&self) -> bool {
        self.metric_type.has_created() && self.name.raw().ends_with("_created")
    }

    /// The sample's label set as Prometheus builds it: `__name__` plus the labels,
    /// unescaped and sorted; `le` of a histogram and `quantile` of a summary rewritten
    /// in OpenMetrics float form (`1` becomes `1.0`), empty values dropped.
    ///
    /// Fails when a label name occurs twice (the scrape rejects such a sample).
    pub fn to_labels(&self) -> Result<Labels, Error> {
        let mut v = Vec::with_capacity(self.labels.len() + 1);
        v.push(Label {
            name: METRIC_NAME.to_owned(),
            value: self.name.unescape().into_owned(),
        });
        for l in self.labels {
            let name = l.name.unescape();
            let value = normalize_label_value(self.metric_type, &name, l.value.unescape());
            v.push(Label {
                name: name.into_owned(),
                value: value.into_owned(),
            });
        }
        sorted_labels(v, self.line)
    }
}

fn sorted_labels(mut v: Vec<Label>, line: u32) -> Result<Labels, Error> {
    v.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = v.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Error::DuplicateLabelName {
            pos: Position { line, column: 1 },
            name: quote(w[0].name.as_bytes()),
        });
    }
    v.retain(|l| !l.value.is_empty());
    Ok(Labels::from_sorted_unchecked(v))
}

/// Rewrites `le` (histograms) and `quantile` (summaries) values the way Prometheus's
/// parsers do, so that `le="1"` and `le="1.0"` are the same series.
pub(crate) fn normalize_label_value<'v>(
    mtype: MetricType,
    name: &str,
    value: Cow<'v, str>,
) -> Cow<'v, str> {
    let applies = (mtype == MetricType::Summary && name == "quantile")
        || (mtype == MetricType::Histogram && name == "le");
    if !applies {
        return value;
    }
    match parse_float(value.as_bytes()) {
        Ok(f) => {
            let s = om_float_string(f);
            if s == *value { value } else { Cow::Owned(s) }
        }
        Err(_) => value,
    }
}

/// Byte classes for the hand-written scanner.
const LABEL_START: u8 = 1; // [a-zA-Z_]
const LABEL_CHAR: u8 = 2; // [a-zA-Z0-9_]
const METRIC_START: u8 = 4; // [a-zA-Z_:]
const METRIC_CHAR: u8 = 8; // [a-zA-Z0-9_:]
const STRING_SPECIAL: u8 = 16; // bytes a quoted-string scan must stop at: " \ \n NUL
const VALUE_END: u8 = 32; // bytes that end a value token: space, tab, newline, {, NUL

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let mut k = 0;
        if alpha {
            k |= LABEL_START | LABEL_CHAR | METRIC_START | METRIC_CHAR;
        }
        if c.is_ascii_digit() {
            k |= LABEL_CHAR | METRIC_CHAR;
        }
        if c == b':' {
            k |= METRIC_START | METRIC_CHAR;
        }
        if c == b'"' || c == b'\\' || c == b'\n' || c == 0 {
            k |= STRING_SPECIAL;
        }
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'{' || c == 0 {
            k |= VALUE_END;
        }
        t[i] = k;
        i += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    CLASS[usize::from(c)]
}

/// The lexer state an error is reported in: it decides what "the next token" was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    TextStart,
    TextMeta,
    TextLabels,
    TextLabelValue,
    TextValue,
    TextTimestamp,
    OmStart,
    OmMeta,
    OmLabels,
    OmLabelValue,
    OmExemplar,
    OmExemplarValue,
    OmValue,
    OmTimestamp,
    OmExemplarTimestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyword {
    Help,
    Type,
    Unit,
}

impl Keyword {
    fn as_str(self) -> &'static str {
        match self {
            Keyword::Help => "HELP",
            Keyword::Type => "TYPE",
            Keyword::Unit => "UNIT",
        }
    }
}

/// A successfully scanned quoted string: closing quote index, whether it has a
/// backslash, how many newlines it spans.
struct Quoted {
    end: usize,
    escaped: bool,
    newlines: u32,
}

/// The entry last scanned, without the label buffers it refers to.
#[derive(Clone, Copy, Debug)]
enum Current<'a> {
    Help {
        name: EscapedStr<'a>,
        help: EscapedStr<'a>,
    },
    Type {
        name: EscapedStr<'a>,
        metric_type: MetricType,
    },
    Unit {
        name: EscapedStr<'a>,
        unit: &'a str,
    },
    Comment(&'a [u8]),
    Series(CurrentSeries<'a>),
}

#[derive(Clone, Copy, Debug)]
struct CurrentSeries<'a> {
    name: EscapedStr<'a>,
    value: f64,
    timestamp_ms: Option<i64>,
    exemplar: Option<(f64, Option<i64>)>,
    metric_type: MetricType,
    raw: &'a [u8],
    line: u32,
}

#[derive(Debug)]
enum State {
    Running,
    Done,
    Failed(Error),
}

/// A pull parser over one exposition in memory.
///
/// Call [`next_entry`](Self::next_entry) until it returns `Ok(None)` (end of input,
/// or `# EOF` in OpenMetrics). After an error it keeps returning that error.
/// Entries borrow the parser, as Prometheus's `Parser` invalidates its slices on
/// `Next`: copy out what you keep.
#[derive(Debug)]
pub struct Parser<'a> {
    b: &'a [u8],
    /// The whole input when it is valid UTF-8, which it nearly always is: slicing it
    /// then needs no further validation.
    s: Option<&'a str>,
    format: Format,
    pos: usize,
    line: u32,
    mtype: MetricType,
    labels: Vec<RawLabel<'a>>,
    ex_labels: Vec<RawLabel<'a>>,
    cur: Current<'a>,
    state: State,
}

impl<'a> Parser<'a> {
    /// A parser for `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Parser {
            b: input,
            s: std::str::from_utf8(input).ok(),
            format,
            pos: 0,
            line: 1,
            mtype: MetricType::Unknown,
            labels: Vec::with_capacity(16),
            ex_labels: Vec::new(),
            cur: Current::Comment(&[]),
            state: State::Running,
        }
    }

    /// A parser for the Prometheus text format 0.0.4.
    pub fn text(input: &'a [u8]) -> Self {
        Parser::new(input, Format::Text)
    }

    /// A parser for OpenMetrics 1.0 text.
    pub fn openmetrics(input: &'a [u8]) -> Self {
        Parser::new(input, Format::OpenMetrics)
    }

    /// The format being parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The next entry, `Ok(None)` at the end.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, Error> {
        match &self.state {
            State::Running => {}
            State::Done => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
        }
        let r = match self.format {
            Format::Text => self.next_text(),
            Format::OpenMetrics => self.next_om(),
        };
        match r {
            Ok(true) => Ok(Some(self.current())),
            Ok(false) => {
                self.state = State::Done;
                Ok(None)
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    // The scanners store the entry in `self.cur` rather than returning it, so that the
    // returned borrow of the label buffers is taken in one place.
    fn current(&self) -> Entry<'_> {
        match self.cur {
            Current::Help { name, help } => Entry::Help { name, help },
            Current::Type { name, metric_type } => Entry::Type { name, metric_type },
            Current::Unit { name, unit } => Entry::Unit { name, unit },
            Current::Comment(c) => Entry::Comment(c),
            Current::Series(s) => Entry::Series(Series {
                name: s.name,
                labels: &self.labels,
                value: s.value,
                timestamp_ms: s.timestamp_ms,
                exemplar: s.exemplar.map(|(value, timestamp_ms)| RawExemplar {
                    labels: &self.ex_labels,
                    value,
                    timestamp_ms,
                    line: s.line,
                }),
                metric_type: s.metric_type,
                raw: s.raw,
                line: s.line,
            }),
        }
    }
}

// Shared scanning helpers.
impl<'a> Parser<'a> {
    /// The byte at `i`. The text format reads as if a newline followed the input,
    /// as Prometheus appends one before lexing.
    #[inline]
    fn at(&self, i: usize) -> Option<u8> {
        match self.b.get(i) {
            Some(&c) => Some(c),
            None if i == self.b.len() && self.format == Format::Text => Some(b'\n'),
            None => None,
        }
    }

    /// The input's length, counting the text format's implied final newline.
    fn virtual_len(&self) -> usize {
        self.b.len() + usize::from(self.format == Format::Text)
    }

    /// Bytes `a..b` (clamped), including the implied newline, for messages.
    fn span(&self, a: usize, b: usize) -> Cow<'a, [u8]> {
        let b = b.min(self.virtual_len());
        let a = a.min(b);
        if b > self.b.len() {
            let mut v = self
                .b
                .get(a.min(self.b.len())..)
                .unwrap_or_default()
                .to_vec();
            v.push(b'\n');
            Cow::Owned(v)
        } else {
            Cow::Borrowed(self.bytes(a, b))
        }
    }

    /// Bytes `a..b` of the input; empty if out of range, which the scanners never ask.
    #[inline]
    fn bytes(&self, a: usize, b: usize) -> &'a [u8] {
        self.b.get(a..b).unwrap_or_default()
    }

    fn starts_with_at(&self, i: usize, pat: &[u8]) -> bool {
        self.b.get(i..).is_some_and(|r| r.starts_with(pat))
    }

    fn pos_of(&self, offset: usize) -> Position {
        Position::of(self.b, offset)
    }

    /// A token the scanner has checked to be ASCII (names).
    #[inline]
    fn ascii(&self, a: usize, b: usize) -> &'a str {
        match self.s {
            Some(s) => s.get(a..b).unwrap_or_default(),
            None => std::str::from_utf8(self.bytes(a, b)).unwrap_or_default(),
        }
    }

    /// Text `a..b` that must be UTF-8; `shown` is what the error quotes.
    #[inline]
    fn utf8(
        &self,
        a: usize,
        b: usize,
        what: &'static str,
        shown: (usize, usize),
    ) -> Result<&'a str, Error> {
        if let Some(s) = self.s
            && let Some(t) = s.get(a..b)
        {
            return Ok(t);
        }
        std::str::from_utf8(self.bytes(a, b)).map_err(|_| Error::InvalidUtf8 {
            pos: self.pos_of(shown.0),
            what,
            text: quote(&self.span(shown.0, shown.1)),
        })
    }

    #[inline]
    fn skip_blank(&self, mut i: usize) -> usize {
        while matches!(self.b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    }

    #[inline]
    fn scan_class(&self, mut i: usize, k: u8) -> usize {
        while let Some(&c) = self.b.get(i)
            && class(c) & k != 0
        {
            i += 1;
        }
        i
    }

    fn scan_metric_name(&self, i: usize) -> usize {
        self.scan_class(i, METRIC_CHAR)
    }

    fn scan_label_name(&self, i: usize) -> usize {
        self.scan_class(i, LABEL_CHAR)
    }

    /// End of a text-format value token: `[^{ \t\n]+` (NUL also ends it, as it
    /// stops Prometheus's lexer).
    #[inline]
    fn scan_text_value(&self, mut i: usize) -> usize {
        while let Some(&c) = self.b.get(i)
            && class(c) & VALUE_END == 0
        {
            i += 1;
        }
        i
    }

    /// End of an OpenMetrics field: `[^ \n]+`.
    #[inline]
    fn scan_om_run(&self, mut i: usize) -> usize {
        while let Some(&c) = self.b.get(i)
            && c != b' '
            && c != b'\n'
            && c != 0
        {
            i += 1;
        }
        i
    }

    fn scan_digits(&self, mut i: usize) -> usize {
        while self.b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    }

    /// Index of the newline ending the line that contains `from`, or the input length.
    fn find_eol(&self, from: usize) -> usize {
        let rest = self.b.get(from..).unwrap_or_default();
        from + rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
    }

    fn finish_line(&mut self, eol: usize) {
        self.pos = eol + 1;
        self.line += 1;
    }

    /// Scans the quoted string opening at `at`: `"(\\.|[^\\"])*"`, where `.` is not a
    /// newline. Raw newlines are allowed only where Prometheus's lexer allows them;
    /// NUL only in label values, where its lexer skips them. `Err` gives the index
    /// where the string stopped matching.
    fn scan_quoted(&self, at: usize, newline_ok: bool, nul_ok: bool) -> Result<Quoted, usize> {
        let mut i = at + 1;
        let mut escaped = false;
        let mut newlines = 0;
        loop {
            while let Some(&c) = self.b.get(i)
                && class(c) & STRING_SPECIAL == 0
            {
                i += 1;
            }
            match self.at(i) {
                None => return Err(i),
                Some(b'"') => {
                    return Ok(Quoted {
                        end: i,
                        escaped,
                        newlines,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    match self.at(i + 1) {
                        None | Some(b'\n') => return Err(i + 1),
                        Some(0) if !nul_ok => return Err(i + 1),
                        Some(_) => i += 2,
                    }
                }
                Some(b'\n') if newline_ok => {
                    newlines += 1;
                    i += 1;
                }
                Some(0) if nul_ok => i += 1,
                Some(_) => return Err(i),
            }
        }
    }

    /// What Prometheus's lexer would have seen at `at` in state `lex`: the token's
    /// name and where the quoted "got" text ends (the token plus one byte, as its
    /// messages show).
    fn describe(&self, at: usize, lex: Lex) -> (&'static str, usize) {
        let Some(c) = self.at(at) else {
            return ("EOF", at);
        };
        let one = at + 1;
        let tok = |name: &'static str, end: usize| (name, end + 1);
        match lex {
            Lex::TextLabels | Lex::OmLabels | Lex::OmExemplar => match c {
                c if class(c) & LABEL_START != 0 => tok("LNAME", self.scan_label_name(at)),
                b'"' => self.describe_quoted(at, "QSTRING", lex != Lex::OmExemplar, false),
                b'}' => tok("BCLOSE", one),
                b'=' => tok("EQUAL", one),
                b',' => tok("COMMA", one),
                _ => ("INVALID", one),
            },
            Lex::TextLabelValue | Lex::OmLabelValue => match c {
                b'"' => self.describe_quoted(at, "LVALUE", lex == Lex::TextLabelValue, true),
                _ => ("INVALID", one),
            },
            Lex::OmExemplarValue => match c {
                b'"' => self.describe_quoted(at, "LVALUE", false, false),
                b' ' => self.describe_run(at, "VALUE"),
                _ => ("INVALID", one),
            },
            Lex::TextValue => match c {
                b'{' => tok("BOPEN", one),
                c if class(c) & VALUE_END == 0 => tok("VALUE", self.scan_text_value(at)),
                _ => ("INVALID", one),
            },
            Lex::OmValue => match c {
                b'{' => tok("BOPEN", one),
                b' ' => self.describe_run(at, "VALUE"),
                _ => ("INVALID", one),
            },
            Lex::TextTimestamp => match c {
                b'0'..=b'9' => tok("TIMESTAMP", self.scan_digits(at)),
                b'\n' => tok("LINEBREAK", one),
                _ => ("INVALID", one),
            },
            Lex::OmTimestamp | Lex::OmExemplarTimestamp => match c {
                b' ' if lex == Lex::OmTimestamp && self.starts_with_at(at, b" # {") => {
                    tok("COMMENT", at + 4)
                }
                b' ' => self.describe_run(at, "TIMESTAMP"),
                b'\n' => tok("LINEBREAK", one),
                _ => ("INVALID", one),
            },
            Lex::TextMeta | Lex::OmMeta => match c {
                b'"' => self.describe_quoted(at, "MNAME", true, false),
                c if class(c) & METRIC_START != 0 => tok("MNAME", self.scan_metric_name(at)),
                _ => ("INVALID", one),
            },
            Lex::TextStart | Lex::OmStart => match c {
                b'{' => tok("BOPEN", one),
                b'\n' if lex == Lex::TextStart => tok("LINEBREAK", one),
                c if class(c) & METRIC_START != 0 => tok("MNAME", self.scan_metric_name(at)),
                _ => ("INVALID", one),
            },
        }
    }

    fn describe_quoted(
        &self,
        at: usize,
        name: &'static str,
        newline_ok: bool,
        nul_ok: bool,
    ) -> (&'static str, usize) {
        match self.scan_quoted(at, newline_ok, nul_ok) {
            Ok(q) => (name, q.end + 2),
            Err(fail) => ("INVALID", fail + 1),
        }
    }

    /// An OpenMetrics field: one space, then `[^ \n]+`.
    fn describe_run(&self, at: usize, name: &'static str) -> (&'static str, usize) {
        let end = self.scan_om_run(at + 1);
        if end > at + 1 {
            (name, end + 1)
        } else {
            ("INVALID", at + 2)
        }
    }

    /// A syntax error at `at` for the entry starting at `start`. At the end of the
    /// input Prometheus shows the previous token, which starts at `prev`.
    #[cold]
    fn unexpected(&self, start: usize, expected: &str, at: usize, lex: Lex, prev: usize) -> Error {
        let (token, got_end) = self.describe(at, lex);
        let (from, got_end) = if token == "EOF" {
            (prev, self.virtual_len())
        } else {
            (at, got_end)
        };
        Error::Unexpected {
            pos: self.pos_of(at),
            expected: expected.to_owned(),
            got: quote(&self.span(from, got_end)),
            token,
            context: quote(&self.span(start, got_end)),
        }
    }

    #[cold]
    fn num_error(
        &self,
        e: NumError,
        func: &'static str,
        start: usize,
        a: usize,
        b: usize,
    ) -> Error {
        match e {
            NumError::Unsupported => Error::UnsupportedFloat {
                pos: self.pos_of(a),
                context: quote(&self.span(start, b)),
            },
            NumError::Syntax | NumError::Range => Error::InvalidNumber {
                pos: self.pos_of(a),
                func,
                text: quote(self.bytes(a, b)),
                reason: e.reason(),
                context: quote(&self.span(start, b)),
            },
        }
    }

    /// The metric name of a `# HELP`/`# TYPE`/`# UNIT` line, starting at `k`.
    fn meta_name(
        &mut self,
        start: usize,
        kw: Keyword,
        k: usize,
        lex: Lex,
    ) -> Result<(EscapedStr<'a>, usize), Error> {
        match self.at(k) {
            Some(b'"') => {
                if let Ok(q) = self.scan_quoted(k, true, false) {
                    let raw = self.utf8(k + 1, q.end, "metric name", (k, q.end + 1))?;
                    self.line += q.newlines;
                    return Ok((EscapedStr::from_scan(raw, q.escaped), q.end + 1));
                }
            }
            Some(c) if class(c) & METRIC_START != 0 => {
                let e = self.scan_metric_name(k);
                return Ok((EscapedStr::plain(self.ascii(k, e)), e));
            }
            _ => {}
        }
        let expected = format!("expected metric name after {}", kw.as_str());
        Err(self.unexpected(start, &expected, k, lex, k))
    }
}

// The Prometheus text format (promlex.l, promparse.go).
impl<'a> Parser<'a> {
    fn next_text(&mut self) -> Result<bool, Error> {
        loop {
            let start = self.pos;
            let i = self.skip_blank(start);
            match self.b.get(i).copied() {
                None => {
                    self.pos = i;
                    return Ok(false);
                }
                Some(b'\n') => {
                    self.pos = i + 1;
                    self.line += 1;
                }
                // Prometheus's lexer reads a NUL at the start of a line as the end.
                Some(0) => return Ok(false),
                Some(b'#') => {
                    self.text_hash(start, i)?;
                    return Ok(true);
                }
                Some(c) if c == b'{' || class(c) & METRIC_START != 0 => {
                    self.text_series(start, i)?;
                    return Ok(true);
                }
                Some(_) => {
                    return Err(self.unexpected(
                        start,
                        "expected a valid start token",
                        i,
                        Lex::TextStart,
                        i,
                    ));
                }
            }
        }
    }

    /// A `#` line: `# HELP`, `# TYPE` (with any blanks around the keyword), or a
    /// comment.
    fn text_hash(&mut self, start: usize, i: usize) -> Result<(), Error> {
        if matches!(self.b.get(i + 1), Some(b' ' | b'\t')) {
            let k = self.skip_blank(i + 1);
            let kw = if self.starts_with_at(k, b"HELP") {
                Some(Keyword::Help)
            } else if self.starts_with_at(k, b"TYPE") {
                Some(Keyword::Type)
            } else {
                None
            };
            if let Some(kw) = kw
                && matches!(self.b.get(k + 4), Some(b' ' | b'\t'))
            {
                let k = self.skip_blank(k + 4);
                return self.text_meta(start, kw, k);
            }
        }
        let eol = self.find_eol(i);
        self.cur = Current::Comment(self.bytes(i, eol));
        self.finish_line(eol);
        Ok(())
    }

    fn text_meta(&mut self, start: usize, kw: Keyword, k: usize) -> Result<(), Error> {
        let (name, name_end) = self.meta_name(start, kw, k, Lex::TextMeta)?;
        let eol = self.find_eol(name_end);
        // Prometheus's lexer takes the rest of the line less its first byte, unless
        // the rest is all blanks.
        let rest = self.bytes(name_end, eol);
        let text_start = if rest.iter().all(|&c| c == b' ' || c == b'\t') {
            eol
        } else {
            name_end + 1
        };
        match kw {
            Keyword::Help => {
                let help = self.utf8(text_start, eol, "help text", (text_start, eol))?;
                self.cur = Current::Help {
                    name,
                    help: EscapedStr::new(help, Escaping::Help),
                };
            }
            Keyword::Type | Keyword::Unit => {
                let word = self.bytes(text_start, eol);
                let Some(metric_type) = MetricType::from_text(word) else {
                    return Err(Error::InvalidType {
                        pos: self.pos_of(text_start),
                        text: quote(word),
                    });
                };
                self.mtype = metric_type;
                self.cur = Current::Type { name, metric_type };
            }
        }
        self.finish_line(eol);
        Ok(())
    }

    fn text_series(&mut self, start: usize, i: usize) -> Result<(), Error> {
        self.labels.clear();
        self.ex_labels.clear();
        let line = self.line;
        let mut name = None;
        let mut j = i;
        let mut raw_end = i;
        if self.b.get(i) != Some(&b'{') {
            let e = self.scan_metric_name(i);
            name = Some(EscapedStr::plain(self.ascii(i, e)));
            raw_end = e;
            j = self.skip_blank(e);
        }
        if self.b.get(j) == Some(&b'{') {
            j = self.text_labels(start, j + 1, &mut name)?;
            raw_end = j;
            j = self.skip_blank(j);
        }
        let value_end = self.scan_text_value(j);
        let Some(name) = name else {
            return Err(Error::MetricNameNotSet {
                pos: self.pos_of(i),
                context: quote(&self.span(start, value_end.max(j + 1))),
            });
        };
        if value_end == j {
            return Err(self.unexpected(
                start,
                "expected value after metric",
                j,
                Lex::TextValue,
                j,
            ));
        }
        let value = parse_float(self.bytes(j, value_end))
            .map_err(|e| self.num_error(e, "ParseFloat", start, j, value_end))?;
        let t = self.skip_blank(value_end);
        let mut timestamp_ms = None;
        let mut end = t;
        match self.at(t) {
            None | Some(b'\n') => {}
            Some(c) if c.is_ascii_digit() => {
                let te = self.scan_digits(t);
                let ts = parse_int_timestamp(self.bytes(t, te))
                    .map_err(|e| self.num_error(e, "ParseInt", start, t, te))?;
                timestamp_ms = Some(ts);
                end = self.skip_blank(te);
                if !matches!(self.at(end), None | Some(b'\n')) {
                    return Err(self.unexpected(
                        start,
                        "expected next entry after timestamp",
                        end,
                        Lex::TextTimestamp,
                        end,
                    ));
                }
            }
            Some(_) => {
                return Err(self.unexpected(
                    start,
                    "expected timestamp or new record",
                    t,
                    Lex::TextTimestamp,
                    t,
                ));
            }
        }
        self.cur = Current::Series(CurrentSeries {
            name,
            value,
            timestamp_ms,
            exemplar: None,
            metric_type: self.mtype,
            raw: self.bytes(i, raw_end),
            line,
        });
        self.finish_line(end);
        Ok(())
    }

    /// Labels after `{` up to and including `}`; returns the index after `}`. Blanks
    /// may surround every token and the comma between pairs is optional, as in
    /// Prometheus's parser.
    fn text_labels(
        &mut self,
        start: usize,
        from: usize,
        name: &mut Option<EscapedStr<'a>>,
    ) -> Result<usize, Error> {
        let mut t = self.skip_blank(from);
        loop {
            let (quoted, label_name, after) = match self.b.get(t).copied() {
                Some(b'}') => return Ok(t + 1),
                Some(c) if class(c) & LABEL_START != 0 => {
                    let e = self.scan_label_name(t);
                    (false, EscapedStr::plain(self.ascii(t, e)), e)
                }
                Some(b'"') => match self.scan_quoted(t, true, false) {
                    Ok(q) => {
                        let raw = self.utf8(t + 1, q.end, "label name", (t, q.end + 1))?;
                        self.line += q.newlines;
                        (true, EscapedStr::from_scan(raw, q.escaped), q.end + 1)
                    }
                    Err(_) => {
                        return Err(self.unexpected(
                            start,
                            "expected label name",
                            t,
                            Lex::TextLabels,
                            t,
                        ));
                    }
                },
                _ => {
                    return Err(self.unexpected(
                        start,
                        "expected label name",
                        t,
                        Lex::TextLabels,
                        t,
                    ));
                }
            };
            t = self.skip_blank(after);
            let next = self.at(t);
            if quoted && matches!(next, Some(b',' | b'}')) {
                if name.is_some() {
                    return Err(Error::MetricNameAlreadySet {
                        pos: self.pos_of(after),
                        context: quote(&self.span(start, t + 1)),
                    });
                }
                *name = Some(label_name);
                if next == Some(b'}') {
                    return Ok(t + 1);
                }
                t = self.skip_blank(t + 1);
                continue;
            }
            if next != Some(b'=') {
                return Err(self.unexpected(start, "expected equal", t, Lex::TextLabels, t));
            }
            t = self.skip_blank(t + 1);
            let q = match self.b.get(t) {
                Some(b'"') => self.scan_quoted(t, true, true).ok(),
                _ => None,
            };
            let Some(q) = q else {
                return Err(self.unexpected(
                    start,
                    "expected label value",
                    t,
                    Lex::TextLabelValue,
                    t,
                ));
            };
            let value = self.utf8(t + 1, q.end, "label value", (t, q.end + 1))?;
            self.line += q.newlines;
            self.labels.push(RawLabel {
                name: label_name,
                value: EscapedStr::from_scan(value, q.escaped),
            });
            t = self.skip_blank(q.end + 1);
            if self.b.get(t) == Some(&b',') {
                t = self.skip_blank(t + 1);
            }
        }
    }
}

// OpenMetrics 1.0 (openmetricslex.l, openmetricsparse.go).
impl<'a> Parser<'a> {
    fn next_om(&mut self) -> Result<bool, Error> {
        let start = self.pos;
        match self.b.get(start).copied() {
            None => Err(Error::MissingEof {
                pos: self.pos_of(start),
            }),
            Some(b'#') => self.om_hash(start),
            Some(c) if c == b'{' || class(c) & METRIC_START != 0 => {
                self.om_series(start)?;
                Ok(true)
            }
            Some(_) => Err(self.unexpected(
                start,
                "expected a valid start token",
                start,
                Lex::OmStart,
                start,
            )),
        }
    }

    /// `# HELP`, `# TYPE`, `# UNIT` or `# EOF`; OpenMetrics has no other comments.
    fn om_hash(&mut self, start: usize) -> Result<bool, Error> {
        const WORDS: [&[u8]; 4] = [b"HELP ", b"TYPE ", b"UNIT ", b"EOF"];
        let fail = if self.b.get(start + 1) == Some(&b' ') {
            let body = self.b.get(start + 2..).unwrap_or_default();
            for (word, kw) in [Keyword::Help, Keyword::Type, Keyword::Unit]
                .into_iter()
                .enumerate()
                .filter_map(|(i, kw)| WORDS.get(i).map(|w| (*w, kw)))
            {
                if body.starts_with(word) {
                    self.om_meta(start, kw, start + 2 + word.len())?;
                    return Ok(true);
                }
            }
            if body.starts_with(b"EOF") {
                let mut end = start + 5;
                if self.b.get(end) == Some(&b'\n') {
                    end += 1;
                }
                if end < self.b.len() {
                    return Err(Error::DataAfterEof {
                        pos: self.pos_of(end),
                    });
                }
                self.pos = end;
                return Ok(false);
            }
            let matched = WORDS
                .iter()
                .map(|w| w.iter().zip(body).take_while(|(a, b)| a == b).count())
                .max()
                .unwrap_or(0);
            start + 2 + matched
        } else {
            start + 1
        };
        let got_end = (fail + 1).min(self.b.len());
        Err(Error::Unexpected {
            pos: self.pos_of(start),
            expected: "expected a valid start token".to_owned(),
            got: quote(self.bytes(start, got_end)),
            token: "INVALID",
            context: quote(self.bytes(start, got_end)),
        })
    }

    fn om_meta(&mut self, start: usize, kw: Keyword, k: usize) -> Result<(), Error> {
        let (name, name_end) = self.meta_name(start, kw, k, Lex::OmMeta)?;
        let text_start = name_end + 1;
        let eol = match self.b.get(name_end) {
            Some(b' ') => self
                .b
                .get(text_start..)
                .and_then(|r| r.iter().position(|&c| c == b'\n'))
                .map(|off| text_start + off),
            _ => None,
        };
        let Some(eol) = eol else {
            return Err(Error::MissingText {
                pos: self.pos_of(start),
                keyword: kw.as_str(),
            });
        };
        match kw {
            Keyword::Help => {
                let help = self.utf8(text_start, eol, "help text", (text_start, eol))?;
                self.cur = Current::Help {
                    name,
                    help: EscapedStr::new(help, Escaping::Quoted),
                };
            }
            Keyword::Type => {
                let word = self.bytes(text_start, eol);
                let Some(metric_type) = MetricType::from_openmetrics(word) else {
                    return Err(Error::InvalidType {
                        pos: self.pos_of(text_start),
                        text: quote(word),
                    });
                };
                self.mtype = metric_type;
                self.cur = Current::Type { name, metric_type };
            }
            Keyword::Unit => {
                let unit = self.utf8(text_start, eol, "unit", (text_start, eol))?;
                // Prometheus compares against the name as written; a quoted name's
                // escapes would make a valid unit fail, so compare unescaped.
                let metric = name.unescape();
                let suffix_ok = unit.is_empty()
                    || (metric.len() > unit.len()
                        && metric.ends_with(unit)
                        && metric.as_bytes().get(metric.len() - unit.len() - 1) == Some(&b'_'));
                if !suffix_ok {
                    return Err(Error::UnitNotSuffix {
                        pos: self.pos_of(text_start),
                        unit: quote(unit.as_bytes()),
                        metric: quote(metric.as_bytes()),
                    });
                }
                self.cur = Current::Unit { name, unit };
            }
        }
        self.finish_line(eol);
        Ok(())
    }

    fn om_series(&mut self, start: usize) -> Result<(), Error> {
        self.labels.clear();
        self.ex_labels.clear();
        let line = self.line;
        let mut name = None;
        let mut j = start;
        if self.b.get(start) != Some(&b'{') {
            j = self.scan_metric_name(start);
            name = Some(EscapedStr::plain(self.ascii(start, j)));
        }
        if self.b.get(j) == Some(&b'{') {
            j = self.om_labels(start, j + 1, &mut name, false)?;
        }
        let raw_end = j;
        let Some(name) = name else {
            let end = if self.b.get(j) == Some(&b' ') {
                self.scan_om_run(j + 1)
            } else {
                j
            };
            return Err(Error::MetricNameNotSet {
                pos: self.pos_of(start),
                context: quote(self.bytes(start, end)),
            });
        };
        let (value, value_end) =
            self.om_number(start, j, "expected value after metric", Lex::OmValue, start)?;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        let end = match self.b.get(value_end) {
            None => {
                return Err(Error::MissingEof {
                    pos: self.pos_of(value_end),
                });
            }
            Some(b'\n') => value_end,
            Some(b' ') if self.starts_with_at(value_end, b" # {") => {
                let (ex, e) = self.om_exemplar(start, value_end + 4)?;
                exemplar = Some(ex);
                e
            }
            Some(b' ') => {
                let ts_start = value_end + 1;
                let ts_end = self.scan_om_run(ts_start);
                if ts_end == ts_start {
                    return Err(self.unexpected(
                        start,
                        "expected timestamp or new record",
                        value_end,
                        Lex::OmTimestamp,
                        value_end,
                    ));
                }
                timestamp_ms = Some(self.om_timestamp(start, ts_start, ts_end, false)?);
                match self.b.get(ts_end) {
                    Some(b'\n') => ts_end,
                    Some(b' ') if self.starts_with_at(ts_end, b" # {") => {
                        let (ex, e) = self.om_exemplar(start, ts_end + 4)?;
                        exemplar = Some(ex);
                        e
                    }
                    _ => {
                        return Err(self.unexpected(
                            start,
                            "expected next entry after timestamp",
                            ts_end,
                            Lex::OmTimestamp,
                            value_end,
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(self.unexpected(
                    start,
                    "expected timestamp or new record",
                    value_end,
                    Lex::OmTimestamp,
                    value_end,
                ));
            }
        };
        self.cur = Current::Series(CurrentSeries {
            name,
            value,
            timestamp_ms,
            exemplar,
            metric_type: self.mtype,
            raw: self.bytes(start, raw_end),
            line,
        });
        self.finish_line(end);
        Ok(())
    }

    /// A number preceded by exactly one space, at `j`.
    fn om_number(
        &self,
        start: usize,
        j: usize,
        expected: &str,
        lex: Lex,
        prev: usize,
    ) -> Result<(f64, usize), Error> {
        if self.b.get(j) == Some(&b' ') {
            let a = j + 1;
            let b = self.scan_om_run(a);
            if b > a {
                let v = parse_float(self.bytes(a, b))
                    .map_err(|e| self.num_error(e, "ParseFloat", start, a, b))?;
                return Ok((v, b));
            }
        }
        Err(self.unexpected(start, expected, j, lex, prev))
    }

    fn om_timestamp(&self, start: usize, a: usize, b: usize, exemplar: bool) -> Result<i64, Error> {
        let text = self.bytes(a, b);
        let seconds =
            parse_float(text).map_err(|e| self.num_error(e, "ParseFloat", start, a, b))?;
        if !seconds.is_finite() {
            let value = if seconds.is_nan() {
                "NaN"
            } else if seconds > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(Error::InvalidTimestamp {
                pos: self.pos_of(a),
                value,
                exemplar,
            });
        }
        Ok(seconds_to_ms(text, seconds))
    }

    /// The exemplar after ` # {`; returns (value, timestamp) and the line's end.
    fn om_exemplar(
        &mut self,
        start: usize,
        from: usize,
    ) -> Result<((f64, Option<i64>), usize), Error> {
        let after = self.om_labels(start, from, &mut None, true)?;
        let (value, value_end) = self.om_number(
            start,
            after,
            "expected value after exemplar labels",
            Lex::OmExemplarValue,
            after.saturating_sub(1),
        )?;
        match self.b.get(value_end) {
            None => Err(Error::MissingEof {
                pos: self.pos_of(value_end),
            }),
            Some(b'\n') => Ok(((value, None), value_end)),
            Some(b' ') => {
                let ts_start = value_end + 1;
                let ts_end = self.scan_om_run(ts_start);
                if ts_end == ts_start {
                    return Err(self.unexpected(
                        start,
                        "expected timestamp or comment",
                        value_end,
                        Lex::OmExemplarTimestamp,
                        value_end,
                    ));
                }
                let ts = self.om_timestamp(start, ts_start, ts_end, true)?;
                if self.b.get(ts_end) != Some(&b'\n') {
                    return Err(self.unexpected(
                        start,
                        "expected next entry after exemplar timestamp",
                        ts_end,
                        Lex::OmExemplarTimestamp,
                        value_end,
                    ));
                }
                Ok(((value, Some(ts)), ts_end))
            }
            Some(_) => Err(self.unexpected(
                start,
                "expected timestamp or comment",
                value_end,
                Lex::OmExemplarTimestamp,
                value_end,
            )),
        }
    }

    /// Labels after `{` up to and including `}`, with no blanks and a comma between
    /// pairs; returns the index after `}`. Exemplar labels go to their own buffer and
    /// may not name a metric.
    fn om_labels(
        &mut self,
        start: usize,
        from: usize,
        name: &mut Option<EscapedStr<'a>>,
        exemplar: bool,
    ) -> Result<usize, Error> {
        let lex = if exemplar {
            Lex::OmExemplar
        } else {
            Lex::OmLabels
        };
        let mut t = from;
        loop {
            let (quoted, label_name, after) = match self.b.get(t).copied() {
                Some(b'}') => return Ok(t + 1),
                Some(c) if class(c) & LABEL_START != 0 => {
                    let e = self.scan_label_name(t);
                    (false, EscapedStr::plain(self.ascii(t, e)), e)
                }
                Some(b'"') => match self.scan_quoted(t, !exemplar, false) {
                    Ok(q) => {
                        let raw = self.utf8(t + 1, q.end, "label name", (t, q.end + 1))?;
                        self.line += q.newlines;
                        (true, EscapedStr::from_scan(raw, q.escaped), q.end + 1)
                    }
                    Err(_) => {
                        return Err(self.unexpected(start, "expected label name", t, lex, t));
                    }
                },
                _ => return Err(self.unexpected(start, "expected label name", t, lex, t)),
            };
            t = after;
            let next = self.b.get(t).copied();
            if quoted && matches!(next, Some(b',' | b'}')) {
                if exemplar {
                    return Err(self.unexpected(start, "expected label name", t, lex, t));
                }
                if name.is_some() {
                    return Err(Error::MetricNameAlreadySet {
                        pos: self.pos_of(after),
                        context: quote(self.bytes(start, t + 1)),
                    });
                }
                *name = Some(label_name);
                if next == Some(b'}') {
                    return Ok(t + 1);
                }
                t += 1;
                continue;
            }
            if next != Some(b'=') {
                return Err(self.unexpected(start, "expected equal", t, lex, t));
            }
            t += 1;
            let q = match self.b.get(t) {
                Some(b'"') => self.scan_quoted(t, false, !exemplar).ok(),
                _ => None,
            };
            let Some(q) = q else {
                let value_lex = if exemplar {
                    Lex::OmExemplarValue
                } else {
                    Lex::OmLabelValue
                };
                return Err(self.unexpected(start, "expected label value", t, value_lex, t));
            };
            let value = self.utf8(t + 1, q.end, "label value", (t, q.end + 1))?;
            let label = RawLabel {
                name: label_name,
                value: EscapedStr::from_scan(value, q.escaped),
            };
            if exemplar {
                self.ex_labels.push(label);
            } else {
                self.labels.push(label);
            }
            t = q.end + 1;
            match self.b.get(t) {
                Some(b',') => t += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.unexpected(start, "expected comma or brace close", t, lex, t));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
