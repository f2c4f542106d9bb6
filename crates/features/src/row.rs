//! The feature schema and the reusable per-event output buffer.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Whether a feature is a number the model reads directly or a string it must encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// `f32`; `NaN` means missing (trees send it down their default branch).
    Numeric,
    /// A string, or missing; encoded downstream by frequency and target mean.
    Categorical,
}

/// One documented feature of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: Cow<'static, str>,
    pub kind: FeatureKind,
    pub doc: Cow<'static, str>,
}

impl FeatureSpec {
    pub fn numeric(name: impl Into<Cow<'static, str>>, doc: &'static str) -> Self {
        FeatureSpec {
            name: name.into(),
            kind: FeatureKind::Numeric,
            doc: Cow::Borrowed(doc),
        }
    }
    pub fn categorical(name: impl Into<Cow<'static, str>>, doc: &'static str) -> Self {
        FeatureSpec {
            name: name.into(),
            kind: FeatureKind::Categorical,
            doc: Cow::Borrowed(doc),
        }
    }
}

/// Byte span of one categorical value inside [`FeatureRow`]'s text buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

/// First byte of a [`FeatureRow::categorical_key`] naming a group by its bigrams' text.
const BIGRAM_KEY: u8 = 1;
/// First byte of a key naming a group value by value.
const SPANS_KEY: u8 = 0;

const MISSING: Span = Span {
    start: u32::MAX,
    end: u32::MAX,
};

/// The features of one event, in schema order: numeric values in the order the numeric
/// features appear in the recipe's list, categorical values likewise.
///
/// Reused across events so that the hot path does not allocate: all categorical values of
/// a row live in one string buffer, and recipes keep their scratch strings here too.
#[derive(Debug, Default)]
pub struct FeatureRow {
    pub(crate) num: Vec<f32>,
    cat_text: String,
    cat_spans: Vec<Span>,
    /// Where [`FeatureRow::push_bigrams`] put each text's bigrams: their values are a
    /// function of the text and the position count alone, so the text is their key.
    bigram_runs: Vec<BigramRun>,
    pub(crate) scratch: Scratch,
}

/// The positions `first..first + n` hold the bigrams of the text at `text`.
#[derive(Debug, Clone, Copy)]
struct BigramRun {
    first: u32,
    n: u32,
    text: Span,
}

/// Per-thread working memory of the recipes (never part of the output).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub a: String,
    pub b: String,
    pub c: String,
    pub d: String,
    pub e: String,
    pub f: String,
    /// N-gram bucket counts (all zero between uses).
    pub counts: Vec<u32>,
}

