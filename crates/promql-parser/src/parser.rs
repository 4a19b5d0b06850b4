//! The recursive-descent parser.
//!
//! Prometheus parses with a yacc grammar; this parser accepts the same language with
//! precedence climbing and reproduces what users see of the yacc parser: the same
//! error texts and positions for the first error (the one the API reports), the same
//! semantic errors in the same order, and the same positions on every node. Where
//! yacc resolves a grammar conflict in a way that shows (`foo offset -1^2` is
//! `(foo offset -1)^2`, `foo offset (1m) + 1` keeps going as a duration expression,
//! an error inside an aggregation's arguments says "in aggregation"), the code says
//! so where it does the same.
//!
//! Syntax errors stop the parse; Prometheus's yacc parser recovers and sometimes adds
//! further errors, but only the first is ever shown to users. Semantic errors found
//! while parsing (bad durations, misplaced modifiers, unknown functions) are collected
//! and parsing goes on, as in Prometheus, and the type checks of [`Parser::check`]
//! run only when there were none.

use crate::ParserOptions;
use crate::ast::*;
use crate::duration::{Duration, parse_duration};
use crate::error::{ParseErr, ParseErrors};
use crate::functions::{UNKNOWN_FUNCTION, get_function};
use crate::lexer::{Item, T, lex};
use crate::strconv::{go_quote, go_quote_bytes, parse_float, parse_int_base0, unquote};
use ember_model::{Labels, MatchType, Matcher};
use std::sync::Arc;

/// How deep a query may nest (parentheses, calls, operators, duration expressions).
/// Prometheus has no limit, but Go grows its stacks; here the parser and every pass
/// over the tree recurse, and this bound keeps them within a 2 MiB thread stack even
/// in unoptimised builds (about 2 KiB per level while parsing). Real queries nest a
/// few levels; a 500-term `a or b or …` chain is the deepest plausible one.
pub const MAX_NESTING: u32 = 500;

/// The parse stopped at a syntax error, already recorded.
pub(crate) struct Stop;

type R<T> = Result<T, Stop>;

/// A parsed expression and its depth.
type Node = (Box<Expr>, u32);

/// Where a duration expression is, which decides how its syntax errors are worded.
#[derive(Clone, Copy)]
enum DurCtx {
    Range,
    Step,
    Offset,
}

impl DurCtx {
    fn context(self) -> (&'static str, &'static str) {
        match self {
            DurCtx::Range => (
                "subquery or range selector",
                "number, duration, step(), or range()",
            ),
            DurCtx::Step => (
                "subquery selector",
                "number, duration, step(), range(), or \"]\"",
            ),
            DurCtx::Offset => ("offset", "number, duration, step(), or range()"),
        }
    }
}

/// Largest magnitude, in seconds, that fits Go's `time.Duration`.
const MAX_DURATION_SECS: f64 = 9_223_372_036_854_775_808.0 / 1e9;

fn duration_out_of_range(v: f64) -> bool {
    !(-MAX_DURATION_SECS..=MAX_DURATION_SECS).contains(&v)
}

fn zero_literal() -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        val: 0.0,
        duration: false,
        pos_range: PositionRange::default(),
    })
}

fn binary_op(k: T) -> Option<BinaryOp> {
    Some(match k {
        T::Add => BinaryOp::Add,
        T::Sub => BinaryOp::Sub,
        T::Mul => BinaryOp::Mul,
        T::Div => BinaryOp::Div,
        T::Mod => BinaryOp::Mod,
        T::Pow => BinaryOp::Pow,
        T::Atan2 => BinaryOp::Atan2,
        T::Eqlc => BinaryOp::Eql,
        T::Neq => BinaryOp::Neq,
        T::Gtr => BinaryOp::Gtr,
        T::Lss => BinaryOp::Lss,
        T::Gte => BinaryOp::Gte,
        T::Lte => BinaryOp::Lte,
        T::TrimUpper => BinaryOp::TrimUpper,
        T::TrimLower => BinaryOp::TrimLower,
        T::Land => BinaryOp::And,
        T::Lor => BinaryOp::Or,
        T::Lunless => BinaryOp::Unless,
        _ => return None,
    })
}

fn duration_op(k: T) -> Option<(DurationOp, u8)> {
    Some(match k {
        T::Add => (DurationOp::Add, 4),
        T::Sub => (DurationOp::Sub, 4),
        T::Mul => (DurationOp::Mul, 5),
        T::Div => (DurationOp::Div, 5),
        T::Mod => (DurationOp::Mod, 5),
        T::Pow => (DurationOp::Pow, 6),
        _ => return None,
    })
}

fn aggregate_op(k: T) -> Option<AggregateOp> {
    Some(match k {
        T::Avg => AggregateOp::Avg,
        T::Bottomk => AggregateOp::Bottomk,
        T::Count => AggregateOp::Count,
        T::CountValues => AggregateOp::CountValues,
        T::Group => AggregateOp::Group,
        T::Max => AggregateOp::Max,
        T::Min => AggregateOp::Min,
        T::Quantile => AggregateOp::Quantile,
        T::Stddev => AggregateOp::Stddev,
        T::Stdvar => AggregateOp::Stdvar,
        T::Sum => AggregateOp::Sum,
        T::Topk => AggregateOp::Topk,
        T::Limitk => AggregateOp::Limitk,
        T::LimitRatio => AggregateOp::LimitRatio,
        _ => return None,
    })
}

/// Tokens that may name a metric (Prometheus's `metric_identifier`).
fn is_metric_identifier(k: T) -> bool {
    k.is_aggregator()
        || matches!(
            k,
            T::By
                | T::Fill
                | T::FillLeft
                | T::FillRight
                | T::Identifier
                | T::Land
                | T::Lor
                | T::Lunless
                | T::MetricIdentifier
                | T::Offset
                | T::Without
                | T::Start
                | T::End
                | T::Step
                | T::Range
                | T::Anchored
                | T::Smoothed
                | T::MaxOf
                | T::MinOf
        )
}

/// Tokens that may name a label in `by (…)`, `on (…)`, … (Prometheus's `maybe_label`;
/// `without` is missing there too).
fn is_maybe_label(k: T) -> bool {
    k.is_aggregator()
        || matches!(
            k,
            T::Bool
                | T::By
                | T::GroupLeft
                | T::GroupRight
                | T::Fill
                | T::FillLeft
                | T::FillRight
                | T::Identifier
                | T::Ignoring
                | T::Land
                | T::Lor
                | T::Lunless
                | T::MetricIdentifier
                | T::Offset
                | T::On
                | T::Start
                | T::End
                | T::Atan2
                | T::Step
                | T::Range
                | T::Anchored
                | T::Smoothed
                | T::MaxOf
                | T::MinOf
        )
}

/// The modifiers between a binary operator and its right operand.
struct BinModifiers {
    return_bool: bool,
    matching: VectorMatching,
}

