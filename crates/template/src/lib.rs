//! Go's `text/template` and `html/template`, for Prometheus rule templates and
//! Alertmanager notification templates.
//!
//! Both Prometheus (alert annotations, console templates) and Alertmanager (notification
//! texts, e-mail bodies) hand user-written Go templates to Go's engine, so every
//! whitespace trim, `<no value>`, float format and error message a user has seen there
//! is part of the contract. This crate is the one engine both `rules` and `alertmanager`
//! use.
//!
//! It is written here rather than taken from crates.io because no Rust crate covers
//! what those templates use: method calls with arguments on host values
//! (`.CommonLabels.Remove .GroupLabels.Names`, `.StartsAt.Format "2006-01-02"`), Go's
//! error texts with positions, Go time layouts and Go's `fmt` verbs.
//!
//! The shape follows Go's packages: a lexer and parser produce one tree per template
//! name (`{{define}}`), a [`Template`] is a set of such trees plus the host's
//! [`FuncMap`], and execution walks a tree over a dynamic [`Value`]. Host types with
//! methods (Alertmanager's [`Kv`], [`time::Time`], [`time::Duration`], or the host's own)
//! implement [`Object`]. [`Mode::Html`] adds html/template's contextual escaping, done
//! while executing (its docs list the contexts covered).
//!
//! ```
//! use ember_template::{Template, Value};
//! let mut t = Template::new("t");
//! t.parse("{{range $k, $v := .}}{{$k}}={{$v}} {{end}}").unwrap();
//! let data = Value::map([("b", 2), ("a", 1)]);
//! assert_eq!(t.execute(&data).unwrap(), "a=1 b=2 ");
//! ```
//!
//! Not supported: custom delimiters, complex numbers, channels and Go 1.23 iterator
//! functions in `range`, and unsigned integers as a distinct type.

mod error;
mod escape;
mod exec;
mod funcs;
mod gofmt;
mod kv;
mod lex;
mod parse;
pub mod time;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::Error;
pub use funcs::FuncMap;
pub use kv::{Kv, Pair, Pairs};
pub use value::{ContentKind, Func, Object, Value, check_args};

use exec::{MissingKey, State};
use parse::Tree;

/// Which Go package's behaviour to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `text/template`: output as is.
    #[default]
    Text,
    /// `html/template`: action output escaped for its HTML context.
    ///
    /// Go infers each action's context statically before the first execution; here the
    /// context is tracked while executing, by running the literal text through Go's
    /// transition rules, so every template Go accepts gets Go's escaping. Templates Go
    /// rejects as ambiguous (branches ending in different contexts) are not rejected.
    ///
    /// Contexts handled: HTML text; RCDATA (`<title>`, `<textarea>`); attribute names
    /// inside tags; quoted and unquoted attribute values; URL attributes (`href`, `src`,
    /// `action`, …, names containing `src`/`uri`/`url`, and `srcset` treated as a URL)
    /// with the scheme filter (`#ZgotmplZ`), normalizer and query escaper; JavaScript
    /// (`<script>`, `on*` attributes) values as JSON, strings, template literals and
    /// regexps; CSS (`<style>`, `style` attributes) values, strings and `url(…)`; HTML,
    /// JS and CSS comments, which are removed from the output as Go does. A trailing
    /// `| html` or `| urlquery` merges with the equivalent escaper instead of escaping
    /// twice. Trusted values ([`Value::Safe`]) skip the escaper of their kind.
    ///
    /// Not handled: `${…}` inside JS template literals, JS `<!--`/`-->` comments and
    /// hashbangs, CSS escape decoding, and Go's static errors (e.g. a template ending
    /// inside a tag); a context the text cannot be parsed in fails at the next action.
    Html,
}

/// A set of named templates sharing functions and options, like Go's `*Template` and
/// the templates associated with it.
///
/// Cloning is cheap (trees are shared) and a clone is independent: parsing into it does
/// not change the original, like Go's `Clone`.
#[derive(Clone)]
pub struct Template {
    name: String,
    mode: Mode,
    funcs: FuncMap,
    trees: HashMap<String, Arc<Tree>>,
    missing_key: MissingKey,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("templates", &self.templates())
            .field("funcs", &self.funcs)
            .finish()
    }
}

