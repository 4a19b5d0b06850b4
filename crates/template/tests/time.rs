//! Go time layouts, time and duration methods.

mod common;
use common::*;
use ember_template::{
    Value,
    time::{Duration, Time, format},
};

/// 2009-11-10 23:00:00 UTC, the time Go's documentation examples use.
fn t0() -> Time {
    Time::from_unix(1_257_894_000, 0)
}

#[test]
fn standard_layouts() {
    let t = t0();
    let cases = [
        ("Mon Jan _2 15:04:05 2006", "Tue Nov 10 23:00:00 2009"),
        (
            "Mon Jan _2 15:04:05 MST 2006",
            "Tue Nov 10 23:00:00 UTC 2009",
        ),
        (
            "Mon Jan 02 15:04:05 -0700 2006",
            "Tue Nov 10 23:00:00 +0000 2009",
        ),
        ("02 Jan 06 15:04 MST", "10 Nov 09 23:00 UTC"),
        ("02 Jan 06 15:04 -0700", "10 Nov 09 23:00 +0000"),
        (
            "Monday, 02-Jan-06 15:04:05 MST",
            "Tuesday, 10-Nov-09 23:00:00 UTC",
        ),
        (
            "Mon, 02 Jan 2006 15:04:05 MST",
            "Tue, 10 Nov 2009 23:00:00 UTC",
        ),
        ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:00:00Z"),
        (
            "2006-01-02T15:04:05.999999999Z07:00",
            "2009-11-10T23:00:00Z",
        ),
        ("3:04PM", "11:00PM"),
        ("Jan _2 15:04:05.000", "Nov 10 23:00:00.000"),
        ("2006-01-02 15:04:05", "2009-11-10 23:00:00"),
        (
            "Jan 2, 2006 at 3:04pm (MST)",
            "Nov 10, 2009 at 11:00pm (UTC)",
        ),
        ("1/2/06", "11/10/09"),
        ("January 2", "November 10"),
        ("002 __2", "314 314"),
        ("_2006", "_2009"),
        ("T15Z", "T23Z"),
    ];
    for (layout, want) in cases {
        assert_eq!(format(layout, &t), want, "layout {layout:?}");
    }
}

#[test]
fn fractions_offsets_and_padding() {
    // 2009-11-10 23:00:00.0123 UTC shown at UTC+1 as CET.
    let t = Time::from_unix(1_257_894_000, 12_300_000).with_offset(3600, "CET");
    assert_eq!(
        format("2006-01-02T15:04:05.999999999Z07:00", &t),
        "2009-11-11T00:00:00.0123+01:00"
    );
    assert_eq!(
        format("05.000 05.999 05.000000 05,999999", &t),
        "00.012 00.012 00.012300 00,0123"
    );
    assert_eq!(
        format("3:04:05 pm MST -07 -07:00:00 Z0700", &t),
        "12:00:00 am CET +01 +01:00:00 +0100"
    );
    let t = Time::from_unix(1_257_894_000, 0).with_offset(-(3 * 3600 + 1800), "");
    assert_eq!(format("MST|-0700|Z07:00|Z07", &t), "-0330|-0330|-03:30|-03");
    // January 5th: padded day and day of year.
    let t = Time::from_unix(1_262_649_600, 0);
    assert_eq!(format("_2|02|2|__2|002|Mon", &t), " 5|05|5|  5|005|Tue");
    // A run of zeros followed by a digit is not a fraction: "01" is then the month.
    assert_eq!(format("15.0001", &t0()), "23.0011");
}

#[test]
fn time_string_and_zero() {
    assert_eq!(t0().go_string(), "2009-11-10 23:00:00 +0000 UTC");
    assert_eq!(
        Time::from_unix(0, 5).go_string(),
        "1970-01-01 00:00:00.000000005 +0000 UTC"
    );
    assert_eq!(Time::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
    assert_eq!(
        Time::from_unix_millis(-1).format("2006-01-02 15:04:05.000"),
        "1969-12-31 23:59:59.999"
    );
}

#[test]
fn time_methods_in_templates() {
    let d = Value::map([
        ("T", Value::object(t0())),
        ("E", Value::object(Time::from_unix(1_257_894_000 + 5400, 0))),
        ("Z", Value::object(Time::zero())),
    ]);
    assert_eq!(run("{{.T.Format \"2006-01-02\"}}", &d), "2009-11-10");
    assert_eq!(run("{{.T}}", &d), "2009-11-10 23:00:00 +0000 UTC");
    assert_eq!(
        run(
            "{{.T.Unix}} {{.T.Year}} {{.T.Month}} {{.T.Day}} {{.T.Weekday}}",
            &d
        ),
        "1257894000 2009 November 10 Tuesday"
    );
    assert_eq!(run("{{.E.Sub .T}}", &d), "1h30m0s");
    assert_eq!(run("{{(.E.Sub .T).Minutes}}", &d), "90");
    assert_eq!(
        run("{{(.T.Add 3600000000000).Format \"15:04\"}}", &d),
        "00:00"
    );
    assert_eq!(run("{{.T.UTC.Format \"Z07:00\"}}", &d), "Z");
    assert_eq!(
        run(
            "{{.Z.IsZero}} {{.T.IsZero}} {{.T.Before .E}} {{.T.After .E}}",
            &d
        ),
        "true false true false"
    );
    assert_eq!(
        exec_err("{{.T.Format}}", &d),
        "template: t:1:2: executing \"t\" at <.T.Format>: error calling Format: wrong number of args for Format: want 1 got 0"
    );
}

#[test]
fn duration_printing() {
    let d = Value::map([("D", Value::object(Duration(1_500_000_000)))]);
    assert_eq!(
        run("{{.D}} {{.D.Seconds}} {{.D.Milliseconds}}", &d),
        "1.5s 1.5 1500"
    );
    assert_eq!(run("{{printf \"%s|%v\" .D .D}}", &d), "1.5s|1.5s");
}
