//! The pretty printer behind `/api/v1/format_query` (Prometheus's `prettier.go`).
//!
//! A node that prints longer than the line limit is split: aggregations and calls put
//! their arguments on indented lines, binary operations put each operand on its own
//! line with the operator between them at the parent's indentation. Nodes that fit
//! stay on one line. Comments are not kept, as in Prometheus.

use crate::ast::*;

/// Prometheus's line limit for [`prettify`].
pub const MAX_CHARACTERS_PER_LINE: usize = 100;

/// The expression formatted over several lines, split where a line would exceed
/// [`MAX_CHARACTERS_PER_LINE`].
pub fn prettify(e: &Expr) -> String {
    prettify_with_width(e, MAX_CHARACTERS_PER_LINE)
}

/// [`prettify`] with another line limit.
pub fn prettify_with_width(e: &Expr, max: usize) -> String {
    Pretty { max }.expr(e, 0)
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

struct Pretty {
    max: usize,
}

impl Pretty {
    fn needs_split(&self, e: &Expr) -> bool {
        e.to_string().len() > self.max
    }

    fn expr(&self, e: &Expr, level: usize) -> String {
        match e {
            Expr::Aggregate(a) => {
                let mut s = indent(level);
                if !self.needs_split(e) {
                    s.push_str(&e.to_string());
                    return s;
                }
                s.push_str(&a.short_string());
                s.push_str("(\n");
                if a.op.takes_param()
                    && let Some(p) = &a.param
                {
                    s.push_str(&self.expr(p, level + 1));
                    s.push_str(",\n");
                }
                s.push_str(&self.expr(&a.expr, level + 1));
                s.push('\n');
                s.push_str(&indent(level));
                s.push(')');
                s
            }
            Expr::Binary(b) => {
                if !self.needs_split(e) {
                    return format!("{}{e}", indent(level));
                }
                format!(
                    "{}\n{}{}\n{}",
                    self.expr(&b.lhs, level + 1),
                    indent(level),
                    b.short_string(),
                    self.expr(&b.rhs, level + 1)
                )
            }
            // Duration expressions only occur inside selectors, which print whole.
            Expr::Duration(_) => e.to_string(),
            Expr::Call(c) => {
                let mut s = indent(level);
                if !self.needs_split(e) {
                    s.push_str(&e.to_string());
                    return s;
                }
                s.push_str(c.func.name);
                s.push_str("(\n");
                let args: Vec<String> = c.args.iter().map(|a| self.expr(a, level + 1)).collect();
                s.push_str(&args.join(",\n"));
                s.push('\n');
                s.push_str(&indent(level));
                s.push(')');
                s
            }
            Expr::Paren(p) => {
                let s = indent(level);
                if !self.needs_split(e) {
                    return format!("{s}{e}");
                }
                format!(
                    "{s}(\n{}\n{})",
                    self.expr(&p.expr, level + 1),
                    indent(level)
                )
            }
            Expr::StepInvariant(s) => self.expr(&s.expr, level),
            // Prometheus does not indent a subquery that fits on its line.
            Expr::Subquery(sq) => {
                if !self.needs_split(e) {
                    return e.to_string();
                }
                format!("{}{}", self.expr(&sq.expr, level), sq.time_suffix())
            }
            Expr::Unary(u) => {
                let child = self.expr(&u.expr, level);
                format!("{}{}{}", indent(level), u.op.as_str(), child.trim())
            }
            Expr::MatrixSelector(_)
            | Expr::VectorSelector(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_) => format!("{}{e}", indent(level)),
        }
    }
}