impl Template {
    /// A new, empty text/template set whose own template is `name`.
    pub fn new(name: &str) -> Template {
        Template {
            name: name.to_string(),
            mode: Mode::Text,
            funcs: FuncMap::new(),
            trees: HashMap::new(),
            missing_key: MissingKey::Invalid,
        }
    }

    /// A new, empty html/template set.
    pub fn new_html(name: &str) -> Template {
        let mut t = Template::new(name);
        t.mode = Mode::Html;
        t
    }

    /// The name of this template.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The escaping mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Adds host functions. Must come before parsing text that uses them, because the
    /// parser rejects unknown function names (`function "x" not defined`), as Go does.
    pub fn funcs(&mut self, funcs: FuncMap) -> &mut Self {
        self.funcs.extend(funcs);
        self
    }

    /// Go's `Option`: `missingkey=default`, `missingkey=invalid`, `missingkey=zero` or
    /// `missingkey=error`.
    pub fn option(&mut self, opt: &str) -> Result<&mut Self, Error> {
        self.missing_key = match opt {
            "missingkey=default" | "missingkey=invalid" => MissingKey::Invalid,
            "missingkey=zero" => MissingKey::Zero,
            "missingkey=error" => MissingKey::Error,
            _ if opt.starts_with("missingkey=") => {
                return Err(Error::Option(format!("unrecognized option: {opt}")));
            }
            _ => return Err(Error::Option(format!("unrecognized option: {opt}"))),
        };
        Ok(self)
    }

    /// Parses `text` as the body of this template; `{{define}}`s in it join the set. A
    /// later definition replaces an earlier one from another parse call, and a body that
    /// is only whitespace does not replace an existing one (Go's rules, which let
    /// Alertmanager load user templates over its defaults).
    pub fn parse(&mut self, text: &str) -> Result<&mut Self, Error> {
        let name = self.name.clone();
        self.parse_named(&name, text)
    }

    /// Parses `text` as the body of template `name` in this set (Go's
    /// `t.New(name).Parse(text)`, as when loading one file per name).
    pub fn parse_named(&mut self, name: &str, text: &str) -> Result<&mut Self, Error> {
        let funcs = &self.funcs;
        let is_func = |f: &str| funcs.get(f).is_some() || funcs::Builtin::lookup(f).is_some();
        let trees = parse::parse(name, text, &is_func)?;
        for tree in trees {
            if tree.is_empty()
                && let Some(old) = self.trees.get(&tree.name)
                && !old.is_empty()
            {
                continue;
            }
            self.trees.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(self)
    }

    /// Executes this template over `data`.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        match self.trees.get(&self.name) {
            Some(tree) => self.run(tree.clone(), data),
            None => Err(Error::ExecNoNode {
                template: self.name.clone(),
                message: format!(
                    "{} is an incomplete or empty template",
                    gofmt::quote(&self.name)
                ),
            }),
        }
    }

    /// Executes the template called `name` in this set.
    pub fn execute_template(&self, name: &str, data: &Value) -> Result<String, Error> {
        match self.trees.get(name) {
            Some(tree) => self.run(tree.clone(), data),
            None => Err(Error::NoSuchTemplate {
                name: name.to_string(),
                set: self.name.clone(),
            }),
        }
    }

    fn run(&self, tree: Arc<Tree>, data: &Value) -> Result<String, Error> {
        let mut state = State::new(self, tree, data, self.mode == Mode::Html);
        state.run(data)?;
        Ok(state.out)
    }

    /// The template called `name` in this set, as a template of its own (sharing the set).
    pub fn lookup(&self, name: &str) -> Option<Template> {
        self.trees.contains_key(name).then(|| Template {
            name: name.to_string(),
            ..self.clone()
        })
    }

    /// Names of the templates in the set, sorted.
    pub fn templates(&self) -> Vec<String> {
        let mut names: Vec<String> = self.trees.keys().cloned().collect();
        names.sort();
        names
    }

    /// Go's `DefinedTemplates`: `; defined templates are: "a", "b"`, or empty.
    pub fn defined_templates(&self) -> String {
        let names = self.templates();
        if names.is_empty() {
            return String::new();
        }
        let quoted: Vec<String> = names.iter().map(|n| gofmt::quote(n)).collect();
        format!("; defined templates are: {}", quoted.join(", "))
    }

    pub(crate) fn tree(&self, name: &str) -> Option<Arc<Tree>> {
        self.trees.get(name).cloned()
    }
}
