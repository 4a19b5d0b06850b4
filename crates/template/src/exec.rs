//! Execution: walks a tree over a [`Value`], writing to a string.
//!
//! Follows Go's `text/template/exec.go` semantics: methods before fields before map
//! keys, missing map keys as "no value", `and`/`or` short-circuiting, variables scoped
//! to the enclosing control structure, `range` over maps in key order, and the same
//! error texts and error positions.

use std::sync::Arc;

use crate::Template;
use crate::error::Error;
use crate::escape;
use crate::funcs;
use crate::parse::{Arg, Branch, Command, Node, Num, Pipe, Tree};
use crate::value::Value;

/// Deepest `{{template}}` nesting. Go allows 100000; each level costs native stack
/// here, so the limit is lower to fail with an error rather than overflow.
pub(crate) const MAX_EXEC_DEPTH: usize = 1000;

/// Most native stack one execution may use for nesting. Threads commonly get 2 MiB
/// (Rust's spawned threads, tokio workers); half of that leaves room for the caller.
pub(crate) const STACK_BUDGET: usize = 1 << 20;

/// An address in the current frame, to measure stack use.
pub(crate) fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// What `missingkey=` asks for when a map has no entry for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MissingKey {
    #[default]
    Invalid,
    Zero,
    Error,
}

/// Control flow out of a list: `{{break}}` and `{{continue}}` unwind to their range.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// A node an error is reported at: its offset and Go's text for it.
enum At<'a> {
    Arg(&'a Arg),
    Cmd(&'a Command),
    Node(&'a Node),
    Range(&'a Branch),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Arg(a) => a.pos(),
            At::Cmd(c) => c.pos,
            At::Node(Node::Template { pos, .. }) => *pos,
            At::Node(Node::Action(p)) => p.pos,
            At::Node(Node::Break(p) | Node::Continue(p)) => *p,
            At::Node(Node::If(b) | Node::With(b) | Node::Range(b)) => b.pipe.pos,
            At::Node(Node::Text(_)) => 0,
            At::Range(b) => b.pipe.pos,
        }
    }

    fn text(&self) -> String {
        match self {
            At::Arg(a) => a.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Node(n) => n.to_string(),
            At::Range(b) => Node::Range((*b).clone()).to_string(),
        }
    }
}

pub(crate) struct State<'a> {
    tmpl: &'a Template,
    /// Tree being walked, for error locations.
    tree: Arc<Tree>,
    /// Name of the template being executed, for `executing "NAME"`.
    name: String,
    vars: Vec<(String, Value)>,
    depth: usize,
    /// `stack_addr()` when execution started.
    stack_base: usize,
    pub(crate) out: String,
    /// html/template mode: the context the output so far leaves us in.
    html: Option<escape::Context>,
}

type R<T> = Result<T, Error>;

impl<'a> State<'a> {
    pub(crate) fn new(tmpl: &'a Template, tree: Arc<Tree>, dot: &Value, html: bool) -> Self {
        State {
            tmpl,
            name: tree.name.clone(),
            tree,
            vars: vec![("$".to_string(), dot.clone())],
            depth: 0,
            stack_base: stack_addr(),
            out: String::new(),
            html: html.then(escape::Context::default),
        }
    }

    pub(crate) fn run(&mut self, dot: &Value) -> R<()> {
        let tree = self.tree.clone();
        self.walk_list(dot, &tree.root)?;
        Ok(())
    }

    fn err(&self, at: At<'_>, msg: impl Into<String>) -> Error {
        let mut context = at.text();
        if context.chars().count() > 20 {
            context = context.chars().take(20).collect::<String>() + "...";
        }
        Error::Exec {
            location: self.tree.location(at.pos()),
            template: self.name.clone(),
            context,
            message: msg.into(),
        }
    }