/// A parse of one input.
pub(crate) struct Parser<'a> {
    pub(crate) input: &'a str,
    query: Arc<str>,
    items: Vec<Item>,
    /// The lexer's message when the last item is an error.
    lex_error: String,
    idx: usize,
    /// End of the last `)`, `]`, `}`, number or duration consumed: where Prometheus
    /// ends calls, aggregations and modified selectors.
    last_closing: usize,
    pub(crate) errors: Vec<ParseErr>,
    opts: ParserOptions,
    /// How many aggregations' argument lists enclose the current position: a syntax
    /// error there is reported "in aggregation", as yacc's error recovery does.
    agg_depth: usize,
    nesting: u32,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str, opts: ParserOptions) -> Self {
        let lexed = lex(input);
        Parser {
            input,
            query: Arc::from(input),
            items: lexed.items,
            lex_error: lexed.error,
            idx: 0,
            last_closing: 0,
            errors: Vec::new(),
            opts,
            agg_depth: 0,
            nesting: 0,
        }
    }

    pub(crate) fn into_result<X>(self, value: Option<X>) -> Result<X, ParseErrors> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(ParseErrors {
                errors: if self.errors.is_empty() {
                    vec![ParseErr::new(
                        PositionRange::default(),
                        "unexpected error",
                        self.query.clone(),
                    )]
                } else {
                    self.errors
                },
            }),
        }
    }

    pub(crate) fn error(&mut self, pos: PositionRange, msg: impl Into<String>) {
        self.errors
            .push(ParseErr::new(pos, msg, self.query.clone()));
    }

    fn cur(&self) -> &Item {
        // The item list always ends with Eof or Error and the parser never moves
        // past either, so the index stays in bounds; the fallback keeps it total.
        &self.items[self.idx.min(self.items.len() - 1)]
    }

    fn cur_range(&self) -> PositionRange {
        let it = self.cur();
        PositionRange::new(it.pos, it.end)
    }

    /// The kind of the next token; a lexer error is recorded and stops the parse.
    fn peek(&mut self) -> R<T> {
        let it = *self.cur();
        if it.kind == T::Error {
            let msg = self.lex_error.clone();
            self.error(PositionRange::new(it.pos, it.end), msg);
            return Err(Stop);
        }
        Ok(it.kind)
    }

    /// The kind of the token after the next one, without error handling.
    fn peek2(&self) -> T {
        self.items.get(self.idx + 1).map_or(T::Eof, |i| i.kind)
    }

    fn advance(&mut self) -> Item {
        let it = *self.cur();
        if matches!(
            it.kind,
            T::RightBrace | T::RightParen | T::RightBracket | T::Duration | T::Number
        ) {
            self.last_closing = it.end;
        }
        if !matches!(it.kind, T::Eof | T::Error) {
            self.idx += 1;
        }
        it
    }

    /// Records `unexpected <token> in <context>, expected <what>` for the next token.
    fn unexpected(&mut self, context: &str, expected: &str) -> Stop {
        if self.cur().kind == T::Error {
            let _ = self.peek();
            return Stop;
        }
        let mut msg = format!("unexpected {}", self.cur().desc(self.input));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        let pos = self.cur_range();
        self.error(pos, msg);
        Stop
    }

    /// A syntax error outside any construct with its own wording.
    fn unexpected_generic(&mut self) -> Stop {
        let ctx = if self.agg_depth > 0 {
            "aggregation"
        } else {
            ""
        };
        self.unexpected(ctx, "")
    }

    fn expect(&mut self, kind: T) -> R<Item> {
        if self.peek()? != kind {
            return Err(self.unexpected_generic());
        }
        Ok(self.advance())
    }

    fn expect_in(&mut self, kind: T, ctx: (&str, &str)) -> R<Item> {
        if self.peek()? != kind {
            return Err(self.unexpected(ctx.0, ctx.1));
        }
        Ok(self.advance())
    }

    fn too_deep(&mut self) -> Stop {
        let pos = self.cur_range();
        self.error(
            pos,
            format!("query is nested too deeply: more than {MAX_NESTING} levels"),
        );
        Stop
    }

    fn enter(&mut self) -> R<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn check_depth(&mut self, depth: u32) -> R<u32> {
        if depth > MAX_NESTING {
            return Err(self.too_deep());
        }
        Ok(depth)
    }

    // ----- Entry points -----

    /// `expr EOF`, or the "no expression" error.
    pub(crate) fn parse_query(&mut self) -> Option<Expr> {
        match self.peek() {
            Ok(T::Eof) => {
                self.error(PositionRange::default(), "no expression found in input");
                return None;
            }
            Ok(_) => {}
            Err(Stop) => return None,
        }
        let (expr, _) = self.parse_expr(0).ok()?;
        match self.peek() {
            Ok(T::Eof) => Some(*expr),
            Ok(_) => {
                self.unexpected("", "");
                None
            }
            Err(Stop) => None,
        }
    }

    /// A vector selector alone (`match[]` parameters).
    pub(crate) fn parse_metric_selector(&mut self) -> Option<Vec<Matcher>> {
        let r: R<Vec<Matcher>> = (|| {
            let k = self.peek()?;
            let vs = if k == T::LeftBrace {
                self.parse_braced_selector(None)?
            } else if is_metric_identifier(k) {
                self.parse_named_selector()?
            } else {
                return Err(self.unexpected("", ""));
            };
            if self.peek()? != T::Eof {
                return Err(self.unexpected("", ""));
            }
            Ok(vs.label_matchers)
        })();
        r.ok()
    }

    /// A series' labels: `name{label="value", …}` (Prometheus's `ParseMetric`).
    pub(crate) fn parse_metric(&mut self) -> Option<Labels> {
        let r: R<Labels> = (|| {
            let mut pairs: Vec<(String, String)> = Vec::new();
            let k = self.peek()?;
            if is_metric_identifier(k) {
                let name = self.advance().text(self.input).to_string();
                pairs.push(("__name__".to_string(), name));
            }
            if self.peek()? == T::LeftBrace {
                self.advance();
                if self.peek()? == T::RightBrace {
                    self.advance();
                } else {
                    loop {
                        pairs.push(self.parse_label_set_item()?);
                        match self.peek()? {
                            T::Comma => {
                                self.advance();
                                if self.peek()? == T::RightBrace {
                                    self.advance();
                                    break;
                                }
                            }
                            T::RightBrace => {
                                self.advance();
                                break;
                            }
                            _ => return Err(self.unexpected("label set", "\",\" or \"}\"")),
                        }
                    }
                }
            }
            if self.peek()? != T::Eof {
                return Err(self.unexpected("", ""));
            }
            Ok(Labels::from_pairs(pairs))
        })();
        r.ok()
    }

    fn parse_label_set_item(&mut self) -> R<(String, String)> {
        match self.peek()? {
            T::Identifier => {
                let name = self.advance().text(self.input).to_string();
                self.expect_in(T::Eql, ("label set", "\"=\""))?;
                let v = self.expect_in(T::String, ("label set", "string"))?;
                Ok((name, self.unquote_lossy(v)))
            }
            T::String => {
                let item = self.advance();
                let name = self.unquote_lossy(item);
                if self.peek()? != T::Eql {
                    return Ok(("__name__".to_string(), name));
                }
                self.advance();
                let v = self.expect_in(T::String, ("label set", "string"))?;
                Ok((name, self.unquote_lossy(v)))
            }
            _ => Err(self.unexpected("label set", "identifier or \"}\"")),
        }
    }

    // ----- Expressions -----
    //
    // The functions on the recursion path pass expressions boxed and keep their own
    // locals few, and are kept out of line: an unoptimised build spends stack on every
    // temporary, and nesting depth is bounded by what one level costs.

    #[inline(never)]
    fn parse_expr(&mut self, min_prec: u8) -> R<Node> {
        self.enter()?;
        let mut node = self.parse_unary_or_primary()?;
        loop {
            node = self.parse_postfix(node)?;
            let Some(op) = binary_op(self.peek()?) else {
                break;
            };
            if op.precedence() < min_prec {
                break;
            }
            node = self.parse_binary_rhs(node, op)?;
        }
        self.leave();
        Ok(node)
    }

    #[inline(never)]
    fn parse_binary_rhs(&mut self, lhs: Node, op: BinaryOp) -> R<Node> {
        self.advance();
        let mods = Box::new(self.parse_bin_modifiers()?);
        let prec = op.precedence();
        let next_min = if op.is_right_associative() {
            prec
        } else {
            prec + 1
        };
        let rhs = self.parse_expr(next_min)?;
        let depth = self.check_depth(lhs.1.max(rhs.1) + 1)?;
        Ok((self.new_binary(lhs.0, op, *mods, rhs.0), depth))
    }

    #[inline(never)]
    fn parse_unary_or_primary(&mut self) -> R<Node> {
        let k = self.peek()?;
        match k {
            T::Add | T::Sub => self.parse_unary(k),
            T::Number | T::Duration => Ok((Box::new(self.parse_number_literal()), 1)),
            T::String => {
                let item = self.advance();
                Ok((Box::new(Expr::StringLiteral(self.string_literal(item))), 1))
            }
            T::LeftParen => self.parse_paren(),
            T::LeftBrace => self.parse_selector(true),
            T::Identifier | T::Start | T::End | T::Step | T::Range | T::MaxOf | T::MinOf
                if self.peek2() == T::LeftParen =>
            {
                self.parse_call()
            }
            k if k.is_aggregator() && matches!(self.peek2(), T::LeftParen | T::By | T::Without) => {
                self.parse_aggregate()
            }
            k if is_metric_identifier(k) => self.parse_selector(false),
            _ => Err(self.unexpected_generic()),
        }
    }

    #[inline(never)]
    fn parse_selector(&mut self, braced: bool) -> R<Node> {
        let vs = if braced {
            self.parse_braced_selector(None)?
        } else {
            self.parse_named_selector()?
        };
        Ok((Box::new(Expr::VectorSelector(vs)), 1))
    }

    #[inline(never)]
    fn parse_unary(&mut self, k: T) -> R<Node> {
        let op_pos = self.advance().pos;
        let op = if k == T::Add {
            UnaryOp::Add
        } else {
            UnaryOp::Sub
        };
        // Unary operators bind like `*`: `-a^b` is `-(a^b)`, `-a*b` is `(-a)*b`.
        let (mut operand, depth) = self.parse_expr(BinaryOp::Pow.precedence())?;
        if let Expr::NumberLiteral(nl) = &mut *operand {
            if op == UnaryOp::Sub {
                nl.val = -nl.val;
            }
            nl.pos_range.start = op_pos;
            return Ok((operand, depth));
        }
        let depth = self.check_depth(depth + 1)?;
        Ok((
            Box::new(Expr::Unary(UnaryExpr {
                op,
                expr: operand,
                start_pos: op_pos,
            })),
            depth,
        ))
    }

    #[inline(never)]
    fn parse_paren(&mut self) -> R<Node> {
        let start = self.advance().pos;
        let (inner, depth) = self.parse_expr(0)?;
        let end = self.expect(T::RightParen)?.end;
        let depth = self.check_depth(depth + 1)?;
        Ok((
            Box::new(Expr::Paren(ParenExpr {
                expr: inner,
                pos_range: PositionRange::new(start, end),
            })),
            depth,
        ))
    }

    /// Modifiers that bind tighter than any operator: ranges, subqueries, `offset`,
    /// `@`, `anchored`, `smoothed`.
    #[inline(never)]
    fn parse_postfix(&mut self, (mut expr, mut depth): Node) -> R<Node> {
        loop {
            match self.peek()? {
                T::LeftBracket => {
                    expr = self.parse_range_or_subquery(expr)?;
                    depth = self.check_depth(depth + 1)?;
                }
                T::Offset => {
                    self.advance();
                    let off = self.parse_offset_duration()?;
                    self.add_offset(&mut expr, *off);
                }
                T::At => {
                    self.advance();
                    self.parse_at(&mut expr)?;
                }
                T::Anchored => {
                    self.advance();
                    self.set_extended(&mut expr, "anchored");
                }
                T::Smoothed => {
                    self.advance();
                    self.set_extended(&mut expr, "smoothed");
                }
                _ => return Ok((expr, depth)),
            }
        }
    }

    fn parse_bin_modifiers(&mut self) -> R<BinModifiers> {
        let mut return_bool = false;
        let mut matching = VectorMatching::default();
        if self.peek()? == T::Bool {
            self.advance();
            return_bool = true;
        }
        let k = self.peek()?;
        if matches!(k, T::On | T::Ignoring) {
            self.advance();
            matching.matching_labels = self.parse_grouping_labels()?;
            matching.on = k == T::On;
            let g = self.peek()?;
            if matches!(g, T::GroupLeft | T::GroupRight) {
                self.advance();
                matching.card = if g == T::GroupLeft {
                    VectorMatchCardinality::ManyToOne
                } else {
                    VectorMatchCardinality::OneToMany
                };
                // A parenthesis right after `group_x` is its label list, never the
                // right operand, as yacc shifts rather than reduces there.
                if self.peek()? == T::LeftParen {
                    matching.include = self.parse_grouping_labels()?;
                }
            }
        }
        match self.peek()? {
            T::Fill => {
                self.advance();
                let v = self.parse_fill_value()?;
                matching.fill_values = FillValues {
                    lhs: Some(v),
                    rhs: Some(v),
                };
            }
            T::FillLeft => {
                self.advance();
                matching.fill_values.lhs = Some(self.parse_fill_value()?);
                if self.peek()? == T::FillRight {
                    self.advance();
                    matching.fill_values.rhs = Some(self.parse_fill_value()?);
                }
            }
            T::FillRight => {
                self.advance();
                matching.fill_values.rhs = Some(self.parse_fill_value()?);
                if self.peek()? == T::FillLeft {
                    self.advance();
                    matching.fill_values.lhs = Some(self.parse_fill_value()?);
                }
            }
            _ => {}
        }
        Ok(BinModifiers {
            return_bool,
            matching,
        })
    }

    fn parse_fill_value(&mut self) -> R<f64> {
        self.expect(T::LeftParen)?;
        let mut negate = false;
        let k = self.peek()?;
        if matches!(k, T::Add | T::Sub) {
            self.advance();
            negate = k == T::Sub;
        }
        if !matches!(self.peek()?, T::Number | T::Duration) {
            return Err(self.unexpected_generic());
        }
        let Expr::NumberLiteral(nl) = self.parse_number_literal() else {
            return Err(Stop);
        };
        self.expect(T::RightParen)?;
        Ok(if negate { -nl.val } else { nl.val })
    }

    fn new_binary(
        &mut self,
        lhs: Box<Expr>,
        op: BinaryOp,
        mods: BinModifiers,
        rhs: Box<Expr>,
    ) -> Box<Expr> {
        let BinModifiers {
            return_bool,
            matching,
        } = mods;
        let fill = matching.fill_values;
        let e = Box::new(Expr::Binary(BinaryExpr {
            op,
            lhs,
            rhs,
            vector_matching: Some(matching),
            return_bool,
        }));
        if !self.opts.enable_binop_fill_modifiers && (fill.lhs.is_some() || fill.rhs.is_some()) {
            let pos = e.pos_range();
            self.error(pos, "binop fill modifiers are experimental and not enabled");
        }
        e
    }

    /// `( label, … )` after `by`, `without`, `on`, `ignoring`, `group_x`.
    fn parse_grouping_labels(&mut self) -> R<Vec<String>> {
        if self.peek()? != T::LeftParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.advance();
        let mut labels = Vec::new();
        if self.peek()? == T::RightParen {
            self.advance();
            return Ok(labels);
        }
        loop {
            labels.push(self.parse_grouping_label()?);
            match self.peek()? {
                T::Comma => {
                    self.advance();
                    if self.peek()? == T::RightParen {
                        self.advance();
                        return Ok(labels);
                    }
                }
                T::RightParen => {
                    self.advance();
                    return Ok(labels);
                }
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn parse_grouping_label(&mut self) -> R<String> {
        let k = self.peek()?;
        if is_maybe_label(k) {
            return Ok(self.advance().text(self.input).to_string());
        }
        if k != T::String {
            return Err(self.unexpected("grouping opts", "label"));
        }
        let item = self.advance();
        let bytes = self.unquote_item(item);
        let valid = !bytes.is_empty() && std::str::from_utf8(&bytes).is_ok();
        if !valid {
            self.error(
                PositionRange::new(item.pos, item.end),
                format!(
                    "invalid label name for grouping: {}",
                    go_quote_bytes(&bytes)
                ),
            );
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    // ----- Literals -----

    fn parse_number_literal(&mut self) -> Expr {
        let item = self.advance();
        let pos = PositionRange::new(item.pos, item.end);
        let text = item.text(self.input);
        if item.kind == T::Duration {
            let val = match parse_duration(text) {
                Ok(d) => d.as_secs_f64(),
                Err(msg) => {
                    self.error(pos, msg);
                    0.0
                }
            };
            return Expr::NumberLiteral(NumberLiteral {
                val,
                duration: true,
                pos_range: pos,
            });
        }
        Expr::NumberLiteral(NumberLiteral {
            val: self.number(text, pos),
            duration: false,
            pos_range: pos,
        })
    }

    /// Prometheus's `number()`: Go's `ParseInt(s, 0, 64)`, else `ParseFloat`.
    fn number(&mut self, text: &str, pos: PositionRange) -> f64 {
        if let Some(i) = parse_int_base0(text) {
            return i as f64;
        }
        match parse_float(text) {
            Ok(f) => f,
            Err(e) => {
                self.error(pos, format!("error parsing number: {}", e.message(text)));
                // Go hands back ±Inf with a range error, 0 with a syntax error.
                if e == crate::strconv::FloatError::Range {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
        }
    }

    fn unquote_item(&mut self, item: Item) -> Vec<u8> {
        let raw = item.text(self.input);
        match unquote(raw) {
            Some(b) => b,
            None => {
                self.error(
                    PositionRange::new(item.pos, item.end),
                    format!("error unquoting string {}: invalid syntax", go_quote(raw)),
                );
                Vec::new()
            }
        }
    }

    fn unquote_lossy(&mut self, item: Item) -> String {
        let bytes = self.unquote_item(item);
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    fn string_literal(&mut self, item: Item) -> StringLiteral {
        let bytes = self.unquote_item(item);
        let pos_range = PositionRange::new(item.pos, item.end);
        match String::from_utf8(bytes) {
            Ok(val) => StringLiteral {
                val,
                invalid_utf8: None,
                pos_range,
            },
            Err(e) => StringLiteral {
                val: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                invalid_utf8: Some(e.into_bytes()),
                pos_range,
            },
        }
    }

    // ----- Selectors -----

    /// `name` or `name{…}`.
    fn parse_named_selector(&mut self) -> R<VectorSelector> {
        let item = self.advance();
        let name = item.text(self.input).to_string();
        if self.peek()? == T::LeftBrace {
            let mut vs = self.parse_braced_selector(Some((name, item.pos)))?;
            self.assemble_name(&mut vs);
            return Ok(vs);
        }
        let mut vs = VectorSelector {
            name,
            pos_range: PositionRange::new(item.pos, item.end),
            ..VectorSelector::default()
        };
        self.assemble_name(&mut vs);
        Ok(vs)
    }

    /// A name written before the braces becomes the last matcher.
    fn assemble_name(&mut self, vs: &mut VectorSelector) {
        if vs.name.is_empty() {
            return;
        }
        match Matcher::new(MatchType::Equal, "__name__", vs.name.clone()) {
            Ok(m) => vs.label_matchers.push(m),
            Err(e) => self.error(vs.pos_range, e.to_string()),
        }
    }

    /// `{matcher, …}`; `name` is the metric name written before the braces.
    fn parse_braced_selector(&mut self, name: Option<(String, usize)>) -> R<VectorSelector> {
        let lb = self.advance();
        let mut matchers = Vec::new();
        let rb = if self.peek()? == T::RightBrace {
            self.advance()
        } else {
            loop {
                if let Some(m) = self.parse_label_matcher()? {
                    matchers.push(m);
                }
                match self.peek()? {
                    T::Comma => {
                        self.advance();
                        if self.peek()? == T::RightBrace {
                            break self.advance();
                        }
                    }
                    T::RightBrace => break self.advance(),
                    _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
                }
            }
        };
        let (name, start) = match name {
            Some((n, s)) => (n, s),
            None => (String::new(), lb.pos),
        };
        Ok(VectorSelector {
            name,
            label_matchers: matchers,
            pos_range: PositionRange::new(start, rb.end),
            ..VectorSelector::default()
        })
    }

    fn parse_label_matcher(&mut self) -> R<Option<Matcher>> {
        let k = self.peek()?;
        let (name, name_pos) = match k {
            T::Identifier => {
                let it = self.advance();
                let op = self.peek()?;
                if !matches!(op, T::Eql | T::Neq | T::EqlRegex | T::NeqRegex) {
                    return Err(self.unexpected("label matching", "label matching operator"));
                }
                (it.text(self.input).to_string(), it.pos)
            }
            T::String => {
                let it = self.advance();
                let name = self.unquote_lossy(it);
                if !matches!(self.peek()?, T::Eql | T::Neq | T::EqlRegex | T::NeqRegex) {
                    // A quoted name alone is the metric name.
                    return match Matcher::new(MatchType::Equal, "__name__", name) {
                        Ok(m) => Ok(Some(m)),
                        Err(e) => {
                            self.error(PositionRange::new(it.pos, it.end), e.to_string());
                            Ok(None)
                        }
                    };
                }
                (name, it.pos)
            }
            _ => return Err(self.unexpected("label matching", "identifier or \"}\"")),
        };
        let op = match self.advance().kind {
            T::Eql => MatchType::Equal,
            T::Neq => MatchType::NotEqual,
            T::EqlRegex => MatchType::RegexMatch,
            _ => MatchType::RegexNoMatch,
        };
        let value = self.expect_in(T::String, ("label matching", "string"))?;
        let val = self.unquote_lossy(value);
        match Matcher::new(op, name, val) {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                self.error(PositionRange::new(name_pos, value.end), e.to_string());
                Ok(None)
            }
        }
    }

    // ----- Calls and aggregations -----

    /// `( expr, … )`, reporting a trailing comma as Prometheus does.
    #[inline(never)]
    fn parse_call_body(&mut self) -> R<(Vec<Expr>, u32)> {
        self.expect(T::LeftParen)?;
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek()? == T::RightParen {
            self.advance();
            return Ok((args, depth));
        }
        loop {
            let (e, d) = self.parse_expr(0)?;
            depth = depth.max(d);
            args.push(*e);
            match self.peek()? {
                T::Comma => {
                    let comma = self.advance();
                    if self.peek()? == T::RightParen {
                        self.error(
                            PositionRange::new(comma.pos, comma.end),
                            "trailing commas not allowed in function call args",
                        );
                        self.advance();
                        return Ok((args, depth));
                    }
                }
                T::RightParen => {
                    self.advance();
                    return Ok((args, depth));
                }
                _ => return Err(self.unexpected_generic()),
            }
        }
    }

    #[inline(never)]
    fn parse_call(&mut self) -> R<Node> {
        let name_item = self.advance();
        let body = self.parse_call_body()?;
        self.new_call(name_item, body)
    }

    #[inline(never)]
    fn new_call(&mut self, name_item: Item, (args, depth): (Vec<Expr>, u32)) -> R<Node> {
        let name = name_item.text(self.input);
        let name_pos = PositionRange::new(name_item.pos, name_item.end);
        let func = match get_function(name) {
            Some(f) => {
                if f.experimental && !self.opts.enable_experimental_functions {
                    self.error(
                        name_pos,
                        format!("function {} is not enabled", go_quote(name)),
                    );
                }
                f
            }
            None => {
                self.error(
                    name_pos,
                    format!("unknown function with name {}", go_quote(name)),
                );
                &UNKNOWN_FUNCTION
            }
        };
        let depth = self.check_depth(depth + 1)?;
        Ok((
            Box::new(Expr::Call(Call {
                func,
                args,
                pos_range: PositionRange::new(name_item.pos, self.last_closing),
            })),
            depth,
        ))
    }

    fn parse_aggregate_modifier(&mut self) -> R<(Vec<String>, bool)> {
        let without = self.advance().kind == T::Without;
        Ok((self.parse_grouping_labels()?, without))
    }

    #[inline(never)]
    fn parse_aggregate(&mut self) -> R<Node> {
        let op_item = self.advance();
        self.agg_depth += 1;
        let mut modifier = None;
        if matches!(self.peek()?, T::By | T::Without) {
            modifier = Some(self.parse_aggregate_modifier()?);
        }
        let body = self.parse_call_body()?;
        if modifier.is_none() && matches!(self.peek()?, T::By | T::Without) {
            modifier = Some(self.parse_aggregate_modifier()?);
        }
        self.agg_depth -= 1;
        self.new_aggregate(op_item, modifier, body)
    }

    #[inline(never)]
    fn new_aggregate(
        &mut self,
        op_item: Item,
        modifier: Option<(Vec<String>, bool)>,
        (args, depth): (Vec<Expr>, u32),
    ) -> R<Node> {
        let Some(op) = aggregate_op(op_item.kind) else {
            return Err(self.unexpected_generic());
        };
        let (grouping, without) = modifier.unwrap_or_default();
        let pos_range = PositionRange::new(op_item.pos, self.last_closing);
        let mut agg = AggregateExpr {
            op,
            expr: Box::new(zero_literal()),
            param: None,
            grouping,
            without,
            pos_range,
        };
        let depth = self.check_depth(depth + 1)?;
        if args.is_empty() {
            self.error(pos_range, "no arguments for aggregate expression provided");
            return Ok((Box::new(Expr::Aggregate(agg)), depth));
        }
        let mut desired = 1;
        let mut args = args.into_iter();
        if op.takes_param() {
            if op.is_experimental() && !self.opts.enable_experimental_functions {
                self.error(
                    pos_range,
                    format!(
                        "{op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions"
                    ),
                );
                return Ok((Box::new(Expr::Aggregate(agg)), depth));
            }
            desired = 2;
        }
        if args.len() != desired {
            let got = args.len();
            self.error(
                pos_range,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {got}"
                ),
            );
            return Ok((Box::new(Expr::Aggregate(agg)), depth));
        }
        if desired == 2 {
            agg.param = args.next().map(Box::new);
        }
        if let Some(e) = args.next() {
            agg.expr = Box::new(e);
        }
        Ok((Box::new(Expr::Aggregate(agg)), depth))
    }

    // ----- Ranges, subqueries and modifiers -----

    #[inline(never)]
    fn parse_range_or_subquery(&mut self, expr: Box<Expr>) -> R<Box<Expr>> {
        let lb = self.advance();
        let range = self.parse_positive_duration(DurCtx::Range)?;
        match self.peek()? {
            T::RightBracket => {
                let rb = self.advance();
                Ok(Box::new(self.new_matrix(expr, *range, lb, rb)))
            }
            T::Colon => {
                self.advance();
                let step = if self.peek()? == T::RightBracket {
                    None
                } else {
                    let s = self.parse_positive_duration(DurCtx::Step)?;
                    if self.peek()? != T::RightBracket {
                        return Err(self.unexpected("subquery selector", "\"]\""));
                    }
                    Some(s)
                };
                let rb = self.advance();
                let (range, range_expr) = split_duration(*range);
                let (step, step_expr) = match step {
                    Some(s) => split_duration(*s),
                    None => (Duration::ZERO, None),
                };
                Ok(Box::new(Expr::Subquery(SubqueryExpr {
                    expr,
                    range,
                    range_expr,
                    original_offset: Duration::ZERO,
                    original_offset_expr: None,
                    offset: Duration::ZERO,
                    at: None,
                    step,
                    step_expr,
                    end_pos: rb.pos + 1,
                })))
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    fn new_matrix(&mut self, expr: Box<Expr>, range: Expr, lb: Item, rb: Item) -> Expr {
        let msg = match &*expr {
            Expr::VectorSelector(vs) => {
                if !vs.original_offset.is_zero() || vs.original_offset_expr.is_some() {
                    Some("no offset modifiers allowed before range")
                } else if vs.at.is_some() {
                    Some("no @ modifiers allowed before range")
                } else {
                    None
                }
            }
            _ => Some("ranges only allowed for vector selectors"),
        };
        if let Some(msg) = msg {
            self.error(PositionRange::new(lb.pos, rb.end), msg);
        }
        let (range, range_expr) = split_duration(range);
        Expr::MatrixSelector(MatrixSelector {
            vector_selector: expr,
            range,
            range_expr,
            end_pos: self.last_closing,
        })
    }

    /// A duration in brackets; a literal must be positive.
    fn parse_positive_duration(&mut self, ctx: DurCtx) -> R<Box<Expr>> {
        let (e, _) = self.parse_dur_expr(ctx, 0)?;
        if let Expr::NumberLiteral(nl) = &*e
            && nl.val <= 0.0
        {
            let pos = nl.pos_range;
            self.error(pos, "duration must be greater than 0");
            return Ok(Box::new(zero_literal()));
        }
        Ok(e)
    }

    #[inline(never)]
    fn parse_dur_expr(&mut self, ctx: DurCtx, min_prec: u8) -> R<Node> {
        self.enter()?;
        let node = self.parse_dur_unary(ctx)?;
        let node = self.parse_dur_rest(ctx, node, min_prec)?;
        self.leave();
        Ok(node)
    }

    #[inline(never)]
    fn parse_dur_rest(&mut self, ctx: DurCtx, (mut lhs, mut depth): Node, min_prec: u8) -> R<Node> {
        while let Some((op, prec)) = duration_op(self.peek()?) {
            if prec < min_prec {
                break;
            }
            let op_item = self.advance();
            let next_min = if op == DurationOp::Pow {
                prec
            } else {
                prec + 1
            };
            let (rhs, rdepth) = self.parse_dur_expr(ctx, next_min)?;
            lhs = self.new_dur_binary(lhs, op, op_item, rhs);
            depth = self.check_depth(depth.max(rdepth) + 1)?;
        }
        Ok((lhs, depth))
    }

    #[inline(never)]
    fn parse_dur_unary(&mut self, ctx: DurCtx) -> R<Node> {
        match self.peek()? {
            T::Add | T::Sub => self.parse_dur_signed(ctx),
            T::Number | T::Duration => Ok((self.dur_literal(), 1)),
            T::Step | T::Range => Ok((self.parse_step_or_range(ctx)?, 1)),
            T::MaxOf | T::MinOf => self.parse_dur_min_max(ctx),
            T::LeftParen => self.parse_dur_paren(ctx),
            _ => {
                let (c, e) = ctx.context();
                Err(self.unexpected(c, e))
            }
        }
    }

    #[inline(never)]
    fn parse_dur_signed(&mut self, ctx: DurCtx) -> R<Node> {
        let op = self.advance();
        let (operand, depth) = self.parse_dur_expr(ctx, 6)?;
        Ok((self.apply_unary_dur(op, operand, false), depth + 1))
    }

    #[inline(never)]
    fn parse_dur_min_max(&mut self, ctx: DurCtx) -> R<Node> {
        let kw = self.advance();
        let (lhs, rhs, rp, depth) = self.parse_min_max_args(ctx)?;
        let de = Box::new(Expr::Duration(DurationExpr {
            op: if kw.kind == T::MaxOf {
                DurationOp::MaxOf
            } else {
                DurationOp::MinOf
            },
            lhs: Some(lhs),
            rhs: Some(rhs),
            wrapped: false,
            start_pos: kw.pos,
            end_pos: rp.end,
        }));
        self.experimental_duration(&de);
        Ok((de, depth + 1))
    }

    #[inline(never)]
    fn parse_dur_paren(&mut self, ctx: DurCtx) -> R<Node> {
        let start = self.advance().pos;
        let (inner, depth) = self.parse_dur_expr(ctx, 0)?;
        let end = self.expect_in(T::RightParen, ctx.context())?.end;
        self.experimental_duration(&inner);
        Ok((wrap_paren(inner, start, end), depth + 1))
    }

    /// A number or duration in a duration expression; out of `time.Duration`'s range
    /// it is reported and replaced by zero.
    fn dur_literal(&mut self) -> Box<Expr> {
        let e = self.parse_number_literal();
        if let Expr::NumberLiteral(nl) = &e
            && duration_out_of_range(nl.val)
        {
            let pos = nl.pos_range;
            self.error(pos, "duration out of range");
            return Box::new(zero_literal());
        }
        Box::new(e)
    }

    fn parse_step_or_range(&mut self, ctx: DurCtx) -> R<Box<Expr>> {
        let kw = self.advance();
        self.expect_in(T::LeftParen, ctx.context())?;
        let rp = self.expect_in(T::RightParen, ctx.context())?;
        let de = Box::new(Expr::Duration(DurationExpr {
            op: if kw.kind == T::Step {
                DurationOp::Step
            } else {
                DurationOp::Range
            },
            lhs: None,
            rhs: None,
            wrapped: false,
            start_pos: kw.pos,
            end_pos: rp.end,
        }));
        self.experimental_duration(&de);
        Ok(de)
    }

    fn parse_min_max_args(&mut self, ctx: DurCtx) -> R<(Box<Expr>, Box<Expr>, Item, u32)> {
        self.expect_in(T::LeftParen, ctx.context())?;
        let (a, da) = self.parse_dur_expr(ctx, 0)?;
        self.expect_in(T::Comma, ctx.context())?;
        let (b, db) = self.parse_dur_expr(ctx, 0)?;
        let rp = self.expect_in(T::RightParen, ctx.context())?;
        Ok((a, b, rp, da.max(db)))
    }

    fn new_dur_binary(
        &mut self,
        lhs: Box<Expr>,
        op: DurationOp,
        op_item: Item,
        rhs: Box<Expr>,
    ) -> Box<Expr> {
        self.experimental_duration(&lhs);
        let zero_rhs = matches!(&*rhs, Expr::NumberLiteral(nl) if nl.val == 0.0);
        if zero_rhs && matches!(op, DurationOp::Div | DurationOp::Mod) {
            let msg = if op == DurationOp::Div {
                "division by zero"
            } else {
                "modulo by zero"
            };
            self.error(PositionRange::new(op_item.pos, op_item.end), msg);
            return Box::new(zero_literal());
        }
        Box::new(Expr::Duration(DurationExpr {
            op,
            lhs: Some(lhs),
            rhs: Some(rhs),
            wrapped: false,
            start_pos: 0,
            end_pos: 0,
        }))
    }

    fn experimental_duration(&mut self, e: &Expr) {
        if !self.opts.experimental_duration_expr {
            let pos = e.pos_range();
            self.error(pos, "experimental duration expression is not enabled");
        }
    }

    fn apply_unary_dur(&mut self, op: Item, e: Box<Expr>, wrapped: bool) -> Box<Expr> {
        let mut e = if wrapped {
            let pr = e.pos_range();
            wrap_paren(e, pr.start, pr.end)
        } else {
            e
        };
        match &mut *e {
            Expr::Duration(_) => {
                if op.kind == T::Sub {
                    Box::new(Expr::Duration(DurationExpr {
                        op: DurationOp::Sub,
                        lhs: None,
                        rhs: Some(e),
                        wrapped: false,
                        start_pos: op.pos,
                        end_pos: 0,
                    }))
                } else {
                    e
                }
            }
            Expr::NumberLiteral(nl) => {
                if op.kind == T::Sub {
                    nl.val = -nl.val;
                }
                if duration_out_of_range(nl.val) {
                    self.error(PositionRange::new(op.pos, op.end), "duration out of range");
                    return Box::new(zero_literal());
                }
                nl.pos_range.start = op.pos;
                e
            }
            _ => {
                self.error(
                    PositionRange::new(op.pos, op.end),
                    "expected number literal or duration expression",
                );
                Box::new(zero_literal())
            }
        }
    }

    /// What may follow `offset`. A literal (optionally signed), `step()`, `range()`,
    /// `min_of(…)`, `max_of(…)` or a signed parenthesis ends the offset; only a
    /// parenthesised expression (or a doubly signed one) goes on with duration
    /// operators, which is how yacc resolves the grammar's conflicts.
    fn parse_offset_duration(&mut self) -> R<Box<Expr>> {
        let ctx = DurCtx::Offset;
        match self.peek()? {
            T::Number | T::Duration => Ok(self.dur_literal()),
            T::Add | T::Sub => self.parse_offset_signed(),
            T::Step | T::Range => self.parse_step_or_range(ctx),
            T::MaxOf | T::MinOf => Ok(self.parse_dur_min_max(ctx)?.0),
            T::LeftParen => {
                let node = self.parse_dur_paren(ctx)?;
                Ok(self.parse_dur_rest(ctx, node, 0)?.0)
            }
            _ => {
                let (c, e) = ctx.context();
                Err(self.unexpected(c, e))
            }
        }
    }

    fn parse_offset_signed(&mut self) -> R<Box<Expr>> {
        let ctx = DurCtx::Offset;
        let op = self.advance();
        let sub = op.kind == T::Sub;
        let sign = if sub {
            DurationOp::Sub
        } else {
            DurationOp::Add
        };
        match self.peek()? {
            T::Number | T::Duration => {
                let mut e = Box::new(self.parse_number_literal());
                let Expr::NumberLiteral(nl) = &mut *e else {
                    return Err(Stop);
                };
                if sub {
                    nl.val = -nl.val;
                }
                if duration_out_of_range(nl.val) {
                    self.error(PositionRange::new(op.pos, op.end), "duration out of range");
                    return Ok(Box::new(zero_literal()));
                }
                nl.pos_range.start = op.pos;
                Ok(e)
            }
            T::Step | T::Range => {
                let inner = self.parse_step_or_range(ctx)?;
                let de = Box::new(Expr::Duration(DurationExpr {
                    op: sign,
                    lhs: None,
                    rhs: Some(inner),
                    wrapped: false,
                    start_pos: op.pos,
                    end_pos: 0,
                }));
                self.experimental_duration(&de);
                Ok(de)
            }
            T::MaxOf | T::MinOf => {
                let kw = self.advance();
                let (a, b, _rp, _) = self.parse_min_max_args(ctx)?;
                // Prometheus ends both nodes at the second argument here.
                let end = b.pos_range().end;
                let inner = Box::new(Expr::Duration(DurationExpr {
                    op: if kw.kind == T::MaxOf {
                        DurationOp::MaxOf
                    } else {
                        DurationOp::MinOf
                    },
                    lhs: Some(a),
                    rhs: Some(b),
                    wrapped: false,
                    start_pos: kw.pos,
                    end_pos: end,
                }));
                let de = Box::new(Expr::Duration(DurationExpr {
                    op: sign,
                    lhs: None,
                    rhs: Some(inner),
                    wrapped: false,
                    start_pos: op.pos,
                    end_pos: end,
                }));
                self.experimental_duration(&de);
                Ok(de)
            }
            T::LeftParen => {
                self.advance();
                let (inner, _) = self.parse_dur_expr(ctx, 0)?;
                self.expect_in(T::RightParen, ctx.context())?;
                Ok(self.apply_unary_dur(op, inner, true))
            }
            _ => {
                let (operand, depth) = self.parse_dur_expr(ctx, 6)?;
                let e = self.apply_unary_dur(op, operand, false);
                Ok(self.parse_dur_rest(ctx, (e, depth + 1), 0)?.0)
            }
        }
    }

    fn add_offset(&mut self, e: &mut Expr, off: Expr) {
        let pos = e.pos_range();
        let last_closing = self.last_closing;
        let (offset, offset_expr, end) = match e {
            Expr::VectorSelector(vs) => (
                &mut vs.original_offset,
                &mut vs.original_offset_expr,
                &mut vs.pos_range.end,
            ),
            Expr::MatrixSelector(ms) => match &mut *ms.vector_selector {
                Expr::VectorSelector(vs) => (
                    &mut vs.original_offset,
                    &mut vs.original_offset_expr,
                    &mut ms.end_pos,
                ),
                _ => {
                    self.error(pos, "ranges only allowed for vector selectors");
                    return;
                }
            },
            Expr::Subquery(sq) => (
                &mut sq.original_offset,
                &mut sq.original_offset_expr,
                &mut sq.end_pos,
            ),
            _ => {
                self.error(
                    pos,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                return;
            }
        };
        if !offset.is_zero() || offset_expr.is_some() {
            self.errors.push(ParseErr::new(
                pos,
                "offset may not be set multiple times",
                self.query.clone(),
            ));
        } else {
            match off {
                Expr::NumberLiteral(nl) => *offset = Duration::from_secs_f64(nl.val),
                Expr::Duration(de) => *offset_expr = Some(Box::new(de)),
                _ => {}
            }
        }
        *end = last_closing;
    }

    fn parse_at(&mut self, e: &mut Expr) -> R<()> {
        let ctx = ("@", "timestamp");
        match self.peek()? {
            k @ (T::Add | T::Sub) => {
                self.advance();
                if !matches!(self.peek()?, T::Number | T::Duration) {
                    return Err(self.unexpected(ctx.0, ctx.1));
                }
                let Expr::NumberLiteral(nl) = self.parse_number_literal() else {
                    return Err(Stop);
                };
                let ts = if k == T::Sub { -nl.val } else { nl.val };
                self.set_timestamp(e, ts);
            }
            T::Number | T::Duration => {
                let Expr::NumberLiteral(nl) = self.parse_number_literal() else {
                    return Err(Stop);
                };
                self.set_timestamp(e, nl.val);
            }
            k @ (T::Start | T::End) => {
                self.advance();
                self.expect_in(T::LeftParen, ctx)?;
                self.expect_in(T::RightParen, ctx)?;
                let at = if k == T::Start {
                    AtModifier::Start
                } else {
                    AtModifier::End
                };
                self.set_at(e, at);
            }
            _ => return Err(self.unexpected(ctx.0, ctx.1)),
        }
        Ok(())
    }

    fn set_timestamp(&mut self, e: &mut Expr, ts: f64) {
        // `i64::MAX as f64` rounds up to 2^63, which is what Go compares with too.
        if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
            let pos = e.pos_range();
            self.error(
                pos,
                format!(
                    "timestamp out of bounds for @ modifier: {}",
                    crate::strconv::format_go_f6(ts)
                ),
            );
        }
        let ms = (ts * 1000.0).round() as i64;
        self.set_at(e, AtModifier::Timestamp(ms));
    }

    fn set_at(&mut self, e: &mut Expr, at: AtModifier) {
        let pos = e.pos_range();
        let last_closing = self.last_closing;
        let (slot, end) = match e {
            Expr::VectorSelector(vs) => (&mut vs.at, &mut vs.pos_range.end),
            Expr::MatrixSelector(ms) => match &mut *ms.vector_selector {
                Expr::VectorSelector(vs) => (&mut vs.at, &mut ms.end_pos),
                _ => {
                    self.error(pos, "ranges only allowed for vector selectors");
                    return;
                }
            },
            Expr::Subquery(sq) => (&mut sq.at, &mut sq.end_pos),
            _ => {
                self.error(
                    pos,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                return;
            }
        };
        if slot.is_some() {
            self.errors.push(ParseErr::new(
                pos,
                "@ <timestamp> may not be set multiple times",
                self.query.clone(),
            ));
            return;
        }
        *slot = Some(at);
        *end = last_closing;
    }

    /// `anchored` / `smoothed`.
    fn set_extended(&mut self, e: &mut Expr, which: &str) {
        let pos = e.pos_range();
        if !self.opts.enable_extended_range_selectors {
            self.error(
                pos,
                format!("{which} modifier is experimental and not enabled"),
            );
            return;
        }
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => match &mut *ms.vector_selector {
                Expr::VectorSelector(vs) => vs,
                _ => return,
            },
            Expr::Subquery(_) => {
                self.error(
                    pos,
                    format!("{which} modifier is not supported for subqueries"),
                );
                return;
            }
            _ => {
                self.error(pos, format!("{which} modifier not implemented"));
                return;
            }
        };
        let conflict = if which == "anchored" {
            vs.anchored = true;
            vs.smoothed
        } else {
            vs.smoothed = true;
            vs.anchored
        };
        if conflict {
            self.error(
                pos,
                "anchored and smoothed modifiers cannot be used together",
            );
        }
    }
}

/// Marks a parenthesised duration expression; a bare number is lifted into a unary
/// `+` node so that printing keeps the parentheses.
fn wrap_paren(mut e: Box<Expr>, start: usize, end: usize) -> Box<Expr> {
    if let Expr::Duration(de) = &mut *e {
        de.wrapped = true;
        return e;
    }
    Box::new(Expr::Duration(DurationExpr {
        op: DurationOp::Add,
        lhs: None,
        rhs: Some(e),
        wrapped: true,
        start_pos: start,
        end_pos: end,
    }))
}

/// A literal becomes a [`Duration`], an expression stays an expression.
fn split_duration(e: Expr) -> (Duration, Option<Box<DurationExpr>>) {
    match e {
        Expr::NumberLiteral(nl) => (Duration::from_secs_f64(nl.val), None),
        Expr::Duration(de) => (Duration::ZERO, Some(Box::new(de))),
        _ => (Duration::ZERO, None),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Parser, ParserOptions, parse_expr};

    fn nested(n: usize) -> String {
        format!("{}1{}", "(".repeat(n), ")".repeat(n))
    }

    #[test]
    fn nesting_up_to_the_limit_parses_prints_and_checks() {
        let e = parse_expr(&nested(499)).expect("499 parentheses parse");
        assert_eq!(e.to_string(), nested(499));
        assert!(crate::prettify(&e).starts_with("(\n  ("));
        for q in [
            format!("x{}", " + x".repeat(499)),
            format!("x{}", " ^ x".repeat(499)),
            format!("{}x{}", "abs(".repeat(499), ")".repeat(499)),
            format!("{}x{}", "-".repeat(499), ""),
            format!("x{}", "[1m:]".repeat(499)).replace("[1m:][1m:]", "[1m:])[1m:]"),
        ] {
            let Ok(e) = Parser::new(ParserOptions::all()).parse_expr(&q) else {
                continue;
            };
            assert_eq!(
                parse_expr(&e.to_string()).map(|e| e.to_string()),
                Ok(e.to_string())
            );
            let _ = crate::prettify(&e);
            assert_eq!(e.clone(), e);
        }
    }

    #[test]
    fn deeper_nesting_is_refused_not_a_crash() {
        let too_deep = "query is nested too deeply: more than 500 levels";
        for q in [
            nested(500),
            nested(100_000),
            format!("{}1", "-".repeat(100_000)),
            format!("x{}", " + x".repeat(100_000)),
            format!("x{}", " ^ x".repeat(100_000)),
            format!("x{}", "[1m:]".repeat(2000)),
            format!("{}x{}", "abs(".repeat(5000), ")".repeat(5000)),
            format!("{}x{}", "sum(".repeat(5000), ")".repeat(5000)),
            format!("foo[{}1s]", "1s+".repeat(5000)),
            format!("foo[{}1s{}]", "(".repeat(5000), ")".repeat(5000)),
            format!("foo offset {}1s", "-".repeat(5000)),
        ] {
            let err = Parser::new(ParserOptions::all())
                .parse_expr(&q)
                .unwrap_err();
            assert_eq!(err.errors[0].message, too_deep, "{}", &q[..40.min(q.len())]);
        }
    }
}
