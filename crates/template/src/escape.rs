//! html/template mode: contextual auto-escaping.
//!
//! Go's html/template rewrites the parse tree before the first execution, inferring the
//! HTML context of every action statically and rejecting templates whose branches end
//! in different contexts. This module tracks the same context *while executing*: the
//! literal template text is fed through Go's context transition rules, and each action's
//! value is escaped for the context the text so far leaves it in. For any template Go
//! accepts, the context at each action is the one Go infers, so the output is the same;
//! templates Go would reject for ambiguity are not rejected here.
//!
//! Handled contexts (Go's state names): HTML text, RCDATA (`<title>`, `<textarea>`),
//! inside a tag (attribute names), attribute values (quoted and unquoted), URL-valued
//! attributes (`href`, `src`, `action`, … and names containing `src`/`uri`/`url`) with
//! the scheme filter, normalizer and query escaper, JavaScript (`<script>`, `on*`
//! attributes) values, strings, template literals and regexps, CSS (`<style>`, `style`
//! attributes) values, strings and `url(…)`, and HTML/JS/CSS comments (elided from the
//! output, as Go does). `srcset` is treated as a URL. Not handled: JS template literal
//! interpolation (`${…}`), JS `<!--`/`-->` comments and hashbangs, CSS escape decoding,
//! and the static errors Go reports for templates ending in a non-text context.

