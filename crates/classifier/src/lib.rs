//! lotl-classifier: the supervised per-event model (the ProblemChild role).
//!
//! * [`Matrix`] / [`Dataset`]: the dense `f32` input (column-major, named columns,
//!   NaN = missing) that feature recipes produce, with 0/1 labels and optional weights.
//! * [`Classifier`]: fit / predict_proba / feature importance / save / load, shared by
//!   every model.
//! * [`GbdtParams`] → [`ValidGbdtParams`] → [`GbdtModel`]: histogram gradient-boosted trees
//!   with plain, exportable [`Tree`]s.
//! * [`NnParams`] → [`ValidNnParams`] → [`NnModel`]: a burn-trained network (hashed n-gram
//!   embedding bags + MLP head), scored natively.
//! * [`Model`]: either fitted model, for code that loads whatever a bundle holds.
//! * [`explain`]: per-event feature contributions for `--explain`.
//! * [`calibration`]: Platt / isotonic calibration and decision thresholds
//!   (Elastic's `maximize_minimum_recall`, target false-positive rate).
//! * [`metrics`]: ROC-AUC, PR-AUC, recall at FPR, calibration error, confusion matrix.
//! * [`pipeline::fit_calibrated`]: fit + calibrate + threshold + validation report, the
//!   one call behind `lotl train`.
//!
//! ```
//! use lotl_classifier::{Classifier, Dataset, GbdtModel, GbdtParams, Matrix};
//! let x: Vec<f32> = (0..200).map(|i| i as f32).collect();
//! let y: Vec<f32> = x.iter().map(|&v| if v >= 100.0 { 1.0 } else { 0.0 }).collect();
//! let m = Matrix::from_columns(vec![("x".into(), x)]).unwrap();
//! let train = Dataset::new(m, &y, None).unwrap();
//! let params = GbdtParams::builder().n_trees(20).min_data_in_leaf(5).build().unwrap();
//! let model = GbdtModel::fit(&params, &train, None).unwrap();
//! assert!(model.predict_proba_row(&[150.0]) > 0.9);
//! assert!(model.predict_proba_row(&[10.0]) < 0.1);
//! ```

mod binning;
pub mod calibration;
mod classifier;
mod data;
mod error;
pub mod experiment;
pub mod explain;
pub mod gbdt;
pub mod metrics;
mod model;
pub mod nn;
mod params;
pub mod pipeline;
mod rng;

pub use classifier::Classifier;
pub use data::{Dataset, Matrix};
pub use error::{Error, Result};
pub use gbdt::{GbdtModel, ImportanceKind, Node, Tree};
pub use model::{Model, ModelKind};
pub use nn::{NnModel, NnParams, ValidNnParams};
pub use params::{GbdtParams, ValidGbdtParams};
