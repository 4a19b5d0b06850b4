//! `ember tool check alertmanager-config` against Debian's `amtool check-config`
//! (Alertmanager 0.25): the same valid/invalid verdict on every file of the shared
//! Alertmanager test data, and on a corpus of small configurations written to probe
//! the edges (matcher syntax, regexes, time intervals, YAML typing, URLs, integration
//! checks).
//!
//! The test data is read from `$EMBER_TESTDATA/alertmanager/` (by default the shared
//! test data beside the repository); where it is absent the test says so and passes.
//! Where `amtool` is missing the comparison is skipped (the corpus is still checked
//! against the verdicts recorded from amtool 0.25), unless `EMBER_REQUIRE_INTEROP=1`.
//!
//! Known, deliberate difference: Ember accepts `msteams_configs` (Alertmanager 0.26's
//! schema), which 0.25 rejects as an unknown field. The shared test data comes from a
//! newer Alertmanager than 0.25; its files using newer fields (mattermost, rocketchat,
//! Slack app tokens, `*_file` secrets, …) are invalid for 0.25, and Ember agrees.

use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata_dir() -> Option<PathBuf> {
    let root = std::env::var_os("EMBER_TESTDATA").map_or_else(
        // crates/cli → workspace root → its sibling shared/testdata.
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
        PathBuf::from,
    );
    let dir = root.join("alertmanager");
    dir.is_dir().then_some(dir)
}

fn amtool() -> Option<PathBuf> {
    let found = ["/usr/bin/amtool", "/usr/local/bin/amtool"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() && std::env::var("EMBER_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "amtool not found and EMBER_REQUIRE_INTEROP=1 (apt-get install prometheus-alertmanager)"
        );
    }
    found
}

fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