use crate::funcs::{eval_args, html_escape, query_escape};
use crate::value::{ContentKind, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    Tag,
    AttrName,
    AfterName,
    BeforeValue,
    HtmlCmt,
    RcData,
    Attr,
    Url,
    Js,
    JsDqStr,
    JsSqStr,
    JsTmplLit,
    JsRegexp,
    JsBlockCmt,
    JsLineCmt,
    Css,
    CssDqStr,
    CssSqStr,
    CssDqUrl,
    CssSqUrl,
    CssUrl,
    CssBlockCmt,
    CssLineCmt,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Delim {
    #[default]
    None,
    DoubleQuote,
    SingleQuote,
    SpaceOrTagEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum UrlPart {
    #[default]
    None,
    PreQuery,
    QueryOrFrag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum JsCtx {
    #[default]
    Regexp,
    DivOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Attr {
    #[default]
    None,
    Script,
    ScriptType,
    Style,
    Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Element {
    #[default]
    None,
    Script,
    Style,
    Textarea,
    Title,
}

/// Where in an HTML document the output so far ends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Context {
    state: State,
    delim: Delim,
    url_part: UrlPart,
    js_ctx: JsCtx,
    attr: Attr,
    element: Element,
    err: Option<String>,
}

/// One escaping step applied to an action's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Esc {
    Html,
    Rcdata,
    Attr,
    NoSpace,
    NameFilter,
    Comment,
    UrlFilter,
    UrlNormalizer,
    UrlEscaper,
    JsVal,
    JsStr,
    JsTmplLit,
    JsRegexp,
    CssValue,
    CssEscaper,
    /// text/template's `html`, standing in for an equivalent escaper.
    PredefHtml,
    /// text/template's `urlquery`, standing in for an equivalent escaper.
    PredefUrlquery,
}

fn is_comment(s: State) -> bool {
    matches!(
        s,
        State::HtmlCmt
            | State::JsBlockCmt
            | State::JsLineCmt
            | State::CssBlockCmt
            | State::CssLineCmt
    )
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn eat_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

fn find_any(s: &[u8], set: &[u8]) -> Option<usize> {
    s.iter().position(|b| set.contains(b))
}

/// ASCII case-insensitive prefix test; `pat` is lower case.
fn starts_with_ci(s: &[u8], pat: &[u8]) -> bool {
    s.len() >= pat.len() && s[..pat.len()].eq_ignore_ascii_case(pat)
}

fn find(s: &[u8], pat: &[u8]) -> Option<usize> {
    s.windows(pat.len()).position(|w| w == pat)
}

impl Context {
    fn with_state(state: State) -> Context {
        Context {
            state,
            ..Context::default()
        }
    }

    fn error(msg: String) -> Context {
        Context {
            state: State::Error,
            err: Some(msg),
            ..Context::default()
        }
    }

    /// Writes template text, advancing the context. HTML, JS and CSS comments are left
    /// out and a `<` that starts no tag is written as `&lt;`, as Go's escaper does.
    pub(crate) fn write_text(&mut self, text: &str, out: &mut String) {
        let s = text.as_bytes();
        let mut c = std::mem::take(self);
        let (mut i, mut written) = (0usize, 0usize);
        let mut buf = String::new();
        while i < s.len() {
            let (c1, n) = after_text(&c, &s[i..]);
            let i1 = i + n;
            if c.state == State::Text || c.state == State::RcData {
                let mut end = i1;
                if c1.state != c.state
                    && let Some(j) = s[i..i1].iter().rposition(|&b| b == b'<')
                {
                    end = i + j;
                }
                for j in i..end {
                    if s[j] == b'<' && !starts_with_ci(&s[j..], b"<!doctype") {
                        buf.push_str(&text[written..j]);
                        buf.push_str("&lt;");
                        written = j + 1;
                    }
                }
            } else if is_comment(c.state) && c.delim == Delim::None {
                match c.state {
                    State::JsBlockCmt => buf.push(
                        if text[written..i1].contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
                            '\n'
                        } else {
                            ' '
                        },
                    ),
                    State::CssBlockCmt => buf.push(' '),
                    _ => {}
                }
                written = i1;
            }
            if c.state != c1.state && is_comment(c1.state) && c1.delim == Delim::None {
                // Keep what precedes the comment opener.
                let opener = if c1.state == State::HtmlCmt { 4 } else { 2 };
                let cs = i1.saturating_sub(opener).max(written);
                buf.push_str(&text[written..cs]);
                written = i1;
            }
            if n == 0 && c == c1 {
                // Cannot happen with the transitions below; never loop forever.
                break;
            }
            c = c1;
            i = i1;
        }
        if !(is_comment(c.state) && c.delim == Delim::None) {
            buf.push_str(&text[written..]);
        }
        out.push_str(&buf);
        *self = c;
    }

    /// Go's `nudge` plus `escapeAction`: the escapers for an action here, updating the
    /// context the way an action does.
    pub(crate) fn nudge(&mut self) -> Result<Vec<Esc>, String> {
        match self.state {
            State::Tag => self.state = State::AttrName,
            State::BeforeValue => {
                self.state = attr_start_state(self.attr);
                self.delim = Delim::SpaceOrTagEnd;
                self.attr = Attr::None;
            }
            State::AfterName => {
                self.state = State::AttrName;
                self.attr = Attr::None;
            }
            _ => {}
        }
        let mut s = Vec::new();
        match self.state {
            State::Error => {
                return Err(self
                    .err
                    .clone()
                    .unwrap_or_else(|| "action in an unparsable HTML context".into()));
            }
            State::Url
            | State::CssDqStr
            | State::CssSqStr
            | State::CssDqUrl
            | State::CssSqUrl
            | State::CssUrl => match self.url_part {
                UrlPart::None | UrlPart::PreQuery => {
                    if self.url_part == UrlPart::None {
                        s.push(Esc::UrlFilter);
                    }
                    if matches!(self.state, State::CssDqStr | State::CssSqStr) {
                        s.push(Esc::CssEscaper);
                    } else {
                        s.push(Esc::UrlNormalizer);
                    }
                }
                UrlPart::QueryOrFrag => s.push(Esc::UrlEscaper),
            },
            State::Js => {
                s.push(Esc::JsVal);
                // A slash after a value starts a division.
                self.js_ctx = JsCtx::DivOp;
            }
            State::JsDqStr | State::JsSqStr => s.push(Esc::JsStr),
            State::JsTmplLit => s.push(Esc::JsTmplLit),
            State::JsRegexp => s.push(Esc::JsRegexp),
            State::Css => s.push(Esc::CssValue),
            State::Text => s.push(Esc::Html),
            State::RcData => s.push(Esc::Rcdata),
            State::Attr => {}
            State::AttrName | State::Tag => {
                self.state = State::AttrName;
                s.push(Esc::NameFilter);
            }
            State::HtmlCmt
            | State::JsBlockCmt
            | State::JsLineCmt
            | State::CssBlockCmt
            | State::CssLineCmt => s.push(Esc::Comment),
            State::AfterName | State::BeforeValue => {}
        }
        match self.delim {
            Delim::None => {}
            Delim::SpaceOrTagEnd => s.push(Esc::NoSpace),
            _ => s.push(Esc::Attr),
        }
        Ok(s)
    }
}

/// Go's `ensurePipelineContains` for a pipeline ending in `html` or `urlquery`: the
/// predefined escaper replaces its equivalents. Returns whether it did (then the
/// pipeline's own call is dropped).
pub(crate) fn merge_predefined(escs: &mut [Esc], name: &str) -> bool {
    let mut dup = false;
    for e in escs.iter_mut() {
        let equivalent = match name {
            "html" => matches!(e, Esc::Html | Esc::Attr | Esc::Rcdata),
            _ => matches!(e, Esc::UrlEscaper | Esc::UrlNormalizer),
        };
        if equivalent {
            *e = if name == "html" {
                Esc::PredefHtml
            } else {
                Esc::PredefUrlquery
            };
            dup = true;
        }
    }
    dup
}

fn attr_start_state(a: Attr) -> State {
    match a {
        Attr::None | Attr::ScriptType => State::Attr,
        Attr::Script => State::Js,
        Attr::Style => State::Css,
        Attr::Url => State::Url,
    }
}

fn element_content(e: Element) -> State {
    match e {
        Element::None => State::Text,
        Element::Script => State::Js,
        Element::Style => State::Css,
        Element::Textarea | Element::Title => State::RcData,
    }
}

/// Go's `contextAfterText`: consumes a prefix of `s`, returning the new context and
/// the number of bytes consumed.
fn after_text(c: &Context, s: &[u8]) -> (Context, usize) {
    if c.delim == Delim::None {
        let (c1, i) = special_tag_end(c, s);
        if i == 0 {
            return (c1, 0);
        }
        return transition(c, &s[..i]);
    }
    // Inside an attribute value: find its end.
    let ends: &[u8] = match c.delim {
        Delim::DoubleQuote => b"\"",
        Delim::SingleQuote => b"'",
        _ => b"\t\n\x0c\r >",
    };
    let i = find_any(s, ends).unwrap_or(s.len());
    if c.delim == Delim::SpaceOrTagEnd
        && let Some(j) = find_any(&s[..i], b"\"'<=`")
    {
        return (
            Context::error(format!(
                "{:?} in unquoted attr: {:?}",
                s[j] as char,
                String::from_utf8_lossy(&s[..i])
            )),
            s.len(),
        );
    }
    if i == s.len() {
        // Still inside the value: run the value's rules over its decoded text.
        let decoded = html_unescape(&String::from_utf8_lossy(s));
        let mut u = decoded.as_bytes();
        let mut c = c.clone();
        while !u.is_empty() {
            let (c1, n) = transition(&c, u);
            if n == 0 && c1 == c {
                break;
            }
            c = c1;
            u = &u[n..];
        }
        return (c, s.len());
    }
    let mut element = c.element;
    if c.state == State::Attr
        && c.element == Element::Script
        && c.attr == Attr::ScriptType
        && !is_js_type(&String::from_utf8_lossy(&s[..i]))
    {
        element = Element::None;
    }
    let consumed = if c.delim == Delim::SpaceOrTagEnd {
        i
    } else {
        i + 1
    };
    (
        Context {
            state: State::Tag,
            element,
            ..Context::default()
        },
        consumed,
    )
}

fn is_js_type(mime: &str) -> bool {
    let m = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        m.as_str(),
        "application/ecmascript"
            | "application/javascript"
            | "application/json"
            | "application/ld+json"
            | "application/x-ecmascript"
            | "application/x-javascript"
            | "module"
            | "text/ecmascript"
            | "text/javascript"
            | "text/javascript1.0"
            | "text/javascript1.1"
            | "text/javascript1.2"
            | "text/javascript1.3"
            | "text/javascript1.4"
            | "text/javascript1.5"
            | "text/jscript"
            | "text/livescript"
            | "text/x-ecmascript"
            | "text/x-javascript"
    )
}

/// Finds the end tag of a raw-text element (`</script`), unless inside a JS literal.
fn special_tag_end(c: &Context, s: &[u8]) -> (Context, usize) {
    if c.element != Element::None {
        if c.element == Element::Script
            && (matches!(
                c.state,
                State::JsDqStr | State::JsSqStr | State::JsTmplLit | State::JsRegexp
            ) || is_comment(c.state))
        {
            return (c.clone(), s.len());
        }
        let tag: &[u8] = match c.element {
            Element::Script => b"script",
            Element::Style => b"style",
            Element::Textarea => b"textarea",
            Element::Title => b"title",
            Element::None => b"",
        };
        let mut k = 0;
        while let Some(off) = find(&s[k..], b"</") {
            let i = k + off;
            let after = &s[i + 2..];
            if starts_with_ci(after, tag) {
                match after.get(tag.len()) {
                    None => return (Context::default(), i),
                    Some(&b) if is_space(b) || b == b'>' || b == b'/' => {
                        return (Context::default(), i);
                    }
                    _ => {}
                }
            }
            k = i + 2;
        }
    }
    (c.clone(), s.len())
}

fn transition(c: &Context, s: &[u8]) -> (Context, usize) {
    match c.state {
        State::Text => t_text(c, s),
        State::Tag => t_tag(c, s),
        State::AttrName => {
            let i = eat_attr_name(s, 0);
            let mut c = c.clone();
            if i != s.len() {
                c.state = State::AfterName;
            }
            (c, i)
        }
        State::AfterName => {
            let i = eat_space(s, 0);
            let mut c = c.clone();
            if i == s.len() {
                return (c, s.len());
            }
            if s[i] != b'=' {
                // A valueless attribute, or the tag's end.
                c.state = State::Tag;
                return (c, i);
            }
            c.state = State::BeforeValue;
            (c, i + 1)
        }
        State::BeforeValue => {
            let mut i = eat_space(s, 0);
            let mut c = c.clone();
            if i == s.len() {
                return (c, s.len());
            }
            let mut delim = Delim::SpaceOrTagEnd;
            match s[i] {
                b'\'' => {
                    delim = Delim::SingleQuote;
                    i += 1;
                }
                b'"' => {
                    delim = Delim::DoubleQuote;
                    i += 1;
                }
                _ => {}
            }
            c.state = attr_start_state(c.attr);
            c.delim = delim;
            (c, i)
        }
        State::HtmlCmt => match find(s, b"-->") {
            Some(i) => (Context::default(), i + 3),
            None => (c.clone(), s.len()),
        },
        State::RcData | State::Attr | State::Error => (c.clone(), s.len()),
        State::Url => {
            let mut c = c.clone();
            if find_any(s, b"#?").is_some() {
                c.url_part = UrlPart::QueryOrFrag;
            } else if eat_space(s, 0) != s.len() && c.url_part == UrlPart::None {
                c.url_part = UrlPart::PreQuery;
            }
            (c, s.len())
        }
        State::Js => t_js(c, s),
        State::JsDqStr | State::JsSqStr | State::JsTmplLit | State::JsRegexp => {
            t_js_delimited(c, s)
        }
        State::JsBlockCmt | State::CssBlockCmt => match find(s, b"*/") {
            Some(i) => {
                let mut c = c.clone();
                c.state = if c.state == State::JsBlockCmt {
                    State::Js
                } else {
                    State::Css
                };
                (c, i + 2)
            }
            None => (c.clone(), s.len()),
        },
        State::JsLineCmt | State::CssLineCmt => {
            let (ends, end_state): (&[u8], State) = if c.state == State::JsLineCmt {
                (b"\n\r", State::Js)
            } else {
                (b"\n\x0c\r", State::Css)
            };
            // U+2028/U+2029 also end JS line comments.
            let uni = if c.state == State::JsLineCmt {
                find(s, "\u{2028}".as_bytes())
                    .into_iter()
                    .chain(find(s, "\u{2029}".as_bytes()))
                    .min()
            } else {
                None
            };
            match find_any(s, ends).into_iter().chain(uni).min() {
                Some(i) => {
                    let mut c = c.clone();
                    c.state = end_state;
                    (c, i)
                }
                None => (c.clone(), s.len()),
            }
        }
        State::Css => t_css(c, s),
        State::CssDqStr | State::CssSqStr | State::CssDqUrl | State::CssSqUrl | State::CssUrl => {
            t_css_str(c, s)
        }
    }
}

fn t_text(c: &Context, s: &[u8]) -> (Context, usize) {
    let mut k = 0;
    loop {
        let Some(off) = s[k..].iter().position(|&b| b == b'<') else {
            return (c.clone(), s.len());
        };
        let mut i = k + off;
        if i + 1 == s.len() {
            return (c.clone(), s.len());
        }
        if s[i..].starts_with(b"<!--") {
            return (Context::with_state(State::HtmlCmt), i + 4);
        }
        i += 1;
        let mut end = false;
        if s[i] == b'/' {
            if i + 1 == s.len() {
                return (c.clone(), s.len());
            }
            end = true;
            i += 1;
        }
        let (j, e) = eat_tag_name(s, i);
        if j != i {
            return (
                Context {
                    state: State::Tag,
                    element: if end { Element::None } else { e },
                    ..Context::default()
                },
                j,
            );
        }
        k = j;
    }
}

fn eat_tag_name(s: &[u8], i: usize) -> (usize, Element) {
    let mut j = i;
    while j < s.len() {
        let x = s[j];
        if !(x.is_ascii_alphabetic()
            || (x.is_ascii_digit() && j != i)
            || (j != i && (x == b':' || x == b'-')))
        {
            break;
        }
        j += 1;
    }
    let e = match s[i..j].to_ascii_lowercase().as_slice() {
        b"script" => Element::Script,
        b"style" => Element::Style,
        b"textarea" => Element::Textarea,
        b"title" => Element::Title,
        _ => Element::None,
    };
    (j, e)
}

fn eat_attr_name(s: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < s.len() {
        if is_space(s[j]) || s[j] == b'=' || s[j] == b'>' {
            return j;
        }
        j += 1;
    }
    s.len()
}

fn t_tag(c: &Context, s: &[u8]) -> (Context, usize) {
    let i = eat_space(s, 0);
    if i == s.len() {
        return (c.clone(), s.len());
    }
    if s[i] == b'>' {
        return (
            Context {
                state: element_content(c.element),
                element: c.element,
                ..Context::default()
            },
            i + 1,
        );
    }
    if let Some(bad) = s[i..]
        .iter()
        .take_while(|&&b| !is_space(b) && b != b'=' && b != b'>')
        .find(|&&b| matches!(b, b'"' | b'\'' | b'<'))
    {
        return (
            Context::error(format!(
                "{:?} in attribute name: {:?}",
                *bad as char,
                String::from_utf8_lossy(&s[i..])
            )),
            s.len(),
        );
    }
    let j = eat_attr_name(s, i);
    if i == j {
        return (
            Context::error(format!(
                "expected space, attr name, or end of tag, but got {:?}",
                String::from_utf8_lossy(&s[i..])
            )),
            s.len(),
        );
    }
    let name = String::from_utf8_lossy(&s[i..j]).to_ascii_lowercase();
    let attr = if c.element == Element::Script && name == "type" {
        Attr::ScriptType
    } else {
        attr_type(&name)
    };
    let state = if j == s.len() {
        State::AttrName
    } else {
        State::AfterName
    };
    (
        Context {
            state,
            element: c.element,
            attr,
            ..Context::default()
        },
        j,
    )
}

/// Go's `attrType`: what an attribute's value holds, by name.
fn attr_type(name: &str) -> Attr {
    let mut name = name;
    if let Some(rest) = name.strip_prefix("data-") {
        name = rest;
    } else if let Some((prefix, short)) = name.split_once(':') {
        if prefix == "xmlns" {
            return Attr::Url;
        }
        name = short;
    }
    match name {
        "action" | "archive" | "background" | "cite" | "classid" | "codebase" | "data"
        | "formaction" | "href" | "icon" | "longdesc" | "manifest" | "poster" | "profile"
        | "src" | "srcset" | "usemap" | "xmlns" => return Attr::Url,
        "style" => return Attr::Style,
        // Plain attributes that the heuristics below would misfile.
        "accept" | "accept-charset" | "align" | "alt" | "autocomplete" | "autofocus"
        | "checked" | "class" | "cols" | "colspan" | "content" | "contenteditable" | "dir"
        | "disabled" | "for" | "height" | "hidden" | "id" | "label" | "lang" | "list" | "max"
        | "method" | "min" | "name" | "open" | "pattern" | "placeholder" | "rel" | "rows"
        | "rowspan" | "selected" | "size" | "span" | "tabindex" | "target" | "title" | "type"
        | "value" | "width" => return Attr::None,
        _ => {}
    }
    if name.starts_with("on") {
        return Attr::Script;
    }
    if name.contains("src") || name.contains("uri") || name.contains("url") {
        return Attr::Url;
    }
    Attr::None
}

fn t_js(c: &Context, s: &[u8]) -> (Context, usize) {
    let mut c = c.clone();
    let Some(i) = find_any(s, b"\"`'/") else {
        c.js_ctx = next_js_ctx(s, c.js_ctx);
        return (c, s.len());
    };
    c.js_ctx = next_js_ctx(&s[..i], c.js_ctx);
    let mut i = i;
    match s[i] {
        b'"' => (c.state, c.js_ctx) = (State::JsDqStr, JsCtx::Regexp),
        b'\'' => (c.state, c.js_ctx) = (State::JsSqStr, JsCtx::Regexp),
        b'`' => (c.state, c.js_ctx) = (State::JsTmplLit, JsCtx::Regexp),
        _ => {
            if s.get(i + 1) == Some(&b'/') {
                c.state = State::JsLineCmt;
                i += 1;
            } else if s.get(i + 1) == Some(&b'*') {
                c.state = State::JsBlockCmt;
                i += 1;
            } else if c.js_ctx == JsCtx::Regexp {
                c.state = State::JsRegexp;
            } else {
                c.js_ctx = JsCtx::Regexp;
            }
        }
    }
    (c, i + 1)
}

/// Go's `nextJSCtx`: whether a `/` after `s` starts a regexp or is a division.
fn next_js_ctx(s: &[u8], preceding: JsCtx) -> JsCtx {
    let mut n = s.len();
    while n > 0 && matches!(s[n - 1], b'\t' | b'\n' | b'\x0c' | b'\r' | b' ') {
        n -= 1;
    }
    if n == 0 {
        return preceding;
    }
    let s = &s[..n];
    match s[n - 1] {
        c @ (b'+' | b'-') => {
            let mut start = n - 1;
            while start > 0 && s[start - 1] == c {
                start -= 1;
            }
            if (n - start) & 1 == 1 {
                JsCtx::Regexp
            } else {
                JsCtx::DivOp
            }
        }
        b'.' => {
            if n != 1 && s[n - 2].is_ascii_digit() {
                JsCtx::DivOp
            } else {
                JsCtx::Regexp
            }
        }
        b',' | b'<' | b'>' | b'=' | b'*' | b'%' | b'&' | b'|' | b'^' | b'?' | b'!' | b'~'
        | b'(' | b'[' | b':' | b';' | b'{' | b'}' => JsCtx::Regexp,
        _ => {
            let mut j = n;
            while j > 0
                && (s[j - 1].is_ascii_alphanumeric() || s[j - 1] == b'_' || s[j - 1] == b'$')
            {
                j -= 1;
            }
            match &s[j..] {
                b"break" | b"case" | b"continue" | b"delete" | b"do" | b"else" | b"finally"
                | b"in" | b"instanceof" | b"return" | b"throw" | b"try" | b"typeof" | b"void" => {
                    JsCtx::Regexp
                }
                _ => JsCtx::DivOp,
            }
        }
    }
}

fn t_js_delimited(c: &Context, s: &[u8]) -> (Context, usize) {
    let specials: &[u8] = match c.state {
        State::JsSqStr => b"\\'",
        State::JsTmplLit => b"`\\",
        State::JsRegexp => b"\\/[]",
        _ => b"\\\"",
    };
    let mut c = c.clone();
    let (mut k, mut in_charset) = (0, false);
    while let Some(off) = find_any(&s[k..], specials) {
        let mut i = k + off;
        match s[i] {
            b'\\' => {
                i += 1;
                if i == s.len() {
                    return (
                        Context::error(format!(
                            "unfinished escape sequence in JS string: {:?}",
                            String::from_utf8_lossy(s)
                        )),
                        s.len(),
                    );
                }
            }
            b'[' => in_charset = true,
            b']' => in_charset = false,
            _ => {
                if !in_charset {
                    c.state = State::Js;
                    c.js_ctx = JsCtx::DivOp;
                    return (c, i + 1);
                }
            }
        }
        k = i + 1;
    }
    if in_charset {
        return (
            Context::error(format!(
                "unfinished JS regexp charset: {:?}",
                String::from_utf8_lossy(s)
            )),
            s.len(),
        );
    }
    (c, s.len())
}

fn t_css(c: &Context, s: &[u8]) -> (Context, usize) {
    let mut c = c.clone();
    let mut k = 0;
    while let Some(off) = find_any(&s[k..], b"(\"'/") {
        let i = k + off;
        match s[i] {
            b'(' => {
                let mut p = i;
                while p > 0 && is_space(s[p - 1]) {
                    p -= 1;
                }
                if s[..p].to_ascii_lowercase().ends_with(b"url") {
                    let j = eat_space(s, i + 1);
                    c.url_part = UrlPart::None;
                    return match s.get(j) {
                        Some(b'"') => {
                            c.state = State::CssDqUrl;
                            (c, j + 1)
                        }
                        Some(b'\'') => {
                            c.state = State::CssSqUrl;
                            (c, j + 1)
                        }
                        _ => {
                            c.state = State::CssUrl;
                            (c, j)
                        }
                    };
                }
            }
            b'/' => match s.get(i + 1) {
                Some(b'/') => {
                    c.state = State::CssLineCmt;
                    return (c, i + 2);
                }
                Some(b'*') => {
                    c.state = State::CssBlockCmt;
                    return (c, i + 2);
                }
                _ => {}
            },
            b'"' => {
                c.state = State::CssDqStr;
                c.url_part = UrlPart::None;
                return (c, i + 1);
            }
            _ => {
                c.state = State::CssSqStr;
                c.url_part = UrlPart::None;
                return (c, i + 1);
            }
        }
        k = i + 1;
    }
    (c, s.len())
}

fn t_css_str(c: &Context, s: &[u8]) -> (Context, usize) {
    let ends: &[u8] = match c.state {
        State::CssDqStr | State::CssDqUrl => b"\\\"",
        State::CssSqStr | State::CssSqUrl => b"\\'",
        _ => b"\\\t\n\x0c\r )",
    };
    let mut c = c.clone();
    let mut k = 0;
    loop {
        let Some(off) = find_any(&s[k..], ends) else {
            let (c1, n) = transition(
                &Context {
                    state: State::Url,
                    ..c.clone()
                },
                &s[k..],
            );
            c.url_part = c1.url_part;
            return (c, k + n);
        };
        let mut i = k + off;
        if s[i] == b'\\' {
            i += 1;
            if i == s.len() {
                return (
                    Context::error(format!(
                        "unfinished escape sequence in CSS string: {:?}",
                        String::from_utf8_lossy(s)
                    )),
                    s.len(),
                );
            }
        } else {
            c.state = State::Css;
            return (c, i + 1);
        }
        let (c1, _) = transition(
            &Context {
                state: State::Url,
                ..c.clone()
            },
            &s[..=i],
        );
        c.url_part = c1.url_part;
        k = i + 1;
    }
}

/// Decodes the character references that matter for context tracking.
fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..semi];
        let decoded = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Go's `stringify`: the text of a value and, for trusted content, its kind. Nil and
/// missing values are empty (Go skips untyped nil arguments here).
fn stringify(v: &Value) -> (String, Option<ContentKind>) {
    match v {
        Value::Safe(k, s) => (s.clone(), Some(*k)),
        Value::String(s) => (s.clone(), None),
        Value::Nil | Value::NoValue => (String::new(), None),
        v => (v.to_string(), None),
    }
}

const FAILSAFE: &str = "ZgotmplZ";

/// Applies escapers in order; only the first sees the value's content kind, later ones
/// get the plain string the previous one returned.
pub(crate) fn apply(escs: &[Esc], v: &Value) -> String {
    let (mut s, mut kind) = stringify(v);
    if escs.is_empty() {
        return s;
    }
    for (i, e) in escs.iter().enumerate() {
        s = match e {
            Esc::PredefHtml => html_escape(&if i == 0 {
                eval_args(std::slice::from_ref(v))
            } else {
                s
            }),
            Esc::PredefUrlquery => query_escape(&if i == 0 {
                eval_args(std::slice::from_ref(v))
            } else {
                s
            }),
            // The JS value escaper encodes the value itself (numbers stay numbers).
            Esc::JsVal if i == 0 && !matches!(v, Value::Safe(..)) => js_val(v),
            _ => escape_one(*e, &s, kind),
        };
        kind = None;
    }
    s
}

fn escape_one(e: Esc, s: &str, kind: Option<ContentKind>) -> String {
    use ContentKind as K;
    match e {
        Esc::Html => {
            if kind == Some(K::Html) {
                s.to_string()
            } else {
                html_replace(s, false, false)
            }
        }
        Esc::Rcdata => html_replace(s, kind == Some(K::Html), false),
        Esc::Attr => {
            if kind == Some(K::Html) {
                html_replace(&strip_tags(s), true, false)
            } else {
                html_replace(s, false, false)
            }
        }
        Esc::NoSpace => {
            let out = if kind == Some(K::Html) {
                html_replace(&strip_tags(s), true, true)
            } else {
                html_replace(s, false, true)
            };
            if out.is_empty() {
                FAILSAFE.to_string()
            } else {
                out
            }
        }
        Esc::NameFilter => {
            if kind == Some(K::HtmlAttr) {
                return s.to_string();
            }
            let lower = s.to_ascii_lowercase();
            if lower.is_empty()
                || attr_type(&lower) != Attr::None
                || !lower
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return FAILSAFE.to_string();
            }
            lower
        }
        Esc::Comment => String::new(),
        Esc::UrlFilter => {
            if kind == Some(K::Url) || is_safe_url(s) {
                s.to_string()
            } else {
                format!("#{FAILSAFE}")
            }
        }
        Esc::UrlNormalizer => process_url(s, true),
        Esc::UrlEscaper => process_url(s, kind == Some(K::Url)),
        Esc::JsVal => match kind {
            Some(K::Js) => s.to_string(),
            Some(K::JsStr) => format!("\"{s}\""),
            _ => js_val(&Value::String(s.to_string())),
        },
        Esc::JsStr => js_str(s, kind == Some(K::JsStr), false),
        Esc::JsTmplLit => js_str(s, false, true),
        Esc::JsRegexp => {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '$' | '(' | ')' | '*' | '-' | '.' | '/' | '?' | '[' | '\\' | ']' | '^'
                    | '{' | '|' | '}' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => push_js_char(&mut out, c, false),
                }
            }
            if out.is_empty() { "(?:)".into() } else { out }
        }
        Esc::CssValue => {
            if kind == Some(K::Css) {
                return s.to_string();
            }
            let b = s.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                match c {
                    0 | b'"' | b'\'' | b'(' | b')' | b'/' | b';' | b'@' | b'[' | b'\\' | b']'
                    | b'`' | b'{' | b'}' | b'<' | b'>' => return FAILSAFE.into(),
                    b'-' if i != 0 && b[i - 1] == b'-' => return FAILSAFE.into(),
                    _ => {}
                }
            }
            let id: String = s
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
                .to_ascii_lowercase();
            if id.contains("expression") || id.contains("mozbinding") {
                return FAILSAFE.into();
            }
            s.to_string()
        }
        Esc::CssEscaper => {
            let mut out = String::new();
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                let rep = match c {
                    '\0' => Some("\\0"),
                    '\t' => Some("\\9"),
                    '\n' => Some("\\a"),
                    '\x0c' => Some("\\c"),
                    '\r' => Some("\\d"),
                    '"' => Some("\\22"),
                    '&' => Some("\\26"),
                    '\'' => Some("\\27"),
                    '(' => Some("\\28"),
                    ')' => Some("\\29"),
                    '+' => Some("\\2b"),
                    '/' => Some("\\2f"),
                    ':' => Some("\\3a"),
                    ';' => Some("\\3b"),
                    '<' => Some("\\3c"),
                    '>' => Some("\\3e"),
                    '\\' => Some("\\\\"),
                    '{' => Some("\\7b"),
                    '}' => Some("\\7d"),
                    _ => None,
                };
                match rep {
                    Some(r) => {
                        out.push_str(r);
                        // A hex escape swallows a following hex digit or space; separate.
                        if r != "\\\\"
                            && chars
                                .peek()
                                .is_some_and(|n| n.is_ascii_hexdigit() || *n == ' ')
                        {
                            out.push(' ');
                        }
                    }
                    None => out.push(c),
                }
            }
            out
        }
        Esc::PredefHtml | Esc::PredefUrlquery => s.to_string(),
    }
}

