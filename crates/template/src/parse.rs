//! The parser: items to trees, one tree per template name.
//!
//! The grammar, the error texts and the rules about where variables are visible follow
//! Go's `text/template/parse`; nodes remember their byte offset so execution errors can
//! name `LINE:COL` the way Go's `ErrorContext` does.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::lex::{Item, ItemType, lex};

/// One parsed template.
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) name: String,
    /// Name of the `parse` call that produced the tree (Go's `ParseName`).
    pub(crate) parse_name: String,
    /// Whole text of that parse call, to turn offsets into lines and columns.
    pub(crate) text: Arc<str>,
    pub(crate) root: Vec<Node>,
}

impl Tree {
    /// Go's `IsEmptyTree`: only whitespace text (comments are already dropped).
    pub(crate) fn is_empty(&self) -> bool {
        self.root
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty()))
    }

    /// `NAME:LINE:COL` for an offset, with Go's 0-based byte column.
    pub(crate) fn location(&self, pos: usize) -> String {
        let (line, col) = line_col(&self.text, pos);
        format!("{}:{}:{}", self.parse_name, line, col)
    }
}

pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break(usize),
    Continue(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) is_assign: bool,
    pub(crate) decl: Vec<String>,
    pub(crate) cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
    /// Fits no int64: an error only if executed, as in Go.
    Overflow,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.A.B`; `idents[0]` is the variable name with its `$`.
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number {
        pos: usize,
        text: String,
        value: Num,
    },
    String {
        pos: usize,
        quoted: String,
        value: String,
    },
    Pipe(Box<Pipe>),
    /// `(pipe).A.B` or `fn.A`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// Display impls reproduce Go's `Node.String`, used for the `<...>` part of exec errors.

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Identifier { name, .. } => write!(f, "{name}"),
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => write!(f, "{text}"),
            Arg::String { quoted, .. } => write!(f, "{quoted}"),
            Arg::Pipe(p) => write!(f, "({p})"),
            Arg::Chain { node, fields, .. } => {
                match node.as_ref() {
                    Arg::Pipe(_) => write!(f, "{node}")?,
                    other => write!(f, "{other}")?,
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    for n in list {
        write!(f, "{n}")?;
    }
    Ok(())
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, kw: &str, b: &Branch| {
            write!(f, "{{{{{kw} {}}}}}", b.pipe)?;
            write_list(f, &b.list)?;
            if let Some(e) = &b.else_list {
                write!(f, "{{{{else}}}}")?;
                write_list(f, e)?;
            }
            write!(f, "{{{{end}}}}")
        };
        match self {
            Node::Text(t) => write!(f, "{}", crate::gofmt::quote(t)),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", crate::gofmt::quote(name)),
                None => write!(f, "{{{{template {}}}}}", crate::gofmt::quote(name)),
            },
            Node::Break(_) => write!(f, "{{{{break}}}}"),
            Node::Continue(_) => write!(f, "{{{{continue}}}}"),
        }
    }
}

/// What `item_list` stopped at.
enum Stop {
    End,
    Else,
}

/// Parses `text` and returns the trees it defines, the top-level one under `name`.
/// `is_func` says whether an identifier names a function (checked at parse time, as in Go).
pub(crate) fn parse(
    name: &str,
    text: &str,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, Error> {
    let text: Arc<str> = Arc::from(text);
    let mut p = Parser {
        items: lex(&text),
        idx: 0,
        last: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        parse_name: name.to_string(),
        text: text.clone(),
        is_func,
        trees: Vec::new(),
        action_pos: None,
        depth: 0,
        stack_base: crate::exec::stack_addr(),
    };
    let mut root = Vec::new();
    while p.peek().typ != ItemType::Eof {
        if p.peek().typ == ItemType::LeftDelim {
            let save = p.idx;
            p.next();
            if p.next_non_space().typ == ItemType::Define {
                p.parse_definition()?;
                continue;
            }
            p.idx = save;
        }
        match p.text_or_action()? {
            Ok(n) => root.push(n),
            Err(Stop::End) => return Err(p.error("unexpected {{end}}")),
            Err(Stop::Else) => return Err(p.error("unexpected {{else}}")),
        }
    }
    p.add_tree(name.to_string(), root)?;
    Ok(p.trees)
}

struct Parser<'a> {
    items: Vec<Item>,
    idx: usize,
    /// Index of the last item consumed: Go reports errors at that token's line.
    last: usize,
    vars: Vec<String>,
    range_depth: usize,
    parse_name: String,
    text: Arc<str>,
    is_func: &'a dyn Fn(&str) -> bool,
    trees: Vec<Tree>,
    /// Where the current action started, for "unclosed action started at" messages.
    action_pos: Option<usize>,
    /// Nesting of control structures and parentheses, bounded so that hostile input
    /// cannot overflow the stack.
    depth: usize,
    /// Stack address at the start, to bound the native stack the recursion uses.
    stack_base: usize,
}

/// Deepest nesting of `{{if}}`/`{{range}}`/… and parentheses accepted (Go's bound for
/// parentheses); a native stack budget may stop deeper nesting earlier.
const MAX_PARSE_DEPTH: usize = 10_000;

type PResult<T> = Result<T, Error>;

impl Parser<'_> {
    fn peek(&self) -> &Item {
        // The lexer always ends with Eof or Error, and we never move past it.
        &self.items[self.idx.min(self.items.len() - 1)]
    }

    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        self.last = self.idx.min(self.items.len() - 1);
        if self.idx < self.items.len() - 1 {
            self.idx += 1;
        }
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.typ != ItemType::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        while self.peek().typ == ItemType::Space {
            self.next();
        }
        self.peek().clone()
    }

    fn backup(&mut self) {
        // Only called right after `next` consumed a non-final item.
        self.idx = self.last;
        self.last = self.idx.saturating_sub(1);
    }

    fn error_at(&self, pos: usize, msg: impl Into<String>) -> Error {
        let (line, col) = line_col(&self.text, pos);
        Error::Parse {
            name: self.parse_name.clone(),
            line,
            col,
            message: msg.into(),
        }
    }

    fn error(&self, msg: impl Into<String>) -> Error {
        let pos = self.items[self.last.min(self.items.len() - 1)].pos;
        self.error_at(pos, msg)
    }

    fn unexpected(&self, it: &Item, context: &str) -> Error {
        if it.typ == ItemType::Error {
            let mut extra = String::new();
            if let Some(start) = self.action_pos {
                let (l0, _) = line_col(&self.text, start);
                let (l1, _) = line_col(&self.text, it.pos);
                if l0 != l1 {
                    extra = format!(" in action started at {}:{}", self.parse_name, l0);
                    if it.val.ends_with(" action") {
                        extra = extra[" in action".len()..].to_string();
                    }
                }
            }
            return self.error_at(it.pos, format!("{}{}", it.val, extra));
        }
        self.error_at(it.pos, format!("unexpected {it} in {context}"))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.typ != typ {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let it = self.next_non_space();
        if !matches!(it.typ, ItemType::String | ItemType::RawString) {
            return Err(self.unexpected(&it, context));
        }
        let name = self.unquote(&it)?;
        self.expect(ItemType::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        if let Stop::Else = stop {
            return Err(self.error(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add_tree(name, list)
    }

    /// Within one parse call a name may be defined only once, unless one of the bodies is
    /// empty (Go's `Tree.add`).
    fn add_tree(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        let tree = Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        };
        if let Some(i) = self.trees.iter().position(|t| t.name == tree.name) {
            if self.trees[i].is_empty() {
                self.trees[i] = tree;
            } else if !tree.is_empty() {
                return Err(self.error(format!(
                    "template: multiple definition of template {}",
                    crate::gofmt::quote(&tree.name)
                )));
            }
            return Ok(());
        }
        self.trees.push(tree);
        Ok(())
    }

    /// Parses nodes until `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Stop)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(stop) => return Ok((list, stop)),
            }
        }
        Err(self.error("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Result<Node, Stop>> {
        let it = self.next_non_space();
        match it.typ {
            ItemType::Text => Ok(Ok(Node::Text(it.val))),
            ItemType::LeftDelim => {
                self.action_pos = Some(it.pos);
                let r = self.action();
                self.action_pos = None;
                r
            }
            _ => Err(self.unexpected(&it, "input")),
        }
    }

    fn action(&mut self) -> PResult<Result<Node, Stop>> {
        let it = self.next_non_space();
        match it.typ {
            ItemType::Block => return self.block_control().map(Ok),
            ItemType::Break => return self.break_control(it.pos, "break").map(Ok),
            ItemType::Continue => return self.break_control(it.pos, "continue").map(Ok),
            ItemType::Else => return self.else_control().map(Err),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Err(Stop::End));
            }
            ItemType::If => return self.control("if").map(|b| Ok(Node::If(b))),
            ItemType::Range => return self.control("range").map(|b| Ok(Node::Range(b))),
            ItemType::With => return self.control("with").map(|b| Ok(Node::With(b))),
            ItemType::Template => return self.template_control().map(Ok),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Ok(Node::Action(pipe)))
    }

    fn break_control(&mut self, pos: usize, word: &str) -> PResult<Node> {
        let it = self.next_non_space();
        if it.typ != ItemType::RightDelim {
            return Err(self.unexpected(&it, &format!("{{{{{word}}}}}")));
        }
        if self.range_depth == 0 {
            return Err(self.error(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(if word == "break" {
            Node::Break(pos)
        } else {
            Node::Continue(pos)
        })
    }

    fn else_control(&mut self) -> PResult<Stop> {
        let peek = self.peek_non_space();
        // "else if" and "else with" leave the keyword for `control` to see.
        if matches!(peek.typ, ItemType::If | ItemType::With) {
            return Ok(Stop::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Stop::Else)
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let r = self.control_inner(context);
        self.depth -= 1;
        r
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        let used = self.stack_base.abs_diff(crate::exec::stack_addr());
        if self.depth > MAX_PARSE_DEPTH || used > crate::exec::STACK_BUDGET {
            self.depth -= 1;
            return Err(self.error("max expression depth exceeded"));
        }
        Ok(())
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Stop::Else = stop {
            let chained = match self.peek().typ {
                ItemType::If if context == "if" => Some("if"),
                ItemType::With if context == "with" => Some("with"),
                _ => None,
            };
            if let Some(kw) = chained {
                // `{{else if x}}` is `{{else}}{{if x}}…{{end}}{{end}}` sharing one end.
                self.next();
                let inner = self.control(kw)?;
                else_list = Some(vec![if kw == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                }]);
            } else {
                let (l, stop2) = self.item_list()?;
                if let Stop::Else = stop2 {
                    return Err(self.error("expected end; found {{else}}"));
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(nvars);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, context: &str) -> PResult<(usize, String)> {
        let it = self.next_non_space();
        match it.typ {
            ItemType::String | ItemType::RawString => Ok((it.pos, self.unquote(&it)?)),
            _ => Err(self.unexpected(&it, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let (pos, name) = self.template_name(context)?;
        let pipe = if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            Some(self.pipeline(context, ItemType::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block_control(&mut self) -> PResult<Node> {
        let context = "block clause";
        let (pos, name) = self.template_name(context)?;
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if let Stop::Else = stop {
            return Err(self.error(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add_tree(name.clone(), list)?;
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, and in range `$i, $e :=`.
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let save = self.idx;
            self.next();
            let after = self.peek_non_space();
            match after.typ {
                ItemType::Assign | ItemType::Declare => {
                    self.next();
                    pipe.is_assign = after.typ == ItemType::Assign;
                    if pipe.is_assign && !self.vars.contains(&v.val) {
                        return Err(self.error_at(v.pos, format!("undefined variable {:?}", v.val)));
                    }
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    pipe.pos = self.peek_non_space().pos;
                    break;
                }
                ItemType::Comma => {
                    self.next();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue;
                            }
                            _ => return Err(self.error("range can only initialize variables")),
                        }
                    }
                    return Err(self.error(format!("too many declarations in {context}")));
                }
                _ => {
                    self.idx = save;
                    break;
                }
            }
        }
        loop {
            let it = self.next_non_space();
            if it.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match it.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&it, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        // Only the first stage may be a constant; later stages receive a value.
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number { .. } | Arg::String { .. },
            ) = c.args.first()
            {
                return Err(self.error_at(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let it = self.next();
            match it.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&it, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(f.val[1..].to_string());
        }
        // Go folds `.A` `.B` into one field node and `$x` `.A` into one variable node.
        Ok(Some(match node {
            Arg::Field { pos, mut idents } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { pos, mut idents } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool(..) | Arg::String { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.error_at(
                    chain_pos,
                    format!("unexpected . after term {:?}", node.to_string()),
                ));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        Ok(Some(match it.typ {
            ItemType::Identifier => {
                if !(self.is_func)(&it.val) {
                    return Err(self.error(format!("function {:?} not defined", it.val)));
                }
                Arg::Identifier { pos, name: it.val }
            }
            ItemType::Dot => Arg::Dot(pos),
            ItemType::Nil => Arg::Nil(pos),
            ItemType::Variable => {
                if !self.vars.contains(&it.val) {
                    return Err(self.error(format!("undefined variable {:?}", it.val)));
                }
                Arg::Variable {
                    pos,
                    idents: vec![it.val],
                }
            }
            ItemType::Field => Arg::Field {
                pos,
                idents: vec![it.val[1..].to_string()],
            },
            ItemType::Bool => Arg::Bool(pos, it.val == "true"),
            ItemType::CharConstant | ItemType::Number => {
                let value = self.number(&it)?;
                Arg::Number {
                    pos,
                    text: it.val,
                    value,
                }
            }
            ItemType::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            ItemType::String | ItemType::RawString => {
                let value = self.unquote(&it)?;
                Arg::String {
                    pos,
                    quoted: it.val,
                    value,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn unquote(&self, it: &Item) -> PResult<String> {
        if it.typ == ItemType::RawString {
            // Go drops carriage returns from raw strings.
            return Ok(it.val[1..it.val.len() - 1].replace('\r', ""));
        }
        unquote_go(&it.val).ok_or_else(|| self.error_at(it.pos, "invalid syntax"))
    }

    fn number(&self, it: &Item) -> PResult<Num> {
        let text = it.val.as_str();
        if it.typ == ItemType::CharConstant {
            let inner = &text[1..text.len() - 1];
            let mut chars = inner.chars();
            let (c, rest) = match chars.next() {
                Some('\\') => match unescape_one(&inner[1..], '\'') {
                    Some((c, n)) => (c, &inner[1 + n..]),
                    None => return Err(self.error("invalid syntax")),
                },
                Some(c) => (c, chars.as_str()),
                None => return Err(self.error(format!("malformed character constant: {text}"))),
            };
            if !rest.is_empty() {
                return Err(self.error(format!("malformed character constant: {text}")));
            }
            return Ok(Num::Int(c as i64));
        }
        if text.ends_with('i') {
            return Err(self.error(format!("complex numbers are not supported: {text}")));
        }
        parse_number(text).ok_or_else(|| self.error(format!("illegal number syntax: {text:?}")))
    }
}

/// Go number literal rules: base prefixes, `_` separators, leading-zero octal, floats
/// (including hex floats). Integral values written with `.`/exponent stay floats, as in
/// Go's `idealConstant`.
fn parse_number(text: &str) -> Option<Num> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let is_hex = lower.starts_with("0x");
    let floaty = if is_hex {
        lower.contains('.') || lower.contains('p')
    } else {
        lower.contains('.') || lower.contains('e')
    };
    if body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let clean: String = lower.chars().filter(|&c| c != '_').collect();
    if !floaty {
        let (digits, radix) = if let Some(r) = clean.strip_prefix("0x") {
            (r, 16)
        } else if let Some(r) = clean.strip_prefix("0o") {
            (r, 8)
        } else if let Some(r) = clean.strip_prefix("0b") {
            (r, 2)
        } else if clean.len() > 1 && clean.starts_with('0') {
            (&clean[1..], 8)
        } else {
            (clean.as_str(), 10)
        };
        if digits.is_empty() {
            return None;
        }
        return match u64::from_str_radix(digits, radix) {
            Ok(u) => {
                let v = if neg {
                    if u > i64::MAX as u64 + 1 {
                        return Some(Num::Overflow);
                    }
                    (u as i128).wrapping_neg() as i64
                } else {
                    match i64::try_from(u) {
                        Ok(v) => v,
                        Err(_) => return Some(Num::Overflow),
                    }
                };
                Some(Num::Int(v))
            }
            Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => {
                Some(Num::Overflow)
            }
            Err(_) => None,
        };
    }
    let v = if let Some(h) = clean.strip_prefix("0x") {
        parse_hex_float(h)?
    } else {
        if clean.starts_with('e') || clean.ends_with('e') {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    Some(Num::Float(if neg { -v } else { v }))
}

fn parse_hex_float(h: &str) -> Option<f64> {
    let (mant, exp) = match h.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => return None, // Go requires the p exponent in hex floats.
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// Unquotes a Go double-quoted string literal (`strconv.Unquote`).
pub(crate) fn unquote_go(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let (c, n) = unescape_one(&rest[i + 1..], '"')?;
        out.push(c);
        rest = &rest[i + 1 + n..];
    }
    out.push_str(rest);
    Some(out)
}

/// Decodes one escape (the text after a backslash); returns the char and bytes used.
fn unescape_one(s: &str, quote: char) -> Option<(char, usize)> {
    let c = s.chars().next()?;
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        _ => None,
    };
    if let Some(ch) = simple {
        return Some((ch, 1));
    }
    let hex = |n: usize| -> Option<u32> {
        let d = s.get(1..1 + n)?;
        if !d.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(d, 16).ok()
    };
    match c {
        // \xHH is a byte in Go; bytes >= 0x80 would make invalid UTF-8, which a Rust string
        // cannot hold, so they are taken as the code point of the same value.
        'x' => Some((char::from_u32(hex(2)?)?, 3)),
        'u' => Some((char::from_u32(hex(4)?)?, 5)),
        'U' => Some((char::from_u32(hex(8)?)?, 9)),
        '0'..='7' => {
            let d = s.get(0..3)?;
            let v = u32::from_str_radix(d, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((char::from_u32(v)?, 3))
        }
        _ => None,
    }
}