/// Exit status and output of `ember tool check alertmanager-config FILE`.
fn ember_check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ember"))
        .args(["tool", "check", "alertmanager-config"])
        .arg(file)
        .output()
        .expect("ember runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn amtool_check(amtool: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(file)
        .output()
        .expect("amtool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn shared_testdata_verdicts_match_amtool() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: alertmanager testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let mut files = Vec::new();
    yml_files(&dir, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .yml files under {}", dir.display());
    let Some(amtool) = amtool() else {
        // Without the oracle, at least every file must get a verdict without a crash.
        for f in &files {
            let (_, out) = ember_check(f);
            assert!(out.starts_with("Checking"), "{}: {out}", f.display());
        }
        println!(
            "skipped comparison: amtool not found; {} files checked",
            files.len()
        );
        return;
    };
    let mut disagreements = Vec::new();
    for f in &files {
        let (ours, ours_out) = ember_check(f);
        let (theirs, theirs_out) = amtool_check(&amtool, f);
        if ours != theirs {
            disagreements.push(format!(
                "{}: ember {} / amtool {}\n--- ember:\n{ours_out}--- amtool:\n{theirs_out}",
                f.display(),
                verdict(ours),
                verdict(theirs)
            ));
        }
    }
    println!(
        "alertmanager testdata: {} of {} files get amtool's verdict",
        files.len() - disagreements.len(),
        files.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn verdict(ok: bool) -> &'static str {
    if ok { "valid" } else { "invalid" }
}

#[test]
fn edge_corpus_verdicts_match_amtool_0_25() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let amtool = amtool();
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for (i, (yaml, expected)) in CORPUS.iter().enumerate() {
        let file = tmp.path().join(format!("case{i}.yml"));
        std::fs::write(&file, yaml).expect("write case");
        let (ours, out) = ember_check(&file);
        if ours != *expected {
            disagreements.push(format!(
                "case {i}: ember {} / recorded 0.25 verdict {}\n{yaml}\n{out}",
                verdict(ours),
                verdict(*expected)
            ));
        }
        // msteams_configs is the one documented extension over 0.25.
        if let Some(amtool) = &amtool
            && !yaml.contains("msteams_configs")
        {
            compared += 1;
            let (theirs, theirs_out) = amtool_check(amtool, &file);
            if ours != theirs {
                disagreements.push(format!(
                    "case {i}: ember {} / amtool {}\n{yaml}\n{out}{theirs_out}",
                    verdict(ours),
                    verdict(theirs)
                ));
            }
        }
    }
    println!(
        "edge corpus: {} cases, {compared} compared with amtool, {} disagreements",
        CORPUS.len(),
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}

#[test]
fn errors_name_file_line_and_field() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("am.yml");
    std::fs::write(
        &file,
        "route:\n  receiver: a\n  routes:\n    - receiver: nope\nreceivers:\n  - name: a\n",
    )
    .expect("write");
    let (ok, out) = ember_check(&file);
    assert!(!ok);
    assert!(
        out.contains(
            "am.yml:4:7: route.routes[0].receiver: undefined receiver \"nope\" used in route"
        ),
        "{out}"
    );
    std::fs::write(
        &file,
        "route:\n  receiver: a\n  recevier: b\nreceivers:\n  - name: a\n",
    )
    .expect("write");
    let (ok, out) = ember_check(&file);
    assert!(!ok);
    assert!(
        out.contains("am.yml:3:3: route.recevier: field recevier not found"),
        "{out}"
    );
}

#[test]
fn summary_matches_amtool_shape() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("am.yml");
    std::fs::write(
        &file,
        "route:\n  receiver: a\nreceivers:\n  - name: a\n  - name: b\ninhibit_rules:\n  - equal: [x]\n",
    )
    .expect("write");
    let (ok, out) = ember_check(&file);
    assert!(ok, "{out}");
    let expected = format!(
        "Checking '{}'  SUCCESS\nFound:\n - global config\n - route\n - 1 inhibit rules\n - 2 receivers\n - 0 templates\n\n",
        file.display()
    );
    assert_eq!(out, expected);
}

/// Configurations and the verdict Alertmanager 0.25's `amtool check-config` gives
/// them (recorded from Debian's amtool; `msteams_configs` cases are Ember's
/// extension and recorded as valid).
const CORPUS: &[(&str, bool)] = &[
    (
        r#"route:
  receiver: a
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: b
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  continue: true
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  matchers: ['a=b']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=b', 'c=~"d|e"', '{f!="g",h!~i}']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=b"']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"("']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['1a=b']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: [',a=b']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=b,']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  group_by: ['...', 'a']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_by: ['a', 'a']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_by: ['a:b']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_by: []
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  group_interval: 0s
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  repeat_interval: 0
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_wait: 0s
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  group_wait: 1.5m
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_wait: 30
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_wait: 1d
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - match:
        1a: b
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - match_re:
        a: '('
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - match_re:
        a: '\\d+'
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - mute_time_intervals: [x]
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - mute_time_intervals: [x]
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - times:
        - start_time: '09:00'
          end_time: '17:00'
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - active_time_intervals: [x]
receivers:
  - name: a
mute_time_intervals:
  - name: x
    time_intervals:
      - weekdays: ['Monday:friday']
        location: Europe/Berlin
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - weekdays: ['friday:monday']
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - location: Mars/Olympus
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - location: Local
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - years: [2020, '2021:2022']
        months: ['13']
        days_of_month: ['-7:-1']
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
  - name: x
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - time_intervals: []
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - times:
        - start_time: '9:00'
          end_time: '17:00'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        max_alerts: 3
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: x
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - send_resolved: false
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        http_config:
          basic_auth: {username: u, password: p}
          bearer_token: t
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        http_config:
          tls_config: {insecure_skip_verify: true, min_version: TLS12}
          follow_redirects: false
          enable_http2: false
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        http_config:
          proxy_from_environment: true
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    email_configs:
      - to: x@y
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  smtp_smarthost: 'h:25'
receivers:
  - name: a
    email_configs:
      - to: x@y
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  smtp_smarthost: 'h'
  smtp_from: a@b
receivers:
  - name: a
    email_configs:
      - to: x@y
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  smtp_smarthost: 'h:25'
  smtp_from: a@b
receivers:
  - name: a
    email_configs:
      - to: x@y
        headers: {subject: a, Subject: b}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  smtp_smarthost: 'h:25'
  smtp_from: a@b
receivers:
  - name: a
    email_configs:
      - to: x@y
        require_tls: false
        tls_config: {server_name: x}
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    pagerduty_configs:
      - {}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    pagerduty_configs:
      - service_key: x
        images: [{src: a}]
        links: [{href: b}]
        severity: warning
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    pushover_configs:
      - token: a
        user_key: b
        retry: 1.5m
        expire: 2h
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    pushover_configs:
      - token: a
        user_key: b
        retry: 1d
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    pushover_configs:
      - token: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  slack_api_url: http://x
receivers:
  - name: a
    slack_configs:
      - actions: [{type: button, text: t, url: http://x}]
        fields: [{title: a, value: b, short: true}]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
global:
  slack_api_url: http://x
receivers:
  - name: a
    slack_configs:
      - actions: [{type: button, text: t}]
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  slack_api_url: x
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    slack_configs:
      - api_url: '<secret>'
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    telegram_configs:
      - bot_token: x
        chat_id: 12
        parse_mode: Markdown
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    telegram_configs:
      - bot_token: x
        chat_id: 12
        parse_mode: md
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    telegram_configs:
      - bot_token: x
        chat_id: '12'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    discord_configs:
      - webhook_url: http://x
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    discord_configs:
      - title: x
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webex_configs:
      - room_id: x
        http_config: {authorization: {credentials: y}}
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webex_configs:
      - room_id: x
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    sns_configs:
      - topic_arn: x
        phone_number: y
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    sns_configs:
      - topic_arn: x
        sigv4: {access_key: a}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    opsgenie_configs:
      - api_key: x
        responders: [{name: a, type: Team}]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    opsgenie_configs:
      - api_key: x
        responders: [{name: a, type: squad}]
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    opsgenie_configs:
      - api_key: x
        responders: [{type: team}]
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    opsgenie_configs:
      - api_key: x
        responders: [{name: a, type: '{{ .x }}'}]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    opsgenie_configs:
      - api_key: x
        responders: [{name: a, type: '{{ .x '}]
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    victorops_configs:
      - api_key: x
        routing_key: r
        custom_fields: {entity_id: x}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_secret: s
  wechat_api_corp_id: c
receivers:
  - name: a
    wechat_configs:
      - message_type: html
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_secret: s
  wechat_api_corp_id: c
receivers:
  - name: a
    wechat_configs:
      - message_type: markdown
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    wechat_configs:
      - corp_id: c
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_secret: s
receivers:
  - name: a
    wechat_configs:
      - api_url: http://wx.example/cgi
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_secret: s
  wechat_api_corp_id: c
receivers:
  - name: a
    wechat_configs:
      - api_secret_file: /etc/wechat-secret
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_url: ftp://wx.example/
  wechat_api_secret: s
  wechat_api_corp_id: c
receivers:
  - name: a
    wechat_configs:
      - {}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
global:
  wechat_api_url: http://wx.example/cgi-bin
receivers:
  - name: a
    wechat_configs:
      - api_secret: '{{ .CommonLabels.team }}'
        corp_id: c
        to_user: '{{ .CommonLabels.owner }}|bob'
        to_party: '2'
        to_tag: t
        agent_id: '1000002'
        message: '{{ template "wechat.default.message" . }}'
        send_resolved: true
        http_config:
          proxy_url: http://proxy.example:3128
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
inhibit_rules:
  - source_matchers: ['a=b']
    target_matchers: ['c=~d']
    equal: [x, y]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
inhibit_rules:
  - equal: ['x:y']
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
inhibit_rules:
  - source_match: {'1x': y}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
templates: ['*.tmpl']
"#,
        true,
    ),
    (
        r#"global:
  resolve_timeout: 1h
  http_config: {follow_redirects: true}
route:
  receiver: a
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"global:
route:
  receiver: a
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
  - {}
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    msteams_configs:
      - webhook_url: http://x
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
route:
  receiver: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - receiver: a
      matchers: ['a="b\\"c"']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - match: {a: 1, b: true, c: ~}
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - continue: yes
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route: {receiver: a, routes: [{receiver: a, routes: [{receiver: a, group_by: [x]}]}]}
receivers: [{name: a}]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - receiver: a
      matchers: 'a=b'
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        http_config:
          oauth2: {client_id: a, client_secret: b, token_url: http://t}
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    email_configs:
      - to: x@y
        smarthost: 'h:25'
        from: a@b
        auth_password: x
        auth_password_file: y
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        send_resolved: 'true'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        send_resolved: yes
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        max_alerts: -1
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    telegram_configs:
      - bot_token: x
        chat_id: 1.5
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    telegram_configs:
      - bot_token: x
        chat_id: -100123
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  continue: 'false'
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: http://x/
        http_config:
          tls_config: {insecure_skip_verify: 'false'}
"#,
        false,
    ),
    (
        r#"route:
  receiver: 1
receivers:
  - name: 1
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  group_by: [1]
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  group_wait: null
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
templates:
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
templates: ['[']
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    email_configs:
      - to: x@y
        smarthost: 'h:25'
        from: a@b
        headers: {subject: ~}
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    email_configs:
      - to: x@y
        smarthost: '[::1]:25'
        from: a@b
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    email_configs:
      - to: x@y
        smarthost: '::1:25'
        from: a@b
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: 'http://x:99999/'
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: 'http://x y/'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: 'http://[::1/'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"\\d"']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"x{2,1}"']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"(?P<n>x)"']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"\\pL"']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"(?i)x"', 'b=~"a++"']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"x**"']
receivers:
  - name: a
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - days_of_month: ['1:31', '-31:-1', '+5']
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - weekdays: ['monday:']
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - location: ''
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - location: 'america/new_york'
"#,
        false,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - location: 'US/Eastern'
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
receivers:
  - name: a
time_intervals:
  - name: x
    time_intervals:
      - times: [{start_time: '00:00', end_time: '24:00'}]
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"a{x}*"']
receivers:
  - name: a
"#,
        true,
    ),
    (
        r#"route:
  receiver: a
  routes:
    - matchers: ['a=~"a{,2}"']
receivers:
  - name: a
"#,
        true,
    ),
];
