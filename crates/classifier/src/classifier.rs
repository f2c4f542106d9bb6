//! The interface every model implements, in the spirit of linfa: checked hyperparameters
//! in, a fitted model out; models predict probabilities, rank features and persist as JSON.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::data::{Dataset, Matrix};
use crate::error::{Error, Result};

/// A binary classifier producing the probability that an event is malicious.
pub trait Classifier: Sized + Serialize + DeserializeOwned {
    /// Checked hyperparameters (e.g. [`crate::ValidGbdtParams`]).
    type Params;

    /// Format version written by [`Classifier::save`]; loading a newer one is refused.
    const FORMAT_VERSION: u32;

    /// Trains on `train`, using `valid` (if given) for early stopping.
    fn fit(params: &Self::Params, train: &Dataset, valid: Option<&Dataset>) -> Result<Self>;

    /// Names of the features, in the order rows passed to [`Self::predict_proba_row`] use.
    fn feature_names(&self) -> &[String];

    /// Probability of class 1 for one row (features in [`Self::feature_names`] order).
    fn predict_proba_row(&self, row: &[f32]) -> f32;

    /// Probabilities of class 1 for every row of `m`; columns are matched by name.
    fn predict_proba(&self, m: &Matrix) -> Result<Vec<f32>>;

    /// Probabilities of class 1 for consecutive row-major rows (features in
    /// [`Self::feature_names`] order), one per element of `out`, on the calling thread.
    /// Same values as [`Self::predict_proba_row`]; models override it where a block of
    /// rows is faster than one row at a time.
    fn predict_proba_rows(&self, rows: &[f32], out: &mut [f32]) {
        let width = self.feature_names().len().max(1);
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(width)) {
            *o = self.predict_proba_row(row);
        }
    }

    /// Importance of each feature (by total split gain for trees), in feature order.
    fn feature_importance(&self) -> Vec<(String, f64)>;

    /// Rebuilds derived state and checks invariants after deserialisation.
    fn after_load(&mut self) -> Result<()>;

    /// Writes the model as JSON, atomically (temporary file then rename).
    fn save(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        {
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            serde_json::to_writer(&mut w, self).map_err(|source| Error::Json {
                path: path.to_path_buf(),
                source,
            })?;
            w.flush().map_err(io)?;
        }
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a model written by [`Classifier::save`].
    fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_bytes(&bytes, path)
    }

    /// Parses a saved model from memory; `path` only names the source in errors.
    fn from_json_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let json_err = |source| Error::Json {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_err)?;
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| Error::CorruptModel(format!("{}: no format_version", path.display())))?;
        if found > u64::from(Self::FORMAT_VERSION) {
            return Err(Error::NewerFormat {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: Self::FORMAT_VERSION,
            });
        }
        let mut model: Self = serde_json::from_value(value).map_err(json_err)?;
        model.after_load()?;
        Ok(model)
    }
}

/// Maps a model's features onto the columns of `m` by name.
pub(crate) fn column_map(model_names: &[String], m: &Matrix) -> Result<Vec<usize>> {
    if model_names == m.names() {
        return Ok((0..model_names.len()).collect());
    }
    let index: std::collections::BTreeMap<&str, usize> = m
        .names()
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut missing = Vec::new();
    let map: Vec<usize> = model_names
        .iter()
        .map(|n| {
            index.get(n.as_str()).copied().unwrap_or_else(|| {
                missing.push(n.as_str());
                0
            })
        })
        .collect();
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(Error::FeatureMismatch(format!(
            "{} feature(s) the model was trained on are not in the input: {}",
            missing.len(),
            missing
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}
