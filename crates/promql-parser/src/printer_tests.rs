//! Printer and pretty-printer behaviours of Prometheus's `printer_test.go` and
//! `prettier_test.go`, and round trips: printing a tree and parsing the text gives
//! the same tree.

use crate::*;

/// Inputs and their prettified form with a 10-character line limit (Prometheus's
/// prettier tests).
const PRETTY_10: &[(&str, &str)] = &[
    (r#"sum(foo)"#, r#"sum(foo)"#),
    (
        r#"sum by() (task:errors:rate10s{job="s"})"#,
        r#"sum(
  task:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"sum without(job,foo) (task:errors:rate10s{job="s"})"#,
        r#"sum without (job, foo) (
  task:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"sum(task:errors:rate10s{job="s"}) without(job,foo)"#,
        r#"sum without (job, foo) (
  task:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"sum by(job,foo) (task:errors:rate10s{job="s"})"#,
        r#"sum by (job, foo) (
  task:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"sum (task:errors:rate10s{job="s"}) by(job,foo)"#,
        r#"sum by (job, foo) (
  task:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"topk(10, ask:errors:rate10s{job="s"})"#,
        r#"topk(
  10,
  ask:errors:rate10s{job="s"}
)"#,
    ),
    (
        r#"sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job="s"}))"#,
        r#"sum by (job, foo) (
  sum by (job, foo) (
    task:errors:rate10s{job="s"}
  )
)"#,
    ),
    (
        r#"sum by(job,foo) (sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job="s"})))"#,
        r#"sum by (job, foo) (
  sum by (job, foo) (
    sum by (job, foo) (
      task:errors:rate10s{job="s"}
    )
  )
)"#,
    ),
    (
        r#"sum by(job,foo)
(sum by(job,foo) (task:errors:rate10s{job="s"}))"#,
        r#"sum by (job, foo) (
  sum by (job, foo) (
    task:errors:rate10s{job="s"}
  )
)"#,
    ),
    (
        r#"sum by(job,foo)
(sum(task:errors:rate10s{job="s"}) without(job,foo))"#,
        r#"sum by (job, foo) (
  sum without (job, foo) (
    task:errors:rate10s{job="s"}
  )
)"#,
    ),
    (
        r#"sum by(job,foo) # Comment 1.
(sum by(job,foo) ( # Comment 2.
task:errors:rate10s{job="s"}))"#,
        r#"sum by (job, foo) (
  sum by (job, foo) (
    task:errors:rate10s{job="s"}
  )
)"#,
    ),
    (r#"a+b"#, r#"a + b"#),
    (
        r#"a == bool 1"#,
        r#"  a
== bool
  1"#,
    ),
    (
        r#"a + ignoring(job) b"#,
        r#"  a
+ ignoring (job)
  b"#,
    ),
    (
        r#"foo_1 + foo_2"#,
        r#"  foo_1
+
  foo_2"#,
    ),
    (
        r#"foo_1 + foo_2 + foo_3"#,
        r#"    foo_1
  +
    foo_2
+
  foo_3"#,
    ),
    (
        r#"foo + baar + foo_3"#,
        r#"  foo + baar
+
  foo_3"#,
    ),
    (
        r#"foo_1 + foo_2 + foo_3 + foo_4"#,
        r#"      foo_1
    +
      foo_2
  +
    foo_3
+
  foo_4"#,
    ),
    (
        r#"foo_1 + ignoring(foo) foo_2 + ignoring(job) group_left foo_3 + on(instance) group_right foo_4"#,
        r#"      foo_1
    + ignoring (foo)
      foo_2
  + ignoring (job) group_left ()
    foo_3
+ on (instance) group_right ()
  foo_4"#,
    ),
    (
        r#"rate(foo[1m])"#,
        r#"rate(
  foo[1m]
)"#,
    ),
    (
        r#"sum_over_time(foo[1m])"#,
        r#"sum_over_time(
  foo[1m]
)"#,
    ),
    (
        r#"rate(long_vector_selector[10m:1m] @ start() offset 1m)"#,
        r#"rate(
  long_vector_selector[10m:1m] @ start() offset 1m
)"#,
    ),
    (
        r#"histogram_quantile(0.9, rate(foo[1m]))"#,
        r#"histogram_quantile(
  0.9,
  rate(
    foo[1m]
  )
)"#,
    ),
    (
        r#"max_over_time(rate(demo_api_request_duration_seconds_count[1m])[1m:] @ start() offset 1m)"#,
        r#"max_over_time(
  rate(
    demo_api_request_duration_seconds_count[1m]
  )[1m:] @ start() offset 1m
)"#,
    ),
    (
        r#"label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")"#,
        r#"label_replace(
  up{job="api-server",service="a:c"},
  "foo",
  "$1",
  "service",
  "(.*):.*"
)"#,
    ),
    (
        r#"label_replace(label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*"), "foo", "$1", "service", "(.*):.*")"#,
        r#"label_replace(
  label_replace(
    up{job="api-server",service="a:c"},
    "foo",
    "$1",
    "service",
    "(.*):.*"
  ),
  "foo",
  "$1",
  "service",
  "(.*):.*"
)"#,
    ),
    (r#"(foo)"#, r#"(foo)"#),
    (
        r#"(_foo_long_)"#,
        r#"(
  _foo_long_
)"#,
    ),
    (
        r#"((foo_long))"#,
        r#"(
  (foo_long)
)"#,
    ),
    (
        r#"((_foo_long_))"#,
        r#"(
  (
    _foo_long_
  )
)"#,
    ),
    (
        r#"(((foo_long)))"#,
        r#"(
  (
    (foo_long)
  )
)"#,
    ),
    (r#"a @ 1"#, r#"a @ 1.000"#),
    (r#"a @ start()"#, r#"a @ start()"#),
    (
        r#"vector_selector @ start()"#,
        r#"vector_selector @ start()"#,
    ),
    (r#"(1 + 2)"#, r#"(1 + 2)"#),
    (
        r#"(foo + bar)"#,
        r#"(
  foo + bar
)"#,
    ),
    (
        r#"(foo_long + bar_long)"#,
        r#"(
    foo_long
  +
    bar_long
)"#,
    ),
    (
        r#"(foo_long + bar_long + bar_2_long)"#,
        r#"(
      foo_long
    +
      bar_long
  +
    bar_2_long
)"#,
    ),
    (
        r#"((foo_long + bar_long) + bar_2_long)"#,
        r#"(
    (
        foo_long
      +
        bar_long
    )
  +
    bar_2_long
)"#,
    ),
    (
        r#"(1111 + 2222)"#,
        r#"(
    1111
  +
    2222
)"#,
    ),
    (
        r#"(sum_over_time(foo[1m]))"#,
        r#"(
  sum_over_time(
    foo[1m]
  )
)"#,
    ),
    (
        r#"histogram_quantile(0.9, rate(foo[1m] @ start()))"#,
        r#"histogram_quantile(
  0.9,
  rate(
    foo[1m] @ start()
  )
)"#,
    ),
    (
        r#"(label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*"))"#,
        r#"(
  label_replace(
    up{job="api-server",service="a:c"},
    "foo",
    "$1",
    "service",
    "(.*):.*"
  )
)"#,
    ),
    (
        r#"(label_replace(label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*"), "foo", "$1", "service", "(.*):.*"))"#,
        r#"(
  label_replace(
    label_replace(
      up{job="api-server",service="a:c"},
      "foo",
      "$1",
      "service",
      "(.*):.*"
    ),
    "foo",
    "$1",
    "service",
    "(.*):.*"
  )
)"#,
    ),
    (
        r#"(label_replace(label_replace((up{job="api-server",service="a:c"}), "foo", "$1", "service", "(.*):.*"), "foo", "$1", "service", "(.*):.*"))"#,
        r#"(
  label_replace(
    label_replace(
      (
        up{job="api-server",service="a:c"}
      ),
      "foo",
      "$1",
      "service",
      "(.*):.*"
    ),
    "foo",
    "$1",
    "service",
    "(.*):.*"
  )
)"#,
    ),
    (
        r#"(node_filesystem_avail_bytes{job="node",fstype!=""} / node_filesystem_size_bytes{job="node",fstype!=""} * 100 < 40 and predict_linear(node_filesystem_avail_bytes{job="node",fstype!=""}[6h], 24*60*60) < 0 and node_filesystem_readonly{job="node",fstype!=""} == 0)"#,
        r#"(
            node_filesystem_avail_bytes{fstype!="",job="node"}
          /
            node_filesystem_size_bytes{fstype!="",job="node"}
        *
          100
      <
        40
    and
        predict_linear(
          node_filesystem_avail_bytes{fstype!="",job="node"}[6h],
            24 * 60
          *
            60
        )
      <
        0
  and
      node_filesystem_readonly{fstype!="",job="node"}
    ==
      0
)"#,
    ),
    (
        r#"(node_filesystem_avail_bytes{job="node",fstype!=""} / node_filesystem_size_bytes{job="node",fstype!=""} * 100 < 20 and predict_linear(node_filesystem_avail_bytes{job="node",fstype!=""}[6h], 4*60*60) < 0 and node_filesystem_readonly{job="node",fstype!=""} == 0)"#,
        r#"(
            node_filesystem_avail_bytes{fstype!="",job="node"}
          /
            node_filesystem_size_bytes{fstype!="",job="node"}
        *
          100
      <
        20
    and
        predict_linear(
          node_filesystem_avail_bytes{fstype!="",job="node"}[6h],
            4 * 60
          *
            60
        )
      <
        0
  and
      node_filesystem_readonly{fstype!="",job="node"}
    ==
      0
)"#,
    ),
    (
        r#"(node_timex_offset_seconds > 0.05 and deriv(node_timex_offset_seconds[5m]) >= 0) or (node_timex_offset_seconds < -0.05 and deriv(node_timex_offset_seconds[5m]) <= 0)"#,
        r#"  (
        node_timex_offset_seconds
      >
        0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      >=
        0
  )
