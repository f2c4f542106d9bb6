//! A small neural classifier, trained with burn (CPU `flex` backend) and scored natively.
//!
//! Architecture (one forward pass per event):
//!
//! ```text
//! x ──standardise──▶ z ─┬─ cl_ngram_*   ──EmbeddingBag(Σ tf·E_cl)──┐
//!   (NaN → mean)        ├─ path_ngram_* ──EmbeddingBag(Σ tf·E_path)─┼─concat─▶ [Dense+ReLU]* ─▶ Dense(1) ─▶ sigmoid
//!                       └─ other columns (standardised) ────────────┘
//! ```
//!
//! The lotl recipe stores its hashed n-grams as term-frequency columns named
//! `<family>_ngram_<bucket>`; each family becomes one embedding bag whose output is the
//! tf-weighted sum of its bucket embeddings (`EmbeddingBag(mode = sum,
//! per_sample_weights = tf)`), which is the same as a bias-free linear projection of that
//! block of columns. Every other column is standardised with the training mean and standard
//! deviation; a missing value (NaN) becomes the mean, i.e. zero after standardisation.
//! N-gram columns are not standardised (mean 0, scale 1) so they stay sparse.
//!
//! burn does the training only (the private `train` module). The fitted weights are copied
//! out into plain vectors: prediction is a few hundred lines of dependency-free Rust that runs per event
//! without tensors, and the same vectors are what the bundle stores (little-endian `f32`,
//! base64, inside `model.json`, so a reload is bit-exact) and what the ONNX export writes.

mod params;
mod train;

use serde::{Deserialize, Serialize};

use crate::classifier::{column_map, Classifier};
use crate::data::{Dataset, Matrix};
use crate::error::{Error, Result};
pub use params::{NnParams, ValidNnParams};

/// One hashed n-gram family's embedding table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingBag {
    /// Family name (`cl`, `path`): the part of the column names before `_ngram_`.
    pub name: String,
    /// Feature indices of the family's bucket columns, in table row order.
    pub columns: Vec<u32>,
    /// Embedding width.
    pub dim: u32,
    /// `columns.len() × dim`, row-major.
    #[serde(with = "f32_base64")]
    pub weight: Vec<f32>,
}

/// A fully connected layer: `out = in · weight + bias`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Input width.
    pub n_in: u32,
    /// Output width.
    pub n_out: u32,
    /// `n_in × n_out`, row-major (burn's `Linear` layout).
    #[serde(with = "f32_base64")]
    pub weight: Vec<f32>,
    /// `n_out` values.
    #[serde(with = "f32_base64")]
    pub bias: Vec<f32>,
}

/// A fitted network; see the module documentation for its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NnModel {
    /// Version of this JSON layout.
    pub format_version: u32,
    /// Feature names, in the column order rows use.
    pub feature_names: Vec<String>,
    /// Per-feature training mean (0 for n-gram columns); replaces NaN.
    #[serde(with = "f32_base64")]
    pub mean: Vec<f32>,
    /// Per-feature `1 / standard deviation` (1 for n-gram and constant columns).
    #[serde(with = "f32_base64")]
    pub inv_std: Vec<f32>,
    /// Embedding bags of the hashed n-gram families, in the order their outputs are
    /// concatenated.
    pub bags: Vec<EmbeddingBag>,
    /// Feature indices passed to the head as standardised values, after the bag outputs.
    pub numeric: Vec<u32>,
    /// Head layers; ReLU after every layer but the last, which has one output (the logit).
    pub layers: Vec<Dense>,
    /// Hyperparameters used.
    pub params: NnParams,
    /// Mean |∂logit/∂z · z| per feature on the importance rows (z = standardised input).
    pub importance: Vec<f64>,
    /// Validation log-loss after each epoch (empty without validation data).
    pub valid_loss: Vec<f64>,
    /// Training log-loss after each epoch.
    #[serde(default)]
    pub train_loss: Vec<f64>,
    /// Epochs run (the kept weights are those of the best validation epoch).
    pub epochs: u32,
}

