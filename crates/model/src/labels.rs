//! Label sets: sorted, unique-by-name `(name, value)` pairs, as Prometheus keeps them.

use std::fmt;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";
/// Labels starting with this prefix are internal and dropped after relabeling.
pub const RESERVED_PREFIX: &str = "__";
/// The separator byte Prometheus uses when hashing label sets; it never occurs in UTF-8 text.
const SEP: u8 = 0xff;

/// One label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value; never empty inside a [`Labels`].
    pub value: String,
}

impl Label {
    /// Builds a label from anything string-like.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set, sorted by name, each name at most once, no empty values.
///
/// An empty value means "label absent" in Prometheus, so constructors drop such
/// labels rather than keeping two spellings of the same series. The labels are
/// shared behind an `Arc`: the same set is held by the head, the scrape cache, query
/// results and more, and cloning it must not copy every string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Labels(std::sync::Arc<[Label]>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels(std::sync::Arc::from(Vec::new()))
    }

    /// Builds a label set from pairs in any order. Later duplicates of a name win,
    /// empty values are dropped.
    pub fn from_pairs<N, V, I>(pairs: I) -> Self
    where
        N: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut b = LabelsBuilder::new(Labels::empty());
        for (n, v) in pairs {
            b.set(n, v);
        }
        b.labels()
    }

    /// Wraps labels the caller guarantees are sorted, unique and non-empty valued.
    /// Checked in debug builds.
    pub fn from_sorted_unchecked(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        debug_assert!(labels.iter().all(|l| !l.value.is_empty()));
        Labels(labels.into())
    }

    /// Value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// Value of `name`, or `""` when absent (Prometheus's convention).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), or `""`.
    pub fn metric_name(&self) -> &str {
        self.get_or_empty(METRIC_NAME)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice, in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set, giving the sorted vector.
    pub fn into_vec(self) -> Vec<Label> {
        self.0.to_vec()
    }

    /// xxh64 over `name 0xff value 0xff …`, the hash Prometheus uses for label sets.
    pub fn hash64(&self) -> u64 {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in self.0.iter() {
            h.update(l.name.as_bytes());
            h.update(&[SEP]);
            h.update(l.value.as_bytes());
            h.update(&[SEP]);
        }
        h.digest()
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| !names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// A copy keeping only the named labels.
    pub fn only(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The first name that occurs twice, if any (input from outside may not be unique).
    pub fn duplicate_name(&self) -> Option<&str> {
        self.0
            .windows(2)
            .find(|w| w[0].name == w[1].name)
            .map(|w| w[0].name.as_str())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    /// `{a="1", b="2"}` with Go-style quoting, as Prometheus prints label sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", l.name, go_quote(&l.value))?;
        }
        f.write_str("}")
    }
}

/// Quotes a string as Go's `strconv.Quote` does for printable UTF-8 text.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Edits a label set; `labels()` gives the sorted result.
#[derive(Clone, Debug, Default)]
pub struct LabelsBuilder {
    base: Vec<Label>,
}

impl LabelsBuilder {
    /// Starts from `base`.
    pub fn new(base: Labels) -> Self {
        LabelsBuilder {
            base: base.0.to_vec(),
        }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.base.binary_search_by(|l| l.name.cmp(&name)) {
            Ok(i) if value.is_empty() => {
                self.base.remove(i);
            }
            Ok(i) => self.base[i].value = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.base.insert(i, Label { name, value }),
        }
        self
    }

    /// Deletes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        if let Ok(i) = self.base.binary_search_by(|l| l.name.as_str().cmp(name)) {
            self.base.remove(i);
        }
        self
    }

    /// Current value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.base
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .map(|i| self.base[i].value.as_str())
            .unwrap_or("")
    }

    /// Keeps only labels for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Label) -> bool) -> &mut Self {
        self.base.retain(|l| keep(l));
        self
    }

    /// Labels currently held, in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.base.iter()
    }

    /// The resulting label set.
    pub fn labels(&self) -> Labels {
        Labels(self.base.as_slice().into())
    }

    /// The resulting label set, consuming the builder.
    pub fn into_labels(self) -> Labels {
        Labels(self.base.into())
    }
}

/// Which names are valid: Prometheus 3.x accepts any UTF-8 by default; `legacy`
/// restricts to the pre-3.0 character sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ValidationScheme {
    /// Any non-empty UTF-8 name.
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` for labels, plus `:` for metric names.
    Legacy,
}

/// Whether `name` is a valid label name under `scheme`.
pub fn is_valid_label_name(name: &str, scheme: ValidationScheme) -> bool {
    match scheme {
        ValidationScheme::Utf8 => !name.is_empty(),
        ValidationScheme::Legacy => is_legacy_label_name(name),
    }
}

/// Whether `name` is a valid metric name under `scheme`.
pub fn is_valid_metric_name(name: &str, scheme: ValidationScheme) -> bool {
    match scheme {
        ValidationScheme::Utf8 => !name.is_empty(),
        ValidationScheme::Legacy => is_legacy_metric_name(name),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_dedups_and_drops_empty() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn hash_matches_prometheus() {
        // labels.FromStrings("__name__","up","job","x").Hash() in Prometheus is
        // xxhash64 of "__name__\xffup\xffjob\xffx\xff".
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        let want = xxhash_rust::xxh64::xxh64(b"__name__\xffup\xffjob\xffx\xff", 0);
        assert_eq!(l.hash64(), want);
        assert_ne!(
            l.hash64(),
            Labels::from_pairs([("__name__", "up")]).hash64()
        );
    }

    #[test]
    fn legacy_names() {
        assert!(is_legacy_label_name("_a1"));
        assert!(!is_legacy_label_name("1a"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(is_legacy_metric_name("a:b"));
        assert!(!is_legacy_metric_name("a.b"));
        assert!(is_valid_metric_name("a.b", ValidationScheme::Utf8));
        assert!(!is_valid_label_name("", ValidationScheme::Utf8));
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\\n"), r#""a\"b\\\n""#);
    }
}