/// Go's html replacement tables: `norm` leaves `&` alone (for already-HTML content),
/// `nospace` also escapes what would end an unquoted attribute.
fn html_replace(s: &str, norm: bool, nospace: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let rep = match c {
            '\0' => {
                if nospace {
                    "&#xfffd;"
                } else {
                    "\u{FFFD}"
                }
            }
            '"' => "&#34;",
            '&' if !norm => "&amp;",
            '\'' => "&#39;",
            '+' => "&#43;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\t' if nospace => "&#9;",
            '\n' if nospace => "&#10;",
            '\x0b' if nospace => "&#11;",
            '\x0c' if nospace => "&#12;",
            '\r' if nospace => "&#13;",
            ' ' if nospace => "&#32;",
            '=' if nospace => "&#61;",
            '`' if nospace => "&#96;",
            c => {
                out.push(c);
                continue;
            }
        };
        out.push_str(rep);
    }
    out
}

/// Removes tags from HTML content placed in an attribute (a simplification of Go's
/// `stripTags`, which runs the full context machine).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut c = Context::default();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (c1, n) = after_text(&c, &b[i..]);
        let n = n.max(usize::from(c1 == c && n == 0));
        if c.state == State::Text && c1.state == State::Text {
            out.push_str(&s[i..i + n]);
        } else if c.state == State::Text {
            // Text up to the tag's '<'.
            if let Some(j) = b[i..i + n].iter().rposition(|&x| x == b'<') {
                out.push_str(&s[i..i + j]);
            }
        }
        c = c1;
        i += n;
    }
    out
}