/// Reusable per-thread buffers of the native forward pass.
#[derive(Debug, Default)]
struct Scratch {
    z: Vec<f32>,
    /// `acts[0]`: head input; `acts[l + 1]`: output of layer `l` (after ReLU if hidden).
    acts: Vec<Vec<f32>>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Parses `<family>_ngram_<bucket>` column names.
fn ngram_family(name: &str) -> Option<&str> {
    let (family, bucket) = name.rsplit_once("_ngram_")?;
    (!family.is_empty() && !bucket.is_empty() && bucket.bytes().all(|b| b.is_ascii_digit()))
        .then_some(family)
}

impl NnModel {
    /// Format version of the JSON layout written by this build.
    pub const VERSION: u32 = 1;

    /// Trains a network; see [`Classifier::fit`].
    pub fn fit(params: &ValidNnParams, train: &Dataset, valid: Option<&Dataset>) -> Result<Self> {
        train.check_trainable("training")?;
        if let Some(v) = valid {
            if v.n_rows() == 0 {
                return Err(Error::Untrainable("the validation set is empty".into()));
            }
            if v.features().names() != train.features().names() {
                return Err(Error::FeatureMismatch(
                    "validation columns differ from training columns".into(),
                ));
            }
        }
        train::fit(params, train, valid)
    }

    /// Width of the head's input: all bag outputs plus the numeric columns.
    pub fn head_width(&self) -> usize {
        self.bags.iter().map(|b| b.dim as usize).sum::<usize>() + self.numeric.len()
    }

    fn scratch(&self) -> Scratch {
        let mut s = Scratch::default();
        self.fit_scratch(&mut s);
        s
    }

    /// Sizes `s` for this model (no allocation when it already fits).
    fn fit_scratch(&self, s: &mut Scratch) {
        s.z.resize(self.feature_names.len(), 0.0);
        s.acts.resize_with(self.layers.len() + 1, Vec::new);
        s.acts[0].resize(self.head_width(), 0.0);
        for (a, l) in s.acts[1..].iter_mut().zip(&self.layers) {
            a.resize(l.n_out as usize, 0.0);
        }
    }

    /// `z = (x - mean) · inv_std` with NaN → 0 (the ONNX export computes exactly this).
    fn standardise(&self, row: &[f32], z: &mut [f32]) {
        for (i, zi) in z.iter_mut().enumerate() {
            let x = row.get(i).copied().unwrap_or(f32::NAN);
            let x = if x.is_nan() { self.mean[i] } else { x };
            *zi = (x - self.mean[i]) * self.inv_std[i];
        }
    }

    /// Logit of one standardised row; fills `s.acts`.
    fn forward(&self, s: &mut Scratch) -> f32 {
        let (z, acts) = (&s.z, &mut s.acts);
        let a0 = &mut acts[0];
        a0.fill(0.0);
        let mut off = 0usize;
        for bag in &self.bags {
            let dim = bag.dim as usize;
            let out = &mut a0[off..off + dim];
            for (j, &c) in bag.columns.iter().enumerate() {
                let v = z[c as usize];
                if v != 0.0 {
                    for (o, w) in out.iter_mut().zip(&bag.weight[j * dim..(j + 1) * dim]) {
                        *o += v * w;
                    }
                }
            }
            off += dim;
        }
        for (k, &c) in self.numeric.iter().enumerate() {
            a0[off + k] = z[c as usize];
        }
        let n = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let (inp, out) = acts.split_at_mut(l + 1);
            let (inp, out) = (&inp[l], &mut out[0]);
            let n_out = layer.n_out as usize;
            out.copy_from_slice(&layer.bias);
            for (i, &v) in inp.iter().enumerate() {
                if v != 0.0 {
                    for (o, w) in out
                        .iter_mut()
                        .zip(&layer.weight[i * n_out..(i + 1) * n_out])
                    {
                        *o += v * w;
                    }
                }
            }
            if l + 1 < n {
                for o in out.iter_mut() {
                    *o = o.max(0.0);
                }
            }
        }
        acts[n][0]
    }

