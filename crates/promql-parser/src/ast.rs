//! The PromQL syntax tree, shaped after Prometheus's `promql/parser/ast.go` so that the
//! engine, the rules and the API can follow Prometheus's code paths node for node.
//!
//! Every node knows its [`PositionRange`] in the query (byte offsets), computed the
//! way Prometheus computes it (some nodes store it, others derive it from their
//! children), because annotations and error messages quote those positions.

use crate::duration::Duration;
use crate::functions::Function;
use ember_model::Matcher;
use std::fmt;

/// A half-open byte range `[start, end)` in the query text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PositionRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PositionRange {
    /// The range `[start, end)`.
    pub const fn new(start: usize, end: usize) -> Self {
        PositionRange { start, end }
    }
}

/// The type an expression evaluates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// No value (only for malformed trees).
    None,
    /// An instant vector.
    Vector,
    /// A scalar.
    Scalar,
    /// A range vector.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// Prometheus's internal name: `vector`, `scalar`, `matrix`, `string`, `none`
    /// (also what the API's `resultType` says).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Vector => "vector",
            ValueType::Scalar => "scalar",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }

    /// The name the documentation uses: `instant vector`, `range vector`, `scalar`, …
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `avg`
    Avg,
    /// `bottomk`
    Bottomk,
    /// `count`
    Count,
    /// `count_values`
    CountValues,
    /// `group`
    Group,
    /// `max`
    Max,
    /// `min`
    Min,
    /// `quantile`
    Quantile,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `sum`
    Sum,
    /// `topk`
    Topk,
    /// `limitk` (experimental)
    Limitk,
    /// `limit_ratio` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Avg => "avg",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::Count => "count",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Group => "group",
            AggregateOp::Max => "max",
            AggregateOp::Min => "min",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Sum => "sum",
            AggregateOp::Topk => "topk",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the vector (`topk(5, x)`).
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// Whether the operator needs experimental functions enabled.
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `</`: trims the upper part of native histograms.
    TrimUpper,
    /// `>/`: trims the lower part of native histograms.
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=` (the operators `bool` applies to).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Gtr
                | BinaryOp::Lss
                | BinaryOp::Gte
                | BinaryOp::Lte
        )
    }

    /// `and`, `or`, `unless`.
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Binding strength, higher binds tighter: `or` 1, `and`/`unless` 2, comparisons
    /// (and the trim operators) 3, `+ -` 4, `* / % atan2` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Only `^` groups to the right.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
}

impl UnaryOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Add => "+",
            UnaryOp::Sub => "-",
        }
    }
}

/// Operators of duration expressions (`foo[5m + step()]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DurationOp {
    /// `+`, binary or unary.
    Add,
    /// `-`, binary or unary.
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `step()`: the query's step.
    Step,
    /// `range()`: the query's range.
    Range,
    /// `min_of(a, b)`
    MinOf,
    /// `max_of(a, b)`
    MaxOf,
}

impl DurationOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
            DurationOp::Step => "step",
            DurationOp::Range => "range",
            DurationOp::MinOf => "min_of",
            DurationOp::MaxOf => "max_of",
        }
    }
}

/// The `@` modifier of a selector or subquery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtModifier {
    /// `@ <timestamp>`, in milliseconds since the epoch.
    Timestamp(i64),
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// How series from the two sides of a binary operation pair up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VectorMatchCardinality {
    /// One-to-one (no `group_*`).
    #[default]
    OneToOne,
    /// `group_left`
    ManyToOne,
    /// `group_right`
    OneToMany,
    /// Set operators.
    ManyToMany,
}

impl fmt::Display for VectorMatchCardinality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VectorMatchCardinality::OneToOne => "one-to-one",
            VectorMatchCardinality::ManyToOne => "many-to-one",
            VectorMatchCardinality::OneToMany => "one-to-many",
            VectorMatchCardinality::ManyToMany => "many-to-many",
        })
    }
}