fn is_safe_url(s: &str) -> bool {
    if let Some((proto, _)) = s.split_once(':')
        && !proto.contains('/')
    {
        return proto.eq_ignore_ascii_case("http")
            || proto.eq_ignore_ascii_case("https")
            || proto.eq_ignore_ascii_case("mailto");
    }
    true
}

/// Go's `processURLOnto`: percent-encodes bytes outside the URL alphabet; with `norm`,
/// reserved characters and existing escapes are kept.
fn process_url(s: &str, norm: bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        let keep = match c {
            b'!' | b'#' | b'$' | b'&' | b'*' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?'
            | b'@' | b'[' | b']' => norm,
            b'-' | b'.' | b'_' | b'~' => true,
            b'%' => {
                norm && i + 2 < b.len()
                    && b[i + 1].is_ascii_hexdigit()
                    && b[i + 2].is_ascii_hexdigit()
            }
            c => c.is_ascii_alphanumeric(),
        };
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02x}"));
        }
    }
    out
}

fn push_js_char(out: &mut String, c: char, norm: bool) {
    match c {
        '\0' => out.push_str("\\u0000"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\x0b' => out.push_str("\\u000b"),
        '\x0c' => out.push_str("\\f"),
        '\r' => out.push_str("\\r"),
        '"' => out.push_str("\\u0022"),
        '`' => out.push_str("\\u0060"),
        '&' => out.push_str("\\u0026"),
        '\'' => out.push_str("\\u0027"),
        '+' => out.push_str("\\u002b"),
        '/' => out.push_str("\\/"),
        '<' => out.push_str("\\u003c"),
        '>' => out.push_str("\\u003e"),
        '\\' if !norm => out.push_str("\\\\"),
        '\u{2028}' => out.push_str("\\u2028"),
        '\u{2029}' => out.push_str("\\u2029"),
        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    }
}

fn js_str(s: &str, norm: bool, tmpl_lit: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '$' if tmpl_lit => out.push_str("\\u0024"),
            '{' if tmpl_lit => out.push_str("\\u007b"),
            '}' if tmpl_lit => out.push_str("\\u007d"),
            c => push_js_char(&mut out, c, norm),
        }
    }
    out
}

