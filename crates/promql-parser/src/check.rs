//! Type checks of a parsed tree (Prometheus's `checkAST`): argument types and counts,
//! operand types of binary operators, `bool` and set-operator rules, selectors that
//! would select everything.
//!
//! They run only after a parse without errors, as in Prometheus, and they also
//! normalise the tree the way Prometheus does: set operators become many-to-many and
//! vector matching is dropped unless both operands are instant vectors.

use crate::ast::*;
use crate::lexer::is_space;
use crate::parser::Parser;
use crate::strconv::go_quote;

impl Parser<'_> {
    /// Checks `e` and returns its type.
    pub(crate) fn check(&mut self, e: &mut Expr) -> ValueType {
        let typ = e.value_type();
        match e {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression");
                let param_type = match a.op {
                    AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Quantile
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio => Some(ValueType::Scalar),
                    AggregateOp::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(p)) = (param_type, a.param.as_deref_mut()) {
                    self.expect_type(p, want, "aggregation parameter");
                }
            }
            Expr::Binary(b) => self.check_binary(b),
            Expr::Call(c) => self.check_call(c),
            Expr::Paren(p) => {
                self.check(&mut p.expr);
            }
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr);
                if t != ValueType::Scalar && t != ValueType::Vector {
                    let pos = PositionRange::new(u.start_pos, u.expr.pos_range().end);
                    self.error(
                        pos,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.documented())
                        ),
                    );
                }
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr);
                if t != ValueType::Vector {
                    let pos = PositionRange::new(s.expr.pos_range().start, s.end_pos);
                    self.error(
                        pos,
                        format!("subquery is only allowed on instant vector, got {t} instead"),
                    );
                }
            }
            Expr::MatrixSelector(m) => {
                self.check(&mut m.vector_selector);
            }
            Expr::VectorSelector(vs) => self.check_selector(vs),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            Expr::Duration(_) => {
                let pos = e.pos_range();
                self.error(pos, "unknown node type: *parser.DurationExpr");
            }
            Expr::StepInvariant(_) => {
                let pos = e.pos_range();
                self.error(pos, "unknown node type: *parser.StepInvariantExpr");
            }
        }
        typ
    }

    fn expect_type(&mut self, e: &mut Expr, want: ValueType, context: &str) {
        let t = self.check(e);
        if t != want {
            let pos = e.pos_range();
            self.error(
                pos,
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    t.documented()
                ),
            );
        }
    }

    /// The operator between two operands, trimmed of spaces; Prometheus's range ends
    /// on the operator's last byte rather than after it, and so does this one.
    fn op_range(&self, lhs: &Expr, rhs: &Expr) -> PositionRange {
        let b = self.input.as_bytes();
        let mut start = lhs.pos_range().end;
        while b.get(start).is_some_and(|c| is_space(*c as char)) {
            start += 1;
        }
        let mut end = rhs.pos_range().start.saturating_sub(1);
        while end > 0 && b.get(end).is_some_and(|c| is_space(*c as char)) {
            end -= 1;
        }
        PositionRange::new(start, end)
    }

    fn check_binary(&mut self, b: &mut BinaryExpr) {
        let lt = self.check(&mut b.lhs);
        let rt = self.check(&mut b.rhs);
        let range = PositionRange::new(b.lhs.pos_range().start, b.rhs.pos_range().end);

        if b.return_bool && !b.op.is_comparison() {
            let pos = self.op_range(&b.lhs, &b.rhs);
            self.error(
                pos,
                "bool modifier can only be used on comparison operators",
            );
        }
        if b.op.is_comparison()
            && !b.return_bool
            && b.rhs.value_type() == ValueType::Scalar
            && b.lhs.value_type() == ValueType::Scalar
        {
            let pos = self.op_range(&b.lhs, &b.rhs);
            self.error(pos, "comparisons between scalars must use BOOL modifier");
        }
        if let Some(vm) = &mut b.vector_matching
            && b.op.is_set_operator()
            && vm.card == VectorMatchCardinality::OneToOne
        {
            vm.card = VectorMatchCardinality::ManyToMany;
        }
        if let Some(vm) = &b.vector_matching
            && vm.on
        {
            let dup: Vec<String> = vm
                .matching_labels
                .iter()
                .filter(|l| vm.include.contains(l))
                .cloned()
                .collect();
            for l in dup {
                let pos = self.op_range(&b.lhs, &b.rhs);
                self.error(
                    pos,
                    format!(
                        "label {} must not occur in ON and GROUP clause at once",
                        go_quote(&l)
                    ),
                );
            }
        }
        if lt != ValueType::Scalar && lt != ValueType::Vector {
            let pos = b.lhs.pos_range();
            self.error(
                pos,
                "binary expression must contain only scalar and instant vector types",
            );
        }
        if rt != ValueType::Scalar && rt != ValueType::Vector {
            let pos = b.rhs.pos_range();
            self.error(
                pos,
                "binary expression must contain only scalar and instant vector types",
            );
        }

        let fill =
            |vm: &VectorMatching| vm.fill_values.lhs.is_some() || vm.fill_values.rhs.is_some();
        if (lt != ValueType::Vector || rt != ValueType::Vector) && b.vector_matching.is_some() {
            if let Some(vm) = &b.vector_matching {
                if !vm.matching_labels.is_empty() {
                    self.error(
                        range,
                        "vector matching only allowed between instant vectors",
                    );
                }
                if fill(vm) {
                    self.error(
                        range,
                        "filling in missing series only allowed between instant vectors",
                    );
                }
            }
            b.vector_matching = None;
        } else if b.op.is_set_operator()
            && let Some(vm) = &b.vector_matching
        {
            if matches!(
                vm.card,
                VectorMatchCardinality::OneToMany | VectorMatchCardinality::ManyToOne
            ) {
                self.error(
                    range,
                    format!(
                        "no grouping allowed for {} operation",
                        go_quote(b.op.as_str())
                    ),
                );
            }
            if vm.card != VectorMatchCardinality::ManyToMany {
                self.error(range, "set operations must always be many-to-many");
            }
            if fill(vm) {
                self.error(
                    range,
                    "filling in missing series not allowed for set operators",
                );
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set_operator() {
            self.error(
                range,
                format!(
                    "set operator {} not allowed in binary scalar expression",
                    go_quote(b.op.as_str())
                ),
            );
        }
    }

    fn check_call(&mut self, c: &mut Call) {
        let f = c.func;
        let nargs = f.arg_types.len();
        let name = go_quote(f.name);
        if f.variadic == 0 {
            if nargs != c.args.len() {
                self.error(
                    c.pos_range,
                    format!(
                        "expected {nargs} argument(s) in call to {name}, got {}",
                        c.args.len()
                    ),
                );
            }
        } else {
            let na = nargs.saturating_sub(1);
            if na > c.args.len() {
                self.error(
                    c.pos_range,
                    format!(
                        "expected at least {na} argument(s) in call to {name}, got {}",
                        c.args.len()
                    ),
                );
            } else if f.variadic > 0 {
                let max = na + f.variadic as usize;
                if max < c.args.len() {
                    self.error(
                        c.pos_range,
                        format!(
                            "expected at most {max} argument(s) in call to {name}, got {}",
                            c.args.len()
                        ),
                    );
                }
            }
        }

        if f.name == "info" && c.args.len() > 1 {
            let t = c.args[1].value_type();
            if t != ValueType::Vector {
                self.error(
                    c.pos_range,
                    format!(
                        "expected type instant vector in call to function {name}, got {}",
                        t.documented()
                    ),
                );
            }
            let pos = c.args[1].pos_range();
            match &mut c.args[1] {
                Expr::VectorSelector(vs) if !vs.name.is_empty() => {
                    self.error(
                        pos,
                        "expected label selectors only, got vector selector instead",
                    );
                }
                Expr::VectorSelector(vs) => vs.bypass_empty_matcher_check = true,
                _ => self.error(pos, "expected label selectors only"),
            }
        }

        for (i, arg) in c.args.iter_mut().enumerate() {
            let i = if i >= nargs {
                if f.variadic == 0 || nargs == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            let t = self.check(arg);
            let want = f.arg_types[i];
            if t != want {
                let pos = arg.pos_range();
                self.error(
                    pos,
                    format!(
                        "expected type {} in call to function {name}, got {}",
                        want.documented(),
                        t.documented()
                    ),
                );
            }
        }
    }

    fn check_selector(&mut self, vs: &mut VectorSelector) {
        if !vs.name.is_empty() {
            // The last matcher is the name written before the braces; a `__name__`
            // matcher among the others names the metric twice.
            let n = vs.label_matchers.len().saturating_sub(1);
            let twice: Vec<String> = vs.label_matchers[..n]
                .iter()
                .filter(|m| m.name == "__name__")
                .map(|m| m.value.clone())
                .collect();
            for v in twice {
                self.error(
                    vs.pos_range,
                    format!(
                        "metric name must not be set twice: {} or {}",
                        go_quote(&vs.name),
                        go_quote(&v)
                    ),
                );
            }
            return;
        }
        if !vs.bypass_empty_matcher_check && !vs.label_matchers.iter().any(|m| !m.matches_empty()) {
            self.error(
                vs.pos_range,
                "vector selector must contain at least one non-empty matcher",
            );
        }
    }
}