/// Values to use for a side of a binary operation that has no match (`fill(0)`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillValues {
    /// Fill-in for the left-hand side.
    pub lhs: Option<f64>,
    /// Fill-in for the right-hand side.
    pub rhs: Option<f64>,
}

/// Matching behaviour of a binary operation between two instant vectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorMatching {
    /// Cardinality of the two sides.
    pub card: VectorMatchCardinality,
    /// Labels of `on(…)` or `ignoring(…)`.
    pub matching_labels: Vec<String>,
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// Labels of `group_left(…)`/`group_right(…)` copied from the "one" side.
    pub include: Vec<String>,
    /// `fill`, `fill_left`, `fill_right`.
    pub fill_values: FillValues,
}

/// An aggregation: `sum by (job) (x)`, `topk(5, x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, …
    pub param: Option<Box<Expr>>,
    /// The labels of `by (…)` or `without (…)`.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Where the expression is.
    pub pos_range: PositionRange,
}

/// A binary operation.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// How series match; `None` unless both operands are instant vectors.
    pub vector_matching: Option<VectorMatching>,
    /// `bool` on a comparison: return 0/1 instead of filtering.
    pub return_bool: bool,
}

/// A function call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The function called.
    pub func: &'static Function,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Where the call is.
    pub pos_range: PositionRange,
}

/// A duration expression (`5m + step()`, `min_of(…)`, `(1h)`) in a range, a step or an
/// offset; its operands are [`NumberLiteral`]s and other [`DurationExpr`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct DurationExpr {
    /// The operator.
    pub op: DurationOp,
    /// Left operand (`None` for unary `+`/`-`, `step()`, `range()`).
    pub lhs: Option<Box<Expr>>,
    /// Right operand (`None` for `step()`, `range()`).
    pub rhs: Option<Box<Expr>>,
    /// Written in parentheses (kept so that printing round-trips).
    pub wrapped: bool,
    /// Start of unary operators, `step()`, `range()`, `min_of`, `max_of`.
    pub start_pos: usize,
    /// End of `step()`, `range()`, `min_of(…)`, `max_of(…)`.
    pub end_pos: usize,
}

impl DurationExpr {
    /// Where the expression is, as Prometheus computes it.
    pub fn pos_range(&self) -> PositionRange {
        match (&self.lhs, &self.rhs) {
            (None, None) => PositionRange::new(self.start_pos, self.end_pos),
            (Some(l), None) => PositionRange::new(self.start_pos, l.pos_range().end),
            (None, Some(r)) => PositionRange::new(self.start_pos, r.pos_range().end),
            (Some(l), Some(r)) => PositionRange::new(l.pos_range().start, r.pos_range().end),
        }
    }
}

/// A range vector selector: `foo[5m]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    /// The selector, an [`Expr::VectorSelector`] in every tree the parser accepts (a
    /// tree node rather than the struct, as in Prometheus, so that walks reach it); its
    /// `@`, offset and `anchored`/`smoothed` apply to the range.
    pub vector_selector: Box<Expr>,
    /// The range, when given as a literal.
    pub range: Duration,
    /// The range, when given as a duration expression.
    pub range_expr: Option<Box<DurationExpr>>,
    /// End of the expression (after `]` and any modifier).
    pub end_pos: usize,
}

impl MatrixSelector {
    /// The selector, when it is one (always, in a tree the parser accepted).
    pub fn vs(&self) -> Option<&VectorSelector> {
        match &*self.vector_selector {
            Expr::VectorSelector(vs) => Some(vs),
            _ => None,
        }
    }

    /// The selector, mutably, when it is one.
    pub fn vs_mut(&mut self) -> Option<&mut VectorSelector> {
        match &mut *self.vector_selector {
            Expr::VectorSelector(vs) => Some(vs),
            _ => None,
        }
    }
}