impl FeatureRow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the previous event's values (keeps the buffers' capacity).
    pub fn clear(&mut self) {
        self.num.clear();
        self.cat_text.clear();
        self.cat_spans.clear();
        self.bigram_runs.clear();
    }

    pub fn push_num(&mut self, v: f32) {
        self.num.push(v);
    }

    /// `true` → 1, `false` → 0.
    pub fn push_bool(&mut self, v: bool) {
        self.num.push(if v { 1.0 } else { 0.0 });
    }

    /// `Some` → 1/0, `None` → NaN (missing).
    pub fn push_opt_bool(&mut self, v: Option<bool>) {
        self.num.push(match v {
            Some(true) => 1.0,
            Some(false) => 0.0,
            None => f32::NAN,
        });
    }

    pub fn push_cat(&mut self, v: Option<&str>) {
        match v {
            Some(s) => {
                // Rows are bounded by the recipes' cuts; a row over 4 GiB cannot occur, but
                // stay defined if it ever did.
                let start = u32::try_from(self.cat_text.len()).unwrap_or(u32::MAX - 1);
                self.cat_text.push_str(s);
                let end = u32::try_from(self.cat_text.len()).unwrap_or(u32::MAX - 1);
                self.cat_spans.push(Span { start, end });
            }
            None => self.cat_spans.push(MISSING),
        }
    }

    pub fn numeric(&self) -> &[f32] {
        &self.num
    }

    pub fn n_categorical(&self) -> usize {
        self.cat_spans.len()
    }

    /// The `i`-th categorical value; `None` when missing.
    pub fn categorical(&self, i: usize) -> Option<&str> {
        let sp = *self.cat_spans.get(i)?;
        if sp == MISSING {
            return None;
        }
        self.cat_text.get(sp.start as usize..sp.end as usize)
    }

    /// Push the positional bigrams of `t` (two characters starting at each character)
    /// as `n` categorical values: the bigrams, then `""` after the last one when a position
    /// is left, then missing values. `t` is stored once and the bigrams point into it.
    pub(crate) fn push_bigrams(&mut self, t: &str, n: usize) {
        // Rows are bounded by the recipes' cuts; a row over 4 GiB cannot occur, but stay
        // defined if it ever did (missing values). Below it, no span offset can overflow.
        let Ok(end) = u32::try_from(self.cat_text.len() + t.len()) else {
            self.cat_spans.extend(std::iter::repeat_n(MISSING, n));
            return;
        };
        let base = end - t.len() as u32;
        if let (Ok(first), Ok(n)) = (u32::try_from(self.cat_spans.len()), u32::try_from(n)) {
            self.bigram_runs.push(BigramRun {
                first,
                n,
                text: Span { start: base, end },
            });
        }
        self.cat_text.push_str(t);
        self.cat_spans.reserve(n);
        let mut pushed = 0;
        if t.is_ascii() {
            let bigrams = t.len().saturating_sub(1).min(n) as u32;
            self.cat_spans.extend((0..bigrams).map(|i| Span {
                start: base + i,
                end: base + i + 2,
            }));
            pushed = bigrams as usize;
        } else if t.chars().nth(1).is_some() {
            // Start of each character, and of the character two further on (or the end).
            let starts = t.char_indices().map(|(i, _)| i as u32);
            let second_next = t
                .char_indices()
                .skip(2)
                .map(|(i, _)| i as u32)
                .chain(std::iter::once(t.len() as u32));
            for (a, b) in starts.zip(second_next).take(n) {
                self.cat_spans.push(Span {
                    start: base + a,
                    end: base + b,
                });
                pushed += 1;
            }
        }
        if pushed < n {
            self.cat_spans.push(Span { start: end, end });
            pushed += 1;
        }
        self.cat_spans
            .extend(std::iter::repeat_n(MISSING, n - pushed));
    }

    /// Write into `key` bytes that identify the values of categorical features `cats`:
    /// when they are exactly the bigrams of one text, a tag, the position count and that
    /// text; otherwise another tag, then for every value its length (or missing) and its
    /// offset in the text the values cover, then that text. `false` when that text spans
    /// 64 KiB or more.
    pub(crate) fn categorical_key(&self, cats: std::ops::Range<usize>, key: &mut Vec<u8>) -> bool {
        key.clear();
        let run = self
            .bigram_runs
            .iter()
            .find(|r| r.first as usize == cats.start && r.n as usize == cats.len());
        if let Some(run) = run {
            // 4 bytes per position plus the text was most of the cost of coding a row.
            key.push(BIGRAM_KEY);
            key.extend_from_slice(&run.n.to_le_bytes());
            key.extend_from_slice(
                self.cat_text
                    .as_bytes()
                    .get(run.text.start as usize..run.text.end as usize)
                    .unwrap_or_default(),
            );
            return true;
        }
        key.push(SPANS_KEY);
        let spans = self.cat_spans.get(cats).unwrap_or_default();
        // A group's values are pushed in order, so they cover one run of `cat_text`
        // (bigrams overlap in it): the lengths and offsets, then that run, name them all.
        let (lo, hi) = spans
            .iter()
            .filter(|sp| **sp != MISSING)
            .fold((u32::MAX, 0), |(lo, hi), sp| {
                (lo.min(sp.start), hi.max(sp.end))
            });
        if lo != u32::MAX && hi - lo >= u32::from(u16::MAX) {
            return false;
        }
        key.resize(1 + 4 * spans.len(), 0);
        for (entry, sp) in key[1..].chunks_exact_mut(4).zip(spans) {
            let (len, offset) = if *sp == MISSING {
                (u16::MAX, u16::MAX)
            } else {
                // Both below 64 KiB: every span lies inside lo..hi.
                ((sp.end - sp.start) as u16, (sp.start - lo) as u16)
            };
            entry[..2].copy_from_slice(&len.to_le_bytes());
            entry[2..].copy_from_slice(&offset.to_le_bytes());
        }
        if lo != u32::MAX {
            key.extend_from_slice(
                self.cat_text
                    .as_bytes()
                    .get(lo as usize..hi as usize)
                    .unwrap_or_default(),
            );
        }
        true
    }

    pub fn categoricals(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.cat_spans.len()).map(move |i| self.categorical(i))
    }
}

/// Index of a feature among the features of its own kind.
pub(crate) fn kind_indices(features: &[FeatureSpec]) -> Vec<usize> {
    let (mut n, mut c) = (0, 0);
    features
        .iter()
        .map(|f| match f.kind {
            FeatureKind::Numeric => {
                n += 1;
                n - 1
            }
            FeatureKind::Categorical => {
                c += 1;
                c - 1
            }
        })
        .collect()
}