or
  (
        node_timex_offset_seconds
      <
        -0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      <=
        0
  )"#,
    ),
    (
        r#"1 - ((node_memory_MemAvailable_bytes{job="node"} or (node_memory_Buffers_bytes{job="node"} + node_memory_Cached_bytes{job="node"} + node_memory_MemFree_bytes{job="node"} + node_memory_Slab_bytes{job="node"}) ) / node_memory_MemTotal_bytes{job="node"})"#,
        r#"  1
-
  (
      (
          node_memory_MemAvailable_bytes{job="node"}
        or
          (
                  node_memory_Buffers_bytes{job="node"}
                +
                  node_memory_Cached_bytes{job="node"}
              +
                node_memory_MemFree_bytes{job="node"}
            +
              node_memory_Slab_bytes{job="node"}
          )
      )
    /
      node_memory_MemTotal_bytes{job="node"}
  )"#,
    ),
    (
        r#"min by (job, integration) (rate(alertmanager_notifications_failed_total{job="alertmanager", integration=~".*"}[5m]) / rate(alertmanager_notifications_total{job="alertmanager", integration="~.*"}[5m])) > 0.01"#,
        r#"  min by (job, integration) (
      rate(
        alertmanager_notifications_failed_total{integration=~".*",job="alertmanager"}[5m]
      )
    /
      rate(
        alertmanager_notifications_total{integration="~.*",job="alertmanager"}[5m]
      )
  )
