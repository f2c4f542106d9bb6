//! Model bundles (lotl's own, versioned and checksummed), and exports to the formats
//! production scorers read.
//!
//! * [`bundle`]: the native bundle directory.
//! * [`elasticsearch`]: trained-model JSON, ingest pipeline, anomaly jobs and detection
//!   rules for Elasticsearch, and an evaluator of Elasticsearch tree models
//!   ([`elasticsearch::EsModel`]) so `lotl predict` can score with them.
//! * [`onnx`]: the GBDT as an `ai.onnx.ml` `TreeEnsembleClassifier`.

pub mod bundle;
pub mod elasticsearch;
pub mod onnx;

pub use bundle::{Bundle, BundleError, Manifest, BUNDLE_FORMAT_VERSION};