/// A subquery: `rate(x[5m])[1h:1m]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// The range, when given as a literal.
    pub range: Duration,
    /// The range, when given as a duration expression.
    pub range_expr: Option<Box<DurationExpr>>,
    /// The offset as written.
    pub original_offset: Duration,
    /// The offset, when given as a duration expression.
    pub original_offset_expr: Option<Box<DurationExpr>>,
    /// The offset the engine evaluates with; the parser leaves it zero.
    pub offset: Duration,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// The step when given as a literal; zero means the evaluation interval.
    pub step: Duration,
    /// The step, when given as a duration expression.
    pub step_expr: Option<Box<DurationExpr>>,
    /// End of the expression.
    pub end_pos: usize,
}

/// A number.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberLiteral {
    /// The value (seconds for durations).
    pub val: f64,
    /// Written as a duration (`5m`); printed as one.
    pub duration: bool,
    /// Where it is.
    pub pos_range: PositionRange,
}

/// A parenthesised expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// Where it is, parentheses included.
    pub pos_range: PositionRange,
}

/// A string.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLiteral {
    /// The unquoted value. When escapes produced bytes that are not UTF-8 (`"\xff"`),
    /// invalid sequences read as U+FFFD here and [`StringLiteral::invalid_utf8`] has
    /// the exact bytes.
    pub val: String,
    /// The exact bytes, only when they are not valid UTF-8.
    pub invalid_utf8: Option<Vec<u8>>,
    /// Where it is, quotes included.
    pub pos_range: PositionRange,
}

impl StringLiteral {
    /// The exact unquoted bytes.
    pub fn bytes(&self) -> &[u8] {
        self.invalid_utf8.as_deref().unwrap_or(self.val.as_bytes())
    }
}

/// A unary `-` or `+` on a non-literal.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
    /// Where the operator is.
    pub start_pos: usize,
}

/// Marks a subtree whose value is the same at every step. The engine inserts it; the
/// parser never produces it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInvariantExpr {
    /// The step-invariant expression.
    pub expr: Box<Expr>,
}

/// An instant vector selector: `foo{job="api"} offset 5m @ 100`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct VectorSelector {
    /// The metric name written before the braces, or empty.
    pub name: String,
    /// The offset as written.
    pub original_offset: Duration,
    /// The offset, when given as a duration expression.
    pub original_offset_expr: Option<Box<DurationExpr>>,
    /// The offset the engine evaluates with; the parser leaves it zero.
    pub offset: Duration,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// Set by the engine when only the float view of histograms is needed.
    pub skip_histogram_buckets: bool,
    /// The matchers in the order written; a name written before the braces comes
    /// last, as `__name__="name"`.
    pub label_matchers: Vec<Matcher>,
    /// Set for the second argument of `info()`, which may match everything.
    pub bypass_empty_matcher_check: bool,
    /// `anchored` (experimental extended range selectors).
    pub anchored: bool,
    /// `smoothed` (experimental extended range selectors).
    pub smoothed: bool,
    /// Where it is, modifiers included.
    pub pos_range: PositionRange,
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `sum by (x) (y)`
    Aggregate(AggregateExpr),
    /// `a + b`
    Binary(BinaryExpr),
    /// `rate(x[5m])`
    Call(Call),
    /// A duration expression (only inside ranges, steps and offsets).
    Duration(DurationExpr),
    /// `x[5m]`
    MatrixSelector(MatrixSelector),
    /// `1.5`, `5m`
    NumberLiteral(NumberLiteral),
    /// `(x)`
    Paren(ParenExpr),
    /// Engine-inserted step-invariance marker.
    StepInvariant(StepInvariantExpr),
    /// `"text"`
    StringLiteral(StringLiteral),
    /// `x[1h:1m]`
    Subquery(SubqueryExpr),
    /// `-x`
    Unary(UnaryExpr),
    /// `x{a="b"}`
    VectorSelector(VectorSelector),
}

