//! PromQL parser: no input may panic, and whatever parses prints back to text that
//! parses to the same canonical form.
#![no_main]
use ember_promql_parser::{Parser, ParserOptions, prettify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let p = Parser::new(ParserOptions::all());
    if let Ok(e) = p.parse_expr(input) {
        let printed = e.to_string();
        let again = p.parse_expr(&printed).expect("printed query parses");
        assert_eq!(again.to_string(), printed);
        let _ = prettify(&e);
    }
    let _ = p.parse_metric_selector(input);
    let _ = p.parse_metric(input);
});
