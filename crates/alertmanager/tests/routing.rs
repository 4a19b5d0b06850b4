//! The routing tree against Alertmanager 0.25: which receivers an alert reaches
//! (checked against `amtool config routes test` when Debian's amtool is installed),
//! inherited options, route keys and group keys.

use ember_alertmanager::{InhibitRule, Route, find_inhibitor, fingerprint, load_str};
use ember_model::Labels;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TREE: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['service=~"foo1|foo2|baz"']
      receiver: team-x
      group_by: ['...']
      routes:
        - matchers: [severity="critical"]
          receiver: team-x-pager
    - match: {service: files}
      receiver: team-y
      continue: true
    - match_re: {service: 'fil.*'}
      receiver: team-z
      group_wait: 1m
      routes:
        - matchers: ['owner!=""']
          receiver: owners
          continue: true
        - matchers: ['env=~"prod|staging"']
          receiver: prod
          repeat_interval: 1h
receivers: [{name: default}, {name: team-x}, {name: team-x-pager}, {name: team-y}, {name: team-z}, {name: owners}, {name: prod}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
"#;

/// A label set as pairs.
type Pairs = &'static [(&'static str, &'static str)];

/// Label sets and the receivers amtool 0.25 routes them to.
const CASES: &[(Pairs, &[&str])] = &[
    (&[("service", "foo1")], &["team-x"]),
    (
        &[("service", "foo1"), ("severity", "critical")],
        &["team-x-pager"],
    ),
    (&[("service", "files")], &["team-y", "team-z"]),
    (
        &[("service", "files"), ("owner", "bob"), ("env", "prod")],
        &["team-y", "owners", "prod"],
    ),
    (&[("service", "filesystem"), ("env", "staging")], &["prod"]),
    (&[("service", "other")], &["default"]),
    (&[], &["default"]),
    (&[("service", "baz"), ("severity", "warning")], &["team-x"]),
    // `.` does not match a newline in Alertmanager's anchoring.
    (&[("service", "fil\nx")], &["default"]),
];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn tree() -> Route {
    let cfg = load_str(TREE, Path::new("tree.yml")).expect("tree loads");
    Route::new(cfg.route.as_ref().expect("has a route"))
}

#[test]
fn receivers_match_amtool_0_25() {
    let root = tree();
    let amtool = Path::new("/usr/bin/amtool");
    let dir = tempfile_dir();
    let file = dir.join("tree.yml");
    std::fs::write(&file, TREE).expect("write tree");
    let mut compared = 0;
    for (pairs, want) in CASES {
        let got: Vec<&str> = root
            .matches(&labels(pairs))
            .iter()
            .map(|r| r.opts.receiver.as_str())
            .collect();
        assert_eq!(&got, want, "{pairs:?}");
        // amtool takes labels as arguments; newlines do not survive its parser.
        if amtool.is_file() && pairs.iter().all(|(_, v)| !v.contains('\n')) {
            let out = Command::new(amtool)
                .args(["config", "routes", "test"])
                .arg(format!("--config.file={}", file.display()))
                .args(pairs.iter().map(|(k, v)| format!("{k}={v}")))
                .output()
                .expect("amtool runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout.lines().last().unwrap_or("");
            assert_eq!(line, want.join(","), "amtool on {pairs:?}");
            compared += 1;
        }
    }
    println!(
        "routing: {} cases, {compared} compared with amtool",
        CASES.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ember-am-routing-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn options_are_inherited() {
    let root = tree();
    assert_eq!(root.opts.group_wait, Duration::from_secs(30));
    assert_eq!(root.opts.group_interval, Duration::from_secs(300));
    assert_eq!(root.opts.repeat_interval, Duration::from_secs(4 * 3600));
    let z = &root.routes[2];
    assert_eq!(z.opts.group_wait, Duration::from_secs(60));
    let prod = &z.routes[1];
    assert_eq!(prod.opts.group_wait, Duration::from_secs(60));
    assert_eq!(prod.opts.repeat_interval, Duration::from_secs(3600));
    assert!(prod.opts.group_by.contains("alertname"));
    assert!(root.routes[0].opts.group_by_all);
    assert!(root.routes[0].routes[0].opts.group_by_all);
}

#[test]
fn route_and_group_keys_are_alertmanagers() {
    let root = tree();
    assert_eq!(root.key(), "{}");
    assert_eq!(root.routes[0].key(), r#"{}/{service=~"foo1|foo2|baz"}"#);
    assert_eq!(
        root.routes[2].routes[1].key(),
        r#"{}/{service=~"^(?:fil.*)$"}/{env=~"prod|staging"}"#
    );
    let l = labels(&[
        ("alertname", "Down"),
        ("service", "other"),
        ("instance", "a"),
    ]);
    let r = root.matches(&l)[0];
    assert_eq!(r.group_key(&l), r#"{}:{alertname="Down"}"#);
    let l = labels(&[("alertname", "Down"), ("service", "foo1")]);
    let r = root.matches(&l)[0];
    assert_eq!(
        r.group_key(&l),
        r#"{}/{service=~"foo1|foo2|baz"}:{alertname="Down", service="foo1"}"#
    );
}

#[test]
fn fingerprints_are_prometheus_commons() {
    // prometheus/common: model.LabelSet{"a": "b"}.Fingerprint().
    let l = labels(&[("a", "b")]);
    let mut h: u64 = 14_695_981_039_346_656_037;
    for b in b"a\xffb\xff" {
        h ^= u64::from(*b);
        h = h.wrapping_mul(1_099_511_628_211);
    }
    assert_eq!(fingerprint(&l), h);
}

#[test]
fn inhibition() {
    let cfg = load_str(TREE, Path::new("tree.yml")).expect("tree loads");
    let rules: Vec<InhibitRule> = cfg.inhibit_rules.iter().map(InhibitRule::new).collect();
    let crit = labels(&[("alertname", "Down"), ("severity", "critical")]);
    let warn = labels(&[("alertname", "Down"), ("severity", "warning")]);
    let other = labels(&[("alertname", "Up"), ("severity", "warning")]);
    assert!(rules[0].inhibits(&crit, &warn));
    assert!(!rules[0].inhibits(&crit, &other));
    assert!(!rules[0].inhibits(&warn, &crit));
    assert_eq!(find_inhibitor(&rules, &warn, [(&crit, 1u64)]), Some(1));
    assert_eq!(find_inhibitor(&rules, &other, [(&crit, 1u64)]), None);
    // An alert matching both sides never inhibits another such alert.
    let both = InhibitRule::new(
        &load_str(
            "route: {receiver: a}\nreceivers: [{name: a}]\ninhibit_rules: [{source_matchers: ['a=~\".*\"'], target_matchers: ['b=~\".*\"']}]\n",
            Path::new("x.yml"),
        )
        .expect("loads")
        .inhibit_rules[0],
    );
    let x = labels(&[("a", "1")]);
    assert!(!both.inhibits(&x, &x));
}

#[test]
fn time_intervals_from_config() {
    let cfg = load_str(
        "route:\n  receiver: a\n  routes: [{receiver: a, mute_time_intervals: [offhours]}]\nreceivers: [{name: a}]\ntime_intervals:\n  - name: offhours\n    time_intervals:\n      - times: [{start_time: '18:00', end_time: '24:00'}]\n        location: America/New_York\n      - weekdays: [saturday, sunday]\n",
        Path::new("ti.yml"),
    )
    .expect("loads");
    let ti = &cfg.time_intervals[0].time_intervals;
    let at = |s: &str| -> ember_alertmanager::jiff::ZonedDateTime { s.parse().expect("time") };
    // Wednesday 2024-03-06 23:30 UTC is 18:30 in New York.
    assert!(ember_alertmanager::any_contains(
        ti,
        &at("2024-03-06T23:30:00+00:00[UTC]")
    ));
    assert!(!ember_alertmanager::any_contains(
        ti,
        &at("2024-03-06T16:00:00+00:00[UTC]")
    ));
    assert!(ember_alertmanager::any_contains(
        ti,
        &at("2024-03-09T16:00:00+00:00[UTC]")
    ));
}
