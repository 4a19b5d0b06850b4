//! Exposition formats: reading and writing the Prometheus text format 0.0.4 and
//! OpenMetrics 1.0 text.
//!
//! This is the scrape hot path. The scrape loop reads every target's `/metrics`
//! through [`Parser`]; the pushgateway reads pushed bodies with [`parse`]; the
//! node-exporter, the pushgateway and `/federate` write with [`write_text`] and
//! [`write_openmetrics`]. [`Format::from_content_type`] picks the parser from the
//! response's Content-Type, as Prometheus's scrape does.
//!
//! Two layers:
//!
//! - [`Parser`] is a pull parser, one [`Entry`] at a time (`# HELP`, `# TYPE`,
//!   `# UNIT`, comments, samples). Entries borrow the input: names and values come as
//!   [`EscapedStr`]s that say whether they hold an escape, labels as a borrowed slice
//!   of [`RawLabel`]s from a buffer the parser reuses, so parsing a sample allocates
//!   nothing. [`Series::to_labels`] builds the [`ember_model::Labels`] Prometheus would
//!   store, when the caller wants it.
//! - [`parse`] collects a whole exposition into owned [`MetricFamily`]s, or fails as a
//!   whole; the writers take the same model.
//!
//! The grammar is Prometheus's, read from its lexers (`model/textparse/promlex.l`,
//! `openmetricslex.l`) and parsers rather than from the specifications alone, because a
//! drop-in replacement must accept and reject the same payloads: the text format's
//! blanks around labels, missing final newline and comment lines; OpenMetrics'
//! single spaces, mandatory `# EOF`, float-second timestamps and exemplars; quoted
//! UTF-8 names (`{"my.metric","a.b"="c"}`) in both. Errors carry a line and column
//! and otherwise read like Prometheus's (`expected label value, got "'" ("INVALID")
//! while parsing: "a{b='"`). Where Ember differs on purpose, the item says so.
//!
//! Written by hand because no existing crate is good enough for this: the parsers on
//! crates.io (`prometheus-parse`, `openmetrics-parser`, `prometheus-exposition-format-rs`)
//! build owned strings and maps for every sample, which the scrape path cannot afford;
//! as far as their documentation shows, none reads Prometheus 3's quoted UTF-8 names,
//! none reports errors the way Prometheus does, and none follows its lexers'
//! leniencies exactly, so each would accept or reject payloads differently.
//!
//! [`proto`] holds the protobuf exposition (`io.prometheus.client.MetricFamily`, the
//! format that carries native histograms): the messages, the delimited codec, and the
//! conversions to and from the flat model that the writers take.

mod error;
mod escape;
mod float;
mod model;
mod parser;
pub mod proto;
mod types;
mod writer;

pub use error::{Error, Position};
pub use escape::{EscapedStr, Escaping};
pub use float::NORMAL_NAN;
pub use model::{Exemplar, MetricFamily, Sample, parse};
pub use parser::{Entry, Parser, RawExemplar, RawLabel, Series};
pub use types::{Format, MetricType};
pub use writer::{write, write_openmetrics, write_text};

/// Reads `input`, choosing the format from a Content-Type header.
pub fn parse_with_content_type(
    input: &[u8],
    content_type: &str,
) -> Result<Vec<MetricFamily>, Error> {
    parse(input, Format::from_content_type(content_type)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_picks_the_parser() {
        let om = b"a 1\n# EOF\n";
        assert_eq!(
            parse_with_content_type(om, "application/openmetrics-text; version=1.0.0")
                .unwrap()
                .len(),
            1
        );
        // The same bytes as text: `# EOF` is a comment there.
        assert_eq!(
            parse_with_content_type(om, "text/plain; version=0.0.4")
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            parse_with_content_type(b"a 1\n", "application/openmetrics-text"),
            Err(Error::MissingEof { .. })
        ));
        assert!(matches!(
            parse_with_content_type(b"a 1\n", "application/json"),
            Err(Error::UnsupportedContentType { .. })
        ));
    }
}
