//! The dense input types every model accepts.
//!
//! The feature recipes hand over a dense `f32` matrix with named columns; `NaN` marks a
//! missing value (the trees learn where to send it), infinities are rejected because no
//! recipe should produce them and they would silently land in the last bin.
//!
//! Storage is column-major (`values[col * n_rows + row]`) because recipes compute one
//! feature at a time and binning works per column; prediction transposes small row blocks.

use crate::error::{Error, Result};

/// A dense feature matrix: `n_rows × n_cols` `f32` values, column-major, with column names.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    n_rows: usize,
    names: Vec<String>,
    values: Vec<f32>,
}

impl Matrix {
    /// Builds a matrix from column-major values (`values[col * n_rows + row]`).
    ///
    /// Fails if the length does not match, a column name is repeated or empty, or a
    /// value is infinite (NaN is allowed and means missing).
    pub fn from_column_major(n_rows: usize, names: Vec<String>, values: Vec<f32>) -> Result<Self> {
        let n_cols = names.len();
        if n_rows.checked_mul(n_cols) != Some(values.len()) {
            return Err(Error::InvalidData(format!(
                "{} values for {n_rows} rows × {n_cols} columns",
                values.len()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in &names {
            if name.is_empty() {
                return Err(Error::InvalidData("empty column name".into()));
            }
            if !seen.insert(name.as_str()) {
                return Err(Error::InvalidData(format!("column `{name}` appears twice")));
            }
        }
        for (c, name) in names.iter().enumerate() {
            let col = &values[c * n_rows..(c + 1) * n_rows];
            if let Some(r) = col.iter().position(|v| v.is_infinite()) {
                return Err(Error::InvalidData(format!(
                    "column `{name}` row {r}: infinite value {} (use NaN for missing)",
                    col[r]
                )));
            }
        }
        Ok(Self {
            n_rows,
            names,
            values,
        })
    }

    /// Builds a matrix from named columns of equal length.
    pub fn from_columns(columns: Vec<(String, Vec<f32>)>) -> Result<Self> {
        let n_rows = columns.first().map_or(0, |c| c.1.len());
        let mut names = Vec::with_capacity(columns.len());
        let mut values = Vec::with_capacity(n_rows * columns.len());
        for (name, col) in columns {
            if col.len() != n_rows {
                return Err(Error::InvalidData(format!(
                    "column `{name}` has {} rows, expected {n_rows}",
                    col.len()
                )));
            }
            names.push(name);
            values.extend_from_slice(&col);
        }
        Self::from_column_major(n_rows, names, values)
    }

    /// Builds a matrix from row-major values (`values[row * n_cols + col]`).
    pub fn from_row_major(n_rows: usize, names: Vec<String>, values: &[f32]) -> Result<Self> {
        let n_cols = names.len();
        if n_rows.checked_mul(n_cols) != Some(values.len()) {
            return Err(Error::InvalidData(format!(
                "{} values for {n_rows} rows × {n_cols} columns",
                values.len()
            )));
        }
        let mut cm = vec![0.0f32; values.len()];
        for r in 0..n_rows {
            for c in 0..n_cols {
                cm[c * n_rows + r] = values[r * n_cols + c];
            }
        }
        Self::from_column_major(n_rows, names, cm)
    }

    /// Number of rows (events).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (features).
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    /// Column names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// One column's values.
    pub fn column(&self, col: usize) -> &[f32] {
        &self.values[col * self.n_rows..(col + 1) * self.n_rows]
    }

    /// One value.
    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.values[col * self.n_rows + row]
    }

    /// All values, column-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// A new matrix with only the given rows, in the given order.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&r) = rows.iter().find(|&&r| r >= self.n_rows) {
            return Err(Error::InvalidData(format!(
                "row {r} out of range ({} rows)",
                self.n_rows
            )));
        }
        let mut values = Vec::with_capacity(rows.len() * self.n_cols());
        for c in 0..self.n_cols() {
            let col = self.column(c);
            values.extend(rows.iter().map(|&r| col[r]));
        }
        Ok(Self {
            n_rows: rows.len(),
            names: self.names.clone(),
            values,
        })
    }
}

/// A labelled matrix: features, binary labels (0 = benign, 1 = malicious) and optional
/// per-row weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Matrix,
    labels: Vec<u8>,
    weights: Option<Vec<f32>>,
}

impl Dataset {
    /// Attaches labels (each exactly `0.0` or `1.0`) and optional non-negative finite weights.
    ///
    /// Labels arrive as `f32` because they come out of the same data frames as features;
    /// a NaN or any other value is rejected with its row number.
    pub fn new(features: Matrix, labels: &[f32], weights: Option<Vec<f32>>) -> Result<Self> {
        if labels.len() != features.n_rows() {
            return Err(Error::InvalidData(format!(
                "{} labels for {} rows",
                labels.len(),
                features.n_rows()
            )));
        }
        let mut out = Vec::with_capacity(labels.len());
        for (r, &l) in labels.iter().enumerate() {
            out.push(if l == 0.0 {
                0
            } else if l == 1.0 {
                1
            } else {
                return Err(Error::InvalidData(format!(
                    "row {r}: label {l} is not 0 or 1"
                )));
            });
        }
        if let Some(w) = &weights {
            if w.len() != labels.len() {
                return Err(Error::InvalidData(format!(
                    "{} weights for {} rows",
                    w.len(),
                    labels.len()
                )));
            }
            if let Some(r) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(Error::InvalidData(format!(
                    "row {r}: weight {} is not a finite non-negative number",
                    w[r]
                )));
            }
        }
        Ok(Self {
            features,
            labels: out,
            weights,
        })
    }

    /// The feature matrix.
    pub fn features(&self) -> &Matrix {
        &self.features
    }

    /// Labels, 0 or 1.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Per-row weights, if any.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Number of positive (label 1) rows.
    pub fn n_positive(&self) -> usize {
        self.labels.iter().filter(|&&l| l == 1).count()
    }

    /// Checks that the data can train a binary classifier: rows, columns, and both classes
    /// with positive total weight. `what` names the split in the error ("training", ...).
    pub fn check_trainable(&self, what: &str) -> Result<()> {
        if self.n_rows() == 0 {
            return Err(Error::Untrainable(format!("the {what} set is empty")));
        }
        if self.features.n_cols() == 0 {
            return Err(Error::Untrainable(format!(
                "the {what} set has no features"
            )));
        }
        let mut w = [0.0f64; 2];
        for (r, &l) in self.labels.iter().enumerate() {
            w[l as usize] += self.weights.as_ref().map_or(1.0, |w| f64::from(w[r]));
        }
        for (class, name) in [(0usize, "negative (0)"), (1, "positive (1)")] {
            if w[class] <= 0.0 {
                return Err(Error::Untrainable(format!(
                    "the {what} set has no {name} rows with positive weight: a binary classifier needs both classes"
                )));
            }
        }
        Ok(())
    }

    /// A new data set with only the given rows.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
        let features = self.features.select_rows(rows)?;
        Ok(Self {
            features,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            weights: self
                .weights
                .as_ref()
                .map(|w| rows.iter().map(|&r| w[r]).collect()),
        })
    }
}
