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
    pub(crate) scratch: Scratch,
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
    /// Memo keys.
    pub key: Vec<u8>,
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

    /// Write into `key` bytes that identify the values of categorical features `cats`
    /// (every value's length or missing, then their texts in order); `false` when a value is too long
    /// to key (64 KiB or more).
    pub(crate) fn categorical_key(&self, cats: std::ops::Range<usize>, key: &mut Vec<u8>) -> bool {
        key.clear();
        let spans = self.cat_spans.get(cats).unwrap_or_default();
        // Values are pushed in order, so a group's text is one run of `cat_text`: its key is
        // the lengths, then that run (checked, else each value is copied in turn).
        let (mut first, mut end) = (None, 0u32);
        let mut contiguous = true;
        key.resize(2 * spans.len(), 0);
        for (len, sp) in key.chunks_exact_mut(2).zip(spans) {
            if *sp == MISSING {
                len.copy_from_slice(&u16::MAX.to_le_bytes());
                continue;
            }
            match u16::try_from(sp.end.saturating_sub(sp.start)) {
                Ok(n) if n < u16::MAX => len.copy_from_slice(&n.to_le_bytes()),
                _ => return false,
            }
            contiguous &= first.is_none() || sp.start == end;
            first.get_or_insert(sp.start);
            end = sp.end;
        }
        let text = self.cat_text.as_bytes();
        match first {
            Some(start) if contiguous => {
                key.extend_from_slice(text.get(start as usize..end as usize).unwrap_or_default());
            }
            Some(_) => {
                for sp in spans.iter().filter(|sp| **sp != MISSING) {
                    key.extend_from_slice(
                        text.get(sp.start as usize..sp.end as usize)
                            .unwrap_or_default(),
                    );
                }
            }
            None => {}
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