/// Go's `jsValEscaper`: the value as a JSON literal, padded with spaces when it could
/// run into a neighbouring identifier.
fn js_val(v: &Value) -> String {
    let mut json = String::new();
    if let Err(e) = to_json(v, &mut json) {
        return format!(" /* {e} */null ");
    }
    let ident =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let json = json
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    if ident(json.chars().next()) || ident(json.chars().last()) {
        format!(" {json} ")
    } else {
        json
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JSON as Go's `encoding/json` writes it, enough for template values.
fn to_json(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Nil | Value::NoValue | Value::Func(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    crate::gofmt::format_float_g(*f)
                ));
            }
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                // Go: %e with a trimmed exponent (1e-07 becomes 1e-7).
                let s = format!("{f:e}");
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                out.push_str(&format!("{m}e{}{}", if e < 0 { "-" } else { "+" }, e.abs()));
            } else {
                out.push_str(&format!("{f}"));
            }
        }
        Value::String(s) | Value::Safe(_, s) => json_string(s, out),
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(e, out)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                to_json(e, out)?;
            }
            out.push('}');
        }
        Value::Object(o) => match o.as_value() {
            Some(inner) => to_json(inner, out)?,
            None => json_string(&o.to_text(), out),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_after(html: &str) -> Context {
        let mut c = Context::default();
        let mut out = String::new();
        c.write_text(html, &mut out);
        c
    }

    #[test]
    fn contexts() {
        assert_eq!(ctx_after("<a href=\"").state, State::Url);
        assert_eq!(ctx_after("<a href=\"/x?").url_part, UrlPart::QueryOrFrag);
        assert_eq!(ctx_after("<a title='").state, State::Attr);
        assert_eq!(ctx_after("<script>var x = ").state, State::Js);
        assert_eq!(ctx_after("<script>var x = '").state, State::JsSqStr);
        assert_eq!(ctx_after("<script>x</script>").state, State::Text);
        assert_eq!(ctx_after("<title>").state, State::RcData);
        assert_eq!(ctx_after("<p style=\"color: ").state, State::Css);
        assert_eq!(ctx_after("<a onclick=\"f(").state, State::Js);
        assert_eq!(ctx_after("<!-- x").state, State::HtmlCmt);
    }

    #[test]
    fn comments_and_stray_lt() {
        let mut c = Context::default();
        let mut out = String::new();
        c.write_text("a<!-- hidden -->b < c", &mut out);
        assert_eq!(out, "ab &lt; c");
    }

    #[test]
    fn url_escaping() {
        assert_eq!(process_url("a b/c?d=e&f", true), "a%20b/c?d=e&f");
        assert_eq!(process_url("a b/c?d=e&f", false), "a%20b%2fc%3fd%3de%26f");
        assert!(!is_safe_url("javascript:alert(1)"));
        assert!(is_safe_url("/rel:ative"));
    }
}