impl Expr {
    /// The type the expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Aggregate(_) | Expr::VectorSelector(_) => ValueType::Vector,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.return_type,
            Expr::Duration(_) | Expr::NumberLiteral(_) => ValueType::Scalar,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(p) => p.expr.value_type(),
            Expr::StepInvariant(s) => s.expr.value_type(),
            Expr::StringLiteral(_) => ValueType::String,
            Expr::Unary(u) => u.expr.value_type(),
        }
    }

    /// Where the expression is in the query.
    pub fn pos_range(&self) -> PositionRange {
        match self {
            Expr::Aggregate(a) => a.pos_range,
            Expr::Binary(b) => PositionRange::new(b.lhs.pos_range().start, b.rhs.pos_range().end),
            Expr::Call(c) => c.pos_range,
            Expr::Duration(d) => d.pos_range(),
            Expr::MatrixSelector(m) => {
                PositionRange::new(m.vector_selector.pos_range().start, m.end_pos)
            }
            Expr::NumberLiteral(n) => n.pos_range,
            Expr::Paren(p) => p.pos_range,
            Expr::StepInvariant(s) => s.expr.pos_range(),
            Expr::StringLiteral(s) => s.pos_range,
            Expr::Subquery(s) => PositionRange::new(s.expr.pos_range().start, s.end_pos),
            Expr::Unary(u) => PositionRange::new(u.start_pos, u.expr.pos_range().end),
            Expr::VectorSelector(v) => v.pos_range,
        }
    }

    /// The direct sub-expressions, in Prometheus's order (aggregations: the vector
    /// before the parameter; a range selector's vector selector). Duration expressions
    /// in ranges and offsets are not children, as in Prometheus.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Aggregate(a) => {
                let mut v: Vec<&Expr> = vec![&a.expr];
                if let Some(p) = &a.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(b) => vec![&b.lhs, &b.rhs],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::MatrixSelector(m) => vec![&m.vector_selector],
            Expr::Paren(p) => vec![&p.expr],
            Expr::StepInvariant(s) => vec![&s.expr],
            Expr::Subquery(s) => vec![&s.expr],
            Expr::Unary(u) => vec![&u.expr],
            Expr::Duration(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_) => vec![],
        }
    }

    /// The direct sub-expressions, mutably, in the order of [`Expr::children`].
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Aggregate(a) => {
                let mut v: Vec<&mut Expr> = vec![&mut a.expr];
                if let Some(p) = &mut a.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(b) => vec![&mut b.lhs, &mut b.rhs],
            Expr::Call(c) => c.args.iter_mut().collect(),
            Expr::MatrixSelector(m) => vec![&mut m.vector_selector],
            Expr::Paren(p) => vec![&mut p.expr],
            Expr::StepInvariant(s) => vec![&mut s.expr],
            Expr::Subquery(s) => vec![&mut s.expr],
            Expr::Unary(u) => vec![&mut u.expr],
            Expr::Duration(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_) => vec![],
        }
    }

    /// Visits the tree depth-first, parents before children, passing each node with
    /// the path of its ancestors (root first), as Prometheus's `Inspect` does.
    pub fn inspect<'a>(&'a self, mut f: impl FnMut(&'a Expr, &[&'a Expr])) {
        fn go<'a>(e: &'a Expr, path: &mut Vec<&'a Expr>, f: &mut dyn FnMut(&'a Expr, &[&'a Expr])) {
            f(e, path);
            path.push(e);
            for c in e.children() {
                go(c, path, f);
            }
            path.pop();
        }
        go(self, &mut Vec::new(), &mut f);
    }

    /// The matchers of every vector selector, in the order they appear.
    pub fn extract_selectors(&self) -> Vec<Vec<Matcher>> {
        let mut out = Vec::new();
        self.inspect(|e, _| {
            if let Expr::VectorSelector(vs) = e {
                out.push(vs.label_matchers.clone());
            }
        });
        out
    }
}