    /// ∂logit/∂z for the row whose forward pass is in `s`.
    fn input_gradient(&self, s: &Scratch) -> Vec<f32> {
        let mut g = vec![1.0f32];
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let n_out = layer.n_out as usize;
            let inp = &s.acts[l];
            let mut gi = vec![0.0f32; layer.n_in as usize];
            for (i, gv) in gi.iter_mut().enumerate() {
                // Inputs of layer l > 0 are ReLU outputs: no gradient where they are 0.
                if l > 0 && inp[i] <= 0.0 {
                    continue;
                }
                let w = &layer.weight[i * n_out..(i + 1) * n_out];
                *gv = w.iter().zip(&g).map(|(w, g)| w * g).sum();
            }
            g = gi;
        }
        let mut dz = vec![0.0f32; self.feature_names.len()];
        let mut off = 0usize;
        for bag in &self.bags {
            let dim = bag.dim as usize;
            let gb = &g[off..off + dim];
            for (j, &c) in bag.columns.iter().enumerate() {
                let w = &bag.weight[j * dim..(j + 1) * dim];
                dz[c as usize] += w.iter().zip(gb).map(|(w, g)| w * g).sum::<f32>();
            }
            off += dim;
        }
        for (k, &c) in self.numeric.iter().enumerate() {
            dz[c as usize] += g[off + k];
        }
        dz
    }

    /// Logit (log-odds) of one row in feature order.
    pub fn predict_raw_row(&self, row: &[f32]) -> f32 {
        // Per-event scoring (`Bundle::score_one`) calls this once per event: reuse the
        // thread's buffers instead of allocating them every time.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            self.fit_scratch(&mut s);
            self.standardise(row, &mut s.z);
            self.forward(&mut s)
        })
    }

    /// Logits of every row of `m`, columns matched by name; runs on the current rayon pool.
    pub fn predict_raw(&self, m: &Matrix) -> Result<Vec<f32>> {
        use rayon::prelude::*;
        let map = column_map(&self.feature_names, m)?;
        let mut out = vec![0.0f32; m.n_rows()];
        const BLOCK: usize = 512;
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(bi, o)| {
            let start = bi * BLOCK;
            let mut s = self.scratch();
            let mut row = vec![0.0f32; map.len()];
            for (r, v) in o.iter_mut().enumerate() {
                for (x, &mc) in row.iter_mut().zip(&map) {
                    *x = m.get(start + r, mc);
                }
                self.standardise(&row, &mut s.z);
                *v = self.forward(&mut s);
            }
        });
        Ok(out)
    }

    /// Gradient × input contributions of one row to its logit, per feature, on the
    /// standardised scale (the baseline is the training mean, where z = 0). Unlike tree
    /// path contributions they do not sum to the logit exactly: the network is not linear.
    pub fn contributions_row(&self, row: &[f32]) -> Vec<f64> {
        let mut s = self.scratch();
        self.standardise(row, &mut s.z);
        self.forward(&mut s);
        let dz = self.input_gradient(&s);
        dz.iter().zip(&s.z).map(|(g, z)| f64::from(g * z)).collect()
    }

    /// The `k` features with the largest |contribution| for one row, signed.
    pub fn top_contributions(&self, row: &[f32], k: usize) -> Vec<(String, f64)> {
        let mut v: Vec<(usize, f64)> = self
            .contributions_row(row)
            .into_iter()
            .enumerate()
            .filter(|(_, x)| *x != 0.0)
            .collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        v.into_iter()
            .take(k)
            .map(|(i, x)| (self.feature_names[i].clone(), x))
            .collect()
    }

    /// Mean |gradient × input| over `rows` of `m` (model column order): the importance
    /// stored at training time.
    fn mean_abs_contribution(&self, m: &Matrix, rows: &[usize]) -> Vec<f64> {
        use rayon::prelude::*;
        let n_f = self.feature_names.len();
        let sum = rows
            .par_chunks(256)
            .map(|chunk| {
                let mut acc = vec![0.0f64; n_f];
                let mut row = vec![0.0f32; n_f];
                for &r in chunk {
                    for (c, x) in row.iter_mut().enumerate() {
                        *x = m.get(r, c);
                    }
                    for (a, v) in acc.iter_mut().zip(self.contributions_row(&row)) {
                        *a += v.abs();
                    }
                }
                acc
            })
            .reduce(
                || vec![0.0f64; n_f],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            );
        let n = rows.len().max(1) as f64;
        sum.into_iter().map(|v| v / n).collect()
    }

    /// Number of trained weights (embeddings and head).
    pub fn n_weights(&self) -> usize {
        self.bags.iter().map(|b| b.weight.len()).sum::<usize>()
            + self
                .layers
                .iter()
                .map(|l| l.weight.len() + l.bias.len())
                .sum::<usize>()
    }

    /// Checks every shape and value; a model that passes cannot index out of bounds.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::CorruptModel(m));
        let n_f = self.feature_names.len();
        if self.mean.len() != n_f || self.inv_std.len() != n_f {
            return bad(format!(
                "{n_f} features but {} means and {} scales",
                self.mean.len(),
                self.inv_std.len()
            ));
        }
        if self.importance.len() != n_f {
            return bad(format!(
                "{n_f} features but {} importances",
                self.importance.len()
            ));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&self.mean) || !finite(&self.inv_std) {
            return bad("non-finite standardisation".into());
        }
        for c in self
            .bags
            .iter()
            .flat_map(|b| &b.columns)
            .chain(&self.numeric)
        {
            if *c as usize >= n_f {
                return bad(format!("column index {c} out of range ({n_f} features)"));
            }
        }
        for b in &self.bags {
            if b.dim == 0 || b.weight.len() != b.columns.len() * b.dim as usize {
                return bad(format!("embedding bag `{}` has a wrong shape", b.name));
            }
            if !finite(&b.weight) {
                return bad(format!("embedding bag `{}`: non-finite weight", b.name));
            }
        }
        let mut width = self.head_width();
        if self.layers.is_empty() {
            return bad("no layers".into());
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.n_in as usize != width
                || l.n_out == 0
                || l.weight.len() != (l.n_in as usize) * (l.n_out as usize)
                || l.bias.len() != l.n_out as usize
            {
                return bad(format!("layer {i} has a wrong shape"));
            }
            if !finite(&l.weight) || !finite(&l.bias) {
                return bad(format!("layer {i}: non-finite weight"));
            }
            width = l.n_out as usize;
        }
        if width != 1 {
            return bad(format!("the last layer has {width} outputs, expected 1"));
        }
        Ok(())
    }
}

impl Classifier for NnModel {
    type Params = ValidNnParams;
    const FORMAT_VERSION: u32 = NnModel::VERSION;

    fn fit(params: &ValidNnParams, train: &Dataset, valid: Option<&Dataset>) -> Result<Self> {
        NnModel::fit(params, train, valid)
    }

    fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    fn predict_proba_row(&self, row: &[f32]) -> f32 {
        sigmoid(self.predict_raw_row(row))
    }

    fn predict_proba(&self, m: &Matrix) -> Result<Vec<f32>> {
        Ok(self.predict_raw(m)?.into_iter().map(sigmoid).collect())
    }

    /// Mean |gradient × input| of the logit on standardised inputs, measured at training
    /// time on up to `importance_rows` validation rows (training rows without validation).
    fn feature_importance(&self) -> Vec<(String, f64)> {
        self.feature_names
            .iter()
            .cloned()
            .zip(self.importance.iter().copied())
            .collect()
    }

    fn after_load(&mut self) -> Result<()> {
        self.validate()
    }
}

/// `Vec<f32>` as base64 of its little-endian bytes: exact, and a third of the JSON size.
mod f32_base64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom(format!(
                "{} bytes is not a whole number of f32 values",
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests;