/// A feature value, for inspection and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    Num(f32),
    Cat(Option<&'a str>),
}

impl FeatureRow {
    /// `(name, value)` of every feature of `features` (the schema this row was filled by).
    pub fn values<'a>(&'a self, features: &'a [FeatureSpec]) -> Vec<(&'a str, FeatureValue<'a>)> {
        features
            .iter()
            .zip(kind_indices(features))
            .map(|(f, i)| {
                let v = match f.kind {
                    FeatureKind::Numeric => {
                        FeatureValue::Num(self.num.get(i).copied().unwrap_or(f32::NAN))
                    }
                    FeatureKind::Categorical => FeatureValue::Cat(self.categorical(i)),
                };
                (f.name.as_ref(), v)
            })
            .collect()
    }

    /// The value of the feature named `name`, if the schema has it.
    pub fn value<'a>(
        &'a self,
        features: &'a [FeatureSpec],
        name: &str,
    ) -> Option<FeatureValue<'a>> {
        let pos = features.iter().position(|f| f.name == name)?;
        let i = kind_indices(&features[..=pos])[pos];
        Some(match features[pos].kind {
            FeatureKind::Numeric => FeatureValue::Num(self.num.get(i).copied().unwrap_or(f32::NAN)),
            FeatureKind::Categorical => FeatureValue::Cat(self.categorical(i)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Elastic's positional bigrams, written plainly: the reference for `push_bigrams`.
    fn bigrams(t: &str, n: usize) -> Vec<Option<String>> {
        let chars: Vec<char> = t.chars().collect();
        let mut out: Vec<Option<String>> = chars
            .windows(2)
            .take(n)
            .map(|w| Some(w.iter().collect()))
            .collect();
        if out.len() < n {
            out.push(Some(String::new()));
        }
        out.resize(n, None);
        out
    }

    fn text() -> impl Strategy<Value = String> {
        prop::string::string_regex("[a-c\\\\é€😀 ]{0,12}").unwrap()
    }

    proptest! {
        #[test]
        fn bigrams_read_back_as_written_plainly(a in text(), b in text(), n in 0usize..16) {
            let mut row = FeatureRow::new();
            row.push_cat(Some("before"));
            row.push_bigrams(&a, n);
            row.push_bigrams(&b, n);
            row.push_cat(None);
            let got: Vec<Option<String>> = row.categoricals().map(|v| v.map(String::from)).collect();
            let mut expected = vec![Some("before".to_string())];
            expected.extend(bigrams(&a, n));
            expected.extend(bigrams(&b, n));
            expected.push(None);
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn equal_group_keys_mean_equal_values(
            a in text(), b in text(), n in 1usize..8,
            loose in prop::collection::vec(prop::option::of(text()), 3),
        ) {
            // One row holds a bigram group then a group of separately pushed values; the
            // other the same shapes over other texts.
            let fill = |t: &str, vals: &[Option<String>]| {
                let mut row = FeatureRow::new();
                row.push_cat(Some("x"));
                row.push_bigrams(t, n);
                for v in vals {
                    row.push_cat(v.as_deref());
                }
                row
            };
            let other: Vec<Option<String>> = loose.iter().rev().cloned().collect();
            let (ra, rb) = (fill(&a, &loose), fill(&b, &other));
            // A whole bigram group is named by its text: texts that give the same values
            // (one character or none, or equal up to the cut) may differ in key, which
            // costs a memo miss, never a wrong hit. Other ranges are named by their values
            // and the text those cover (which may hold bytes no value shows).
            let bigram_group = 1..1 + n;
            let loose_group = 1 + n..4 + n;
            for cats in [bigram_group.clone(), loose_group.clone(), 1..n, 0..4 + n] {
                let (mut ka, mut kb) = (Vec::new(), Vec::new());
                prop_assert!(ra.categorical_key(cats.clone(), &mut ka));
                prop_assert!(rb.categorical_key(cats.clone(), &mut kb));
                let va: Vec<_> = cats.clone().map(|i| ra.categorical(i)).collect();
                let vb: Vec<_> = cats.clone().map(|i| rb.categorical(i)).collect();
                if ka == kb {
                    prop_assert_eq!(&va, &vb);
                }
                if cats == bigram_group {
                    prop_assert_eq!(ka == kb, a == b);
                }
                if cats == loose_group {
                    prop_assert_eq!(ka == kb, va == vb, "{:?} vs {:?}", va, vb);
                }
            }
        }
    }
}