>
  0.01"#,
    ),
    (
        r#"(count by (job) (changes(process_start_time_seconds{job="alertmanager"}[10m]) > 4) / count by (job) (up{job="alertmanager"})) >= 0.5"#,
        r#"  (
      count by (job) (
          changes(
            process_start_time_seconds{job="alertmanager"}[10m]
          )
        >
          4
      )
    /
      count by (job) (
        up{job="alertmanager"}
      )
  )
>=
  0.5"#,
    ),
    (r#"-1"#, r#"-1"#),
    (r#"-vector_selector"#, r#"-vector_selector"#),
    (
        r#"(-vector_selector)"#,
        r#"(
  -vector_selector
)"#,
    ),
    (
        r#"-histogram_quantile(0.9,rate(foo[1m]))"#,
        r#"-histogram_quantile(
  0.9,
  rate(
    foo[1m]
  )
)"#,
    ),
    (
        r#"-histogram_quantile(0.99, sum by (le) (rate(foo[1m])))"#,
        r#"-histogram_quantile(
  0.99,
  sum by (le) (
    rate(
      foo[1m]
    )
  )
)"#,
    ),
    (
        r#"-histogram_quantile(0.9, -rate(foo[1m] @ start()))"#,
        r#"-histogram_quantile(
  0.9,
  -rate(
    foo[1m] @ start()
  )
)"#,
    ),
    (
        r#"(-histogram_quantile(0.9, -rate(foo[1m] @ start())))"#,
        r#"(
  -histogram_quantile(
    0.9,
    -rate(
      foo[1m] @ start()
    )
  )
)"#,
    ),
    (
        r#"rate(foo[2*1h])"#,
        r#"rate(
  foo[2 * 1h]
)"#,
    ),
    (
        r#"rate(foo[2*1h])"#,
        r#"rate(
  foo[2 * 1h]
)"#,
    ),
    (
        r#"rate(foo[-5m+35m])"#,
        r#"rate(
  foo[-5m + 35m]
)"#,
    ),
];

