//! The detection engine: Elastic's machine-learning rule run over the cluster model.
//!
//! Events flow through one code path, [`Engine::push`]: accepted events wait in their open
//! bucket; when event time passes a bucket's end (plus the configured latency) the bucket is
//! closed and scored by the [`lotl_cluster::ClusterModel`]; at every scheduled execution
//! (every 15 minutes, looking back 45) the anomalies in the look-back whose current record
//! score reaches the threshold become [`Alert`]s, at most 100 per rule and execution, never
//! twice for the same anomaly, minus the configured [`Exceptions`]. [`detect`] is that engine
//! fed from a slice, so replay and live scoring cannot disagree; a [`ReplayInput`] feeds it
//! events gathered in any order, holding whole only those the datafeed keeps, and
//! [`score_into`] scores raw events into one a chunk at a time. The engine's whole state
//! serialises atomically ([`Engine::save`]), so a restarted engine continues exactly where the
//! old one stopped.

pub mod alert;
pub mod config;
pub mod engine;
pub mod error;
pub mod replay;
pub mod score;

pub use alert::{summary_table, Alert, Child};
pub use config::{Exceptions, RuleConfig, RuleParams};
pub use engine::{detect, replay, Checkpoint, Engine, EngineStats};
pub use error::{Error, Result};
pub use replay::ReplayInput;
pub use score::{
    is_parquet, score_events, score_files_to_parquet, score_into, score_paths_into, Explain,
    ScoredFile, SCORE_CHUNK,
};