    fn walk_list(&mut self, dot: &Value, list: &[Node]) -> R<Flow> {
        for n in list {
            match self.walk(dot, n)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> R<Flow> {
        // Each arm lives in its own function so that this frame, which is on the stack
        // once per nesting level, stays small.
        match node {
            Node::Text(t) => {
                match &mut self.html {
                    Some(ctx) => ctx.write_text(t, &mut self.out),
                    None => self.out.push_str(t),
                }
                Ok(Flow::Normal)
            }
            Node::Action(pipe) => self.walk_action(dot, node, pipe).map(|_| Flow::Normal),
            Node::If(_) | Node::With(_) | Node::Range(_)
                if self.stack_base.abs_diff(stack_addr()) > STACK_BUDGET =>
            {
                Err(self.err(At::Node(node), "exceeded maximum nesting depth"))
            }
            Node::If(b) | Node::With(b) => self.walk_if(dot, node, b),
            Node::Range(b) => {
                let mark = self.vars.len();
                let r = self.walk_range(dot, b);
                self.vars.truncate(mark);
                r.map(|_| Flow::Normal)
            }
            Node::Template { name, pipe, .. } => self
                .walk_template(dot, node, name, pipe.as_ref())
                .map(|_| Flow::Normal),
            Node::Break(_) => Ok(Flow::Break),
            Node::Continue(_) => Ok(Flow::Continue),
        }
    }

    #[inline(never)]
    fn walk_action(&mut self, dot: &Value, node: &Node, pipe: &Pipe) -> R<()> {
        if self.html.is_some() && pipe.decl.is_empty() {
            return self.html_action(dot, node, pipe);
        }
        let v = self.eval_pipeline(dot, pipe)?;
        if pipe.decl.is_empty() {
            self.print(node, &v)?;
        }
        Ok(())
    }

    #[inline(never)]
    fn walk_if(&mut self, dot: &Value, node: &Node, b: &Branch) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        if let Value::Func(_) = v {
            return Err(self.err(At::Node(node), format!("if/with can't use {v}")));
        }
        let flow = if v.truth() {
            if let Node::With(_) = node {
                self.walk_list(&v, &b.list)?
            } else {
                self.walk_list(dot, &b.list)?
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    #[inline(never)]
    fn walk_template(
        &mut self,
        dot: &Value,
        node: &Node,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> R<()> {
        let Some(tree) = self.tmpl.tree(name) else {
            return Err(self.err(
                At::Node(node),
                format!("template {} not defined", crate::gofmt::quote(name)),
            ));
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::NoValue,
        };
        // Go's depth limit, plus a stack budget so that deep recursion fails with an
        // error instead of overflowing the thread's stack.
        if self.depth >= MAX_EXEC_DEPTH || self.stack_base.abs_diff(stack_addr()) > STACK_BUDGET {
            return Err(self.err(
                At::Node(node),
                format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})"),
            ));
        }
        // A called template sees only its own `$`.
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.tree, tree.clone());
        let saved_name = std::mem::replace(&mut self.name, name.to_string());
        self.depth += 1;
        let r = self.walk_list(&new_dot, &tree.root);
        self.depth -= 1;
        self.vars = saved_vars;
        self.tree = saved_tree;
        self.name = saved_name;
        r.map(|_| ())
    }

    #[inline(never)]
    fn walk_range(&mut self, dot: &Value, b: &Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Value, Value)> = match val.underlying() {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i), e.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, e)| (Value::String(k.clone()), e.clone()))
                .collect(),
            // Go 1.22: range over an integer counts from 0.
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::NoValue | Value::Nil => Vec::new(),
            other => {
                // Go reports at the last node the pipeline evaluated.
                let at = match b.pipe.cmds.last().and_then(|c| c.args.first()) {
                    Some(a) => At::Arg(a),
                    None => At::Range(b),
                };
                return Err(self.err(at, format!("range can't iterate over {other}")));
            }
        };
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                self.walk_list(dot, e)?;
            }
            return Ok(());
        }
        for (index, elem) in items {
            let decl = &b.pipe.decl;
            if b.pipe.is_assign {
                // With two variables the index comes first; with one, the element.
                match decl.len() {
                    1 => self.set_var(&decl[0], elem.clone()),
                    2 => {
                        self.set_var(&decl[0], index.clone());
                        self.set_var(&decl[1], elem.clone());
                    }
                    _ => {}
                }
            } else {
                // eval_pipeline pushed the declared variables; overwrite them in place.
                let n = self.vars.len();
                match decl.len() {
                    1 => self.vars[n - 1].1 = elem.clone(),
                    2 => {
                        self.vars[n - 1].1 = elem.clone();
                        self.vars[n - 2].1 = index.clone();
                    }
                    _ => {}
                }
            }
            let flow = self.walk_list(&elem, &b.list)?;
            self.vars.truncate(mark);
            if let Flow::Break = flow {
                break;
            }
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var_value(&self, name: &str, at: At<'_>) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(at, format!("undefined variable: {name}"))),
        }
    }

    fn print(&mut self, node: &Node, v: &Value) -> R<()> {
        match v {
            Value::Func(_) => {
                return Err(self.err(
                    At::Node(node),
                    format!("can't print {} of type {}", node, v.type_name()),
                ));
            }
            Value::NoValue | Value::Nil => self.out.push_str("<no value>"),
            v => {
                use std::fmt::Write;
                let _ = write!(self.out, "{v}");
            }
        }
        Ok(())
    }

    /// An action in html/template mode: the value goes through the escapers the current
    /// context calls for, with Go's merging of a trailing `html`/`urlquery`.
    #[inline(never)]
    fn html_action(&mut self, dot: &Value, node: &Node, pipe: &Pipe) -> R<()> {
        let ctx = self.html.as_mut().map(escape::Context::nudge);
        let mut escs = match ctx {
            Some(Ok(e)) => e,
            Some(Err(msg)) => return Err(self.err(At::Node(node), msg)),
            None => Vec::new(),
        };
        let last = pipe.cmds.last();
        let predefined = match last.and_then(|c| c.args.first()) {
            Some(Arg::Identifier { name, .. }) if name == "html" || name == "urlquery" => {
                Some(name.as_str())
            }
            _ => None,
        };
        for (i, c) in pipe.cmds.iter().enumerate() {
            if let Some(Arg::Identifier { name, .. }) = c.args.first()
                && (name == "html" || name == "urlquery")
                && i + 1 < pipe.cmds.len()
            {
                return Err(self.err(
                    At::Node(node),
                    format!("predefined escaper {name:?} disallowed in template"),
                ));
            }
        }
        let value = match predefined {
            Some(p) if escape::merge_predefined(&mut escs, p) => {
                // The predefined escaper takes the place of its equivalent; evaluate the
                // pipeline without it (or its own arguments, for `{{html .A .B}}`).
                let n = pipe.cmds.len();
                let last = &pipe.cmds[n - 1];
                if last.args.len() > 1 {
                    let mut args = Vec::new();
                    let fin = if n > 1 {
                        Some(self.eval_cmds(dot, &pipe.cmds[..n - 1])?)
                    } else {
                        None
                    };
                    for a in &last.args[1..] {
                        args.push(self.eval_arg(dot, a)?);
                    }
                    args.extend(fin);
                    Value::String(funcs::eval_args(&args))
                } else {
                    self.eval_cmds(dot, &pipe.cmds[..n - 1])?
                }
            }
            _ => self.eval_pipeline(dot, pipe)?,
        };
        if let Value::Func(_) = value {
            return Err(self.err(
                At::Node(node),
                format!("can't print {} of type {}", node, value.type_name()),
            ));
        }
        let s = escape::apply(&escs, &value);
        self.out.push_str(&s);
        Ok(())
    }

    fn eval_cmds(&mut self, dot: &Value, cmds: &[Command]) -> R<Value> {
        let mut value: Option<Value> = None;
        for c in cmds {
            value = Some(self.eval_command(dot, c, value)?);
        }
        Ok(dig(value.unwrap_or(Value::NoValue)))
    }

    #[inline(never)]
    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let value = self.eval_cmds(dot, &pipe.cmds)?;
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, fin: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.err(
                At::Arg(&cmd.args[0]),
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, fin);
            }
            Arg::Chain { node, fields, .. } => {
                let recv = self.eval_chain_base(dot, first, node)?;
                return self.eval_field_chain(dot, recv, first, fields, &cmd.args, fin);
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, cmd, &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(cmd, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0], At::Arg(first))?;
                if idents.len() == 1 {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                return self.eval_field_chain(dot, v, first, &idents[1..], &cmd.args, fin);
            }
            _ => {}
        }
        self.not_a_function(cmd, &fin)?;
        match first {
            Arg::Nil(_) => Err(self.err(At::Arg(first), "nil is not a command")),
            other => self.eval_arg(dot, other),
        }
    }

    fn eval_chain_base(&mut self, dot: &Value, chain: &Arg, node: &Arg) -> R<Value> {
        if let Arg::Nil(_) = node {
            return Err(self.err(
                At::Arg(chain),
                format!("indirection through explicit nil in {chain}"),
            ));
        }
        self.eval_arg(dot, node)
    }

    /// Evaluates an argument (no arguments of its own, no piped value).
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::String { value, .. } => Ok(Value::String(value.clone())),
            Arg::Number { value, text, .. } => match value {
                Num::Int(i) => Ok(Value::Int(*i)),
                Num::Float(f) => Ok(Value::Float(*f)),
                Num::Overflow => Err(self.err(At::Arg(arg), format!("{text} overflows int"))),
            },
            Arg::Field { idents, .. } => self.eval_field_chain(
                dot,
                dot.clone(),
                arg,
                idents,
                std::slice::from_ref(arg),
                None,
            ),
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0], At::Arg(arg))?;
                if idents.len() == 1 {
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, arg, &idents[1..], std::slice::from_ref(arg), None)
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Identifier { name, .. } => {
                let cmd = Command {
                    pos: arg.pos(),
                    args: vec![arg.clone()],
                };
                self.eval_function(dot, arg, name, &cmd, std::slice::from_ref(arg), None)
            }
            Arg::Chain { node, fields, .. } => {
                let recv = self.eval_chain_base(dot, arg, node)?;
                self.eval_field_chain(dot, recv, arg, fields, std::slice::from_ref(arg), None)
            }
        }
    }

    /// `args[0]` is the node being evaluated; `args[1..]` are the arguments of a method
    /// call on the last field.
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        node: &Arg,
        idents: &[String],
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let n = idents.len();
        for ident in &idents[..n - 1] {
            recv = self.eval_field(dot, ident, node, &[], None, recv)?;
        }
        self.eval_field(dot, &idents[n - 1], node, args, fin, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &Arg,
        args: &[Arg],
        fin: Option<Value>,
        recv: Value,
    ) -> R<Value> {
        let has_args = args.len() > 1 || fin.is_some();
        let at = At::Arg(node);
        match &recv {
            Value::NoValue => {
                if self.tmpl.missing_key == MissingKey::Error {
                    return Err(self.err(at, format!("nil data; no entry for key {name:?}")));
                }
                return Ok(Value::NoValue);
            }
            Value::Object(o) => {
                let mut argv = Vec::new();
                if has_args {
                    for a in args.iter().skip(1) {
                        argv.push(to_arg(self.eval_arg(dot, a)?));
                    }
                    argv.extend(fin.clone().map(to_arg));
                }
                if let Some(r) = o.method(name, &argv) {
                    return r.map_err(|e| self.err(at, format!("error calling {name}: {e}")));
                }
                if let Some(v) = o.field(name) {
                    if has_args {
                        return Err(self.err(
                            at,
                            format!("{name} has arguments but cannot be invoked as function"),
                        ));
                    }
                    return Ok(v);
                }
                if let Some(Value::Map(m)) = o.as_value() {
                    return self.map_key(m, name, has_args, at, || o.zero_element());
                }
            }
            Value::Map(m) => return self.map_key(m, name, has_args, at, || Value::Nil),
            Value::Nil => {
                return Err(self.err(at, format!("nil pointer evaluating interface {{}}.{name}")));
            }
            _ => {}
        }
        Err(self.err(
            at,
            format!("can't evaluate field {name} in type {}", recv.type_name()),
        ))
    }

    fn map_key(
        &self,
        m: &std::collections::BTreeMap<String, Value>,
        name: &str,
        has_args: bool,
        at: At<'_>,
        zero: impl Fn() -> Value,
    ) -> R<Value> {
        if has_args {
            return Err(self.err(at, format!("{name} is not a method but has arguments")));
        }
        match m.get(name) {
            Some(v) => Ok(v.clone()),
            None => match self.tmpl.missing_key {
                MissingKey::Invalid => Ok(Value::NoValue),
                MissingKey::Zero => Ok(zero()),
                MissingKey::Error => {
                    Err(self.err(at, format!("map has no entry for key {name:?}")))
                }
            },
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &Arg,
        name: &str,
        cmd: &Command,
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let at = At::Arg(ident);
        let host = self.tmpl.funcs.get(name).cloned();
        let builtin = if host.is_none() {
            match funcs::Builtin::lookup(name) {
                Some(b) => Some(b),
                None => return Err(self.err(at, format!("{name:?} is not a defined function"))),
            }
        } else {
            None
        };
        let args = &args[1..];
        let nargs = args.len() + usize::from(fin.is_some());
        if let Some(b) = builtin {
            let (min, max) = b.arity();
            if nargs < min || max.is_some_and(|m| nargs > m) {
                let msg = match max {
                    Some(m) if m == min => {
                        format!("wrong number of args for {name}: want {m} got {nargs}")
                    }
                    _ => {
                        format!("wrong number of args for {name}: want at least {min} got {nargs}")
                    }
                };
                return Err(self.err(at, msg));
            }
            if let funcs::Builtin::And | funcs::Builtin::Or = b {
                // Short-circuit: stop at the first false (and) or true (or) argument.
                let want = matches!(b, funcs::Builtin::Or);
                let mut v = Value::NoValue;
                for a in args {
                    v = self.eval_arg(dot, a)?;
                    if v.truth() == want {
                        return Ok(v);
                    }
                }
                if let Some(f) = fin {
                    v = f;
                }
                return Ok(v);
            }
        }
        let mut argv = Vec::with_capacity(nargs);
        for a in args {
            argv.push(self.eval_arg(dot, a)?);
        }
        argv.extend(fin);
        let r = match (host, builtin) {
            (Some(f), _) => {
                let argv: Vec<Value> = argv.into_iter().map(to_arg).collect();
                f(&argv)
            }
            (None, Some(b)) => {
                if let funcs::Builtin::Printf = b
                    && !matches!(argv[0], Value::String(_) | Value::Safe(..))
                {
                    let what = match &argv[0] {
                        Value::NoValue => "invalid value; expected string".to_string(),
                        v => format!(
                            "wrong type for value; expected string; got {}",
                            v.type_name()
                        ),
                    };
                    return Err(self.err(args.first().map_or(At::Cmd(cmd), At::Arg), what));
                }
                b.call(&argv)
            }
            (None, None) => Ok(Value::NoValue),
        };
        r.map_err(|e| self.err(At::Cmd(cmd), format!("error calling {name}: {e}")))
    }
}

/// Go's pipelines unwrap an `interface{}` result, so a nil result is "no value".
fn dig(v: Value) -> Value {
    match v {
        Value::Nil => Value::NoValue,
        v => v,
    }
}

/// Host functions and methods take `interface{}`-typed arguments in Go, where a missing
/// value arrives as nil.
fn to_arg(v: Value) -> Value {
    match v {
        Value::NoValue => Value::Nil,
        v => v,
    }
}