/// Inputs and their `String()` form (Prometheus's `TestExprString`).
const PRINTED: &[(&str, &str)] = &[
    (
        r#"sum by() (task:errors:rate10s{job="s"})"#,
        r#"sum(task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"sum by(code) (task:errors:rate10s{job="s"})"#,
        r#"sum by (code) (task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"sum without() (task:errors:rate10s{job="s"})"#,
        r#"sum without () (task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"sum without(instance) (task:errors:rate10s{job="s"})"#,
        r#"sum without (instance) (task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"sum by("foo.bar") (task:errors:rate10s{job="s"})"#,
        r#"sum by ("foo.bar") (task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"sum without("foo.bar") (task:errors:rate10s{job="s"})"#,
        r#"sum without ("foo.bar") (task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"topk(5, task:errors:rate10s{job="s"})"#,
        r#"topk(5, task:errors:rate10s{job="s"})"#,
    ),
    (
        r#"count_values("value", task:errors:rate10s{job="s"})"#,
        r#"count_values("value", task:errors:rate10s{job="s"})"#,
    ),
    (r#"a - on() c"#, r#"a - on () c"#),
    (r#"a - on(b) c"#, r#"a - on (b) c"#),
    (
        r#"a - on(b) group_left(x) c"#,
        r#"a - on (b) group_left (x) c"#,
    ),
    (
        r#"a - on(b) group_left(x, y) c"#,
        r#"a - on (b) group_left (x, y) c"#,
    ),
    (r#"a - on(b) group_left c"#, r#"a - on (b) group_left () c"#),
    (
        r#"a - on(b) group_left() (c)"#,
        r#"a - on (b) group_left () (c)"#,
    ),
    (r#"a - ignoring(b) c"#, r#"a - ignoring (b) c"#),
    (r#"a - ignoring() c"#, r#"a - c"#),
    (
        r#"a - ignoring() group_left c"#,
        r#"a - ignoring () group_left () c"#,
    ),
    (r#"a + fill(-23) b"#, r#"a + fill (-23) b"#),
    (r#"a + fill_left(-23) b"#, r#"a + fill_left (-23) b"#),
    (r#"a + fill_right(42) b"#, r#"a + fill_right (42) b"#),
    (
        r#"a + fill_left(-23) fill_right(42) b"#,
        r#"a + fill_left (-23) fill_right (42) b"#,
    ),
    (r#"a + fill_left(5) fill_right(5) b"#, r#"a + fill (5) b"#),
    (
        r#"a + on(b) group_left fill(-23) c"#,
        r#"a + on (b) group_left () fill (-23) c"#,
    ),
    (r#"up > bool 0"#, r#"up > bool 0"#),
    (r#"a offset 1m"#, r#"a offset 1m"#),
    (r#"a offset -7m"#, r#"a offset -7m"#),
    (r#"a{c="d"}[5m] offset 1m"#, r#"a{c="d"}[5m] offset 1m"#),
    (r#"a[5m] offset 1m"#, r#"a[5m] offset 1m"#),
    (r#"a[12m] offset -3m"#, r#"a[12m] offset -3m"#),
    (r#"a[1h:5m] offset 1m"#, r#"a[1h:5m] offset 1m"#),
    (r#"a anchored"#, r#"a anchored"#),
    (r#"a[5m] anchored"#, r#"a[5m] anchored"#),
    (r#"a{b="c"}[5m] anchored"#, r#"a{b="c"}[5m] anchored"#),
    (
        r#"a{b="c"}[5m] anchored offset 1m"#,
        r#"a{b="c"}[5m] anchored offset 1m"#,
    ),
    (
        r#"a{b="c"}[5m] anchored @ start() offset 1m"#,
        r#"a{b="c"}[5m] anchored @ start() offset 1m"#,
    ),
    (r#"a smoothed"#, r#"a smoothed"#),
    (r#"a[5m] smoothed"#, r#"a[5m] smoothed"#),
    (r#"a{b="c"}[5m] smoothed"#, r#"a{b="c"}[5m] smoothed"#),
    (
        r#"a{b="c"}[5m] smoothed offset 1m"#,
        r#"a{b="c"}[5m] smoothed offset 1m"#,
    ),
    (
        r#"a{b="c"}[5m] smoothed @ start() offset 1m"#,
        r#"a{b="c"}[5m] smoothed @ start() offset 1m"#,
    ),
    (r#"{__name__="a"}"#, r#"{__name__="a"}"#),
    (r#"a{b!="c"}[1m]"#, r#"a{b!="c"}[1m]"#),
    (r#"a{b=~"c"}[1m]"#, r#"a{b=~"c"}[1m]"#),
    (r#"a{b!~"c"}[1m]"#, r#"a{b!~"c"}[1m]"#),
    (r#"a @ 10"#, r#"a @ 10.000"#),
    (r#"a[1m] @ 10"#, r#"a[1m] @ 10.000"#),
    (r#"a @ start()"#, r#"a @ start()"#),
    (r#"a @ end()"#, r#"a @ end()"#),
    (r#"a[1m] @ start()"#, r#"a[1m] @ start()"#),
    (r#"a[1m] @ end()"#, r#"a[1m] @ end()"#),
    (r#"{__name__="",a="x"}"#, r#"{__name__="",a="x"}"#),
    (r#"{"a.b"="c"}"#, r#"{"a.b"="c"}"#),
    (r#"{"0"="1"}"#, r#"{"0"="1"}"#),
    (r#"{"_0"="1"}"#, r#"{_0="1"}"#),
    (r#"{""="0"}"#, r#"{""="0"}"#),
    (r#"{``="0"}"#, r#"{""="0"}"#),
    (r#"1048576"#, r#"1048576"#),
    (r#"foo[step()]"#, r#"foo[step()]"#),
    (r#"foo[-step()]"#, r#"foo[-step()]"#),
    (r#"foo[(step())]"#, r#"foo[(step())]"#),
    (r#"foo[-(step())]"#, r#"foo[-(step())]"#),
    (r#"foo offset step()"#, r#"foo offset step()"#),
    (r#"foo offset -step()"#, r#"foo offset -step()"#),
    (r#"foo offset (step())"#, r#"foo offset (step())"#),
    (r#"foo offset -(step())"#, r#"foo offset -(step())"#),
    (r#"foo offset +(5)"#, r#"foo offset (5)"#),
    (r#"foo offset -(5)"#, r#"foo offset -(5)"#),
    (r#"foo offset (5)"#, r#"foo offset (5)"#),
    (r#"foo offset (5m)"#, r#"foo offset (5m)"#),
    (r#"foo[(5s)]"#, r#"foo[(5s)]"#),
    (r#"foo[(5m):(1m)]"#, r#"foo[(5m):(1m)]"#),
    (
        r#"foo offset +min_of(10s, 20s)"#,
        r#"foo offset min_of(10s, 20s)"#,
    ),
    (
        r#"foo offset -min_of(10s, 20s)"#,
        r#"foo offset -min_of(10s, 20s)"#,
    ),
    (
        r#"foo offset -min_of(10s, +max_of(step() ^ 2, 2))"#,
        r#"foo offset -min_of(10s, max_of(step() ^ 2, 2))"#,
    ),
    (
        r#"foo[200-min_of(-step()^+step(),1)]"#,
        r#"foo[200 - min_of(-step() ^ step(), 1)]"#,
    ),
    (
        r#"foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]"#,
        r#"foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]"#,
    ),
    (r#"foo[range()]"#, r#"foo[range()]"#),
    (r#"foo[-range()]"#, r#"foo[-range()]"#),
    (r#"foo offset range()"#, r#"foo offset range()"#),
    (r#"foo offset -range()"#, r#"foo offset -range()"#),
    (r#"foo[max_of(range(), 5s)]"#, r#"foo[max_of(range(), 5s)]"#),
    (
        r#"predict_linear(foo[1h], 3000)"#,
        r#"predict_linear(foo[1h], 3000)"#,
    ),
    (r#"sum by("üüü") (foo)"#, r#"sum by ("üüü") (foo)"#),
    (
        r#"sum without("äää") (foo)"#,
        r#"sum without ("äää") (foo)"#,
    ),
    (
        r#"count by("ööö", job) (foo)"#,
        r#"count by ("ööö", job) (foo)"#,
    ),
];

fn all_options() -> Parser {
    Parser::new(ParserOptions::all())
}

#[test]
fn prints_like_prometheus() {
    let p = Parser::new(ParserOptions {
        experimental_duration_expr: true,
        enable_extended_range_selectors: true,
        enable_binop_fill_modifiers: true,
        enable_experimental_functions: false,
    });
    let mut bad = Vec::new();
    for (input, want) in PRINTED {
        match p.parse_expr(input) {
            Ok(e) if e.to_string() == *want => {}
            Ok(e) => bad.push(format!("{input:?}: got {:?}, want {want:?}", e.to_string())),
            Err(e) => bad.push(format!("{input:?}: {e}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn prints_utf8_labels_quoted() {
    for (input, want) in [
        (r#"foo / on("äää") bar"#, r#"foo / on ("äää") bar"#),
        (
            r#"foo / ignoring("üüü") bar"#,
            r#"foo / ignoring ("üüü") bar"#,
        ),
        (
            r#"foo / on("äää") group_left("ööö") bar"#,
            r#"foo / on ("äää") group_left ("ööö") bar"#,
        ),
        (
            r#"foo / on("äää") group_right("ööö") bar"#,
            r#"foo / on ("äää") group_right ("ööö") bar"#,
        ),
        (
            r#"foo / on(legacy, "üüü") bar"#,
            r#"foo / on (legacy, "üüü") bar"#,
        ),
        (
            r#"foo / on(job, instance) bar"#,
            r#"foo / on (job, instance) bar"#,
        ),
        (
            r#"{"my.metric", "a.b"="c", d!~"e"}"#,
            r#"{"a.b"="c",__name__="my.metric",d!~"e"}"#,
        ),
        (r#"sum by (a:b) (x)"#, r#"sum by ("a:b") (x)"#),
    ] {
        assert_eq!(
            parse_expr(input).map(|e| e.to_string()),
            Ok(want.to_string()),
            "{input}"
        );
    }
}

#[test]
fn prints_vector_selectors_like_prometheus() {
    use ember_model::MatchType::Equal;
    let m = |n: &str, v: &str| ember_model::Matcher::new(Equal, n, v).expect("matcher");
    let vs = |name: &str, ms: Vec<ember_model::Matcher>| {
        Expr::VectorSelector(VectorSelector {
            name: name.to_string(),
            label_matchers: ms,
            ..VectorSelector::default()
        })
        .to_string()
    };
    assert_eq!(vs("", vec![]), "");
    assert_eq!(vs("foobar", vec![]), "foobar");
    assert_eq!(vs("foobar", vec![m("a", "x")]), r#"foobar{a="x"}"#);
    assert_eq!(
        vs("foobar", vec![m("b", "y"), m("a", "x")]),
        r#"foobar{a="x",b="y"}"#
    );
    assert_eq!(vs("", vec![m("a", "x"), m("b", "y")]), r#"{a="x",b="y"}"#);
    assert_eq!(vs("foobar", vec![m("__name__", "foobar")]), "foobar");
    assert_eq!(
        vs("", vec![m("__name__", "foobar")]),
        r#"{__name__="foobar"}"#
    );
    assert_eq!(
        vs("", vec![m("__name__", ""), m("a", "x")]),
        r#"{__name__="",a="x"}"#
    );
}

#[test]
fn prints_literals_like_go() {
    for (input, want) in [
        ("1e21", "1000000000000000000000"),
        ("0x1f", "31"),
        ("0755", "493"),
        (".5", "0.5"),
        ("1_000", "1000"),
        ("-Inf", "-Inf"),
        ("Inf", "+Inf"),
        // Found by fuzzing: `+Inf ^ x` would read back as a unary plus over `Inf ^ x`.
        ("2^h8-8-inf^:280", "2 ^ h8 - 8 - Inf ^ :280"),
        ("inf + x", "+Inf + x"),
        ("nan", "NaN"),
        ("5m", "5m"),
        ("-5m", "-5m"),
        ("1h30m", "1h30m"),
        ("90m", "1h30m"),
        ("1.5", "1.5"),
        (r#""a\tb""#, r#""a\tb""#),
        (r#"'it\'s'"#, r#""it's""#),
        ("`a\\b`", r#""a\\b""#),
        (r#""\xff""#, r#""\xff""#),
        (r#""\u00e4""#, r#""ä""#),
        (r#""\u00a0""#, r#""\u00a0""#),
        ("foo @ 1.5", "foo @ 1.500"),
        ("foo @ -1", "foo @ -1.000"),
        ("foo offset 1d", "foo offset 1d"),
        ("foo offset 14d", "foo offset 2w"),
        ("foo[1.5]", "foo[1s500ms]"),
        ("foo[90d]", "foo[90d]"),
        ("foo[365d]", "foo[1y]"),
    ] {
        assert_eq!(
            parse_expr(input).map(|e| e.to_string()),
            Ok(want.to_string()),
            "{input}"
        );
    }
}

#[test]
fn prints_fill_values_as_go_does() {
    for (input, want) in [
        ("a + fill(1e6) b", "a + fill (1e+06) b"),
        ("a + fill(0.5) b", "a + fill (0.5) b"),
        ("a + fill(-Inf) b", "a + fill (-Inf) b"),
        ("a + fill(NaN) b", "a + fill_left (NaN) fill_right (NaN) b"),
        (
            "a + fill_right(1) fill_left(2) b",
            "a + fill_left (2) fill_right (1) b",
        ),
        ("a + fill(5m) b", "a + fill (300) b"),
    ] {
        assert_eq!(
            all_options().parse_expr(input).map(|e| e.to_string()),
            Ok(want.to_string()),
            "{input}"
        );
    }
}

#[test]
fn prettifies_like_prometheus() {
    let p = Parser::new(ParserOptions {
        experimental_duration_expr: true,
        ..ParserOptions::default()
    });
    let mut bad = Vec::new();
    for (input, want) in PRETTY_10 {
        match p.parse_expr(input) {
            Ok(e) => {
                let got = prettify_with_width(&e, 10);
                if got != *want {
                    bad.push(format!("{input:?}:\n{got}\n--- want ---\n{want}"));
                }
            }
            Err(e) => bad.push(format!("{input:?}: {e}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn prettify_keeps_short_queries_on_one_line() {
    let e = parse_expr("sum by (job) (rate(http_requests_total[5m]))").expect("parses");
    assert_eq!(prettify(&e), "sum by (job) (rate(http_requests_total[5m]))");
    let long = format!("{} + {}", "a".repeat(60), "b".repeat(60));
    let e = parse_expr(&long).expect("parses");
    assert_eq!(
        prettify(&e),
        format!("  {}\n+\n  {}", "a".repeat(60), "b".repeat(60))
    );
}

/// Parses the printed form of every table case and compares the trees.
#[test]
fn printing_round_trips() {
    let p = all_options();
    let mut bad = Vec::new();
    let inputs = crate::parse_tests::PROMETHEUS_OK
        .iter()
        .map(|c| c.0)
        .chain(crate::parse_tests::OWN_OK.iter().map(|c| c.0))
        .chain(PRINTED.iter().map(|c| c.0))
        .chain(PRETTY_10.iter().map(|c| c.0));
    for input in inputs {
        // Prometheus prints this offset without the parentheses it needs to read back
        // the same way (`foo offset 5m + 1m`); the printer keeps its text.
        if input == "foo offset - -5m + 1m" {
            continue;
        }
        let Ok(e) = p.parse_expr(input) else {
            continue;
        };
        let printed = e.to_string();
        match p.parse_expr(&printed) {
            Ok(again) => {
                if crate::parse_tests::normalized(&e) != crate::parse_tests::normalized(&again) {
                    bad.push(format!("{input:?} -> {printed:?} parses differently"));
                }
                if again.to_string() != printed {
                    bad.push(format!(
                        "{input:?} -> {printed:?} -> {:?}",
                        again.to_string()
                    ));
                }
                let pretty = prettify_with_width(&e, 20);
                match p.parse_expr(&pretty) {
                    Ok(p2) if p2.to_string() == printed => {}
                    other => bad.push(format!("{input:?}: prettified {pretty:?} gives {other:?}")),
                }
            }
            Err(err) => bad.push(format!("{input:?} -> {printed:?}: {err}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
