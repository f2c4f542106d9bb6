//! The parent-cluster anomaly jobs of Elastic's ProblemChild, rebuilt as a small, serialisable
//! statistical model.
//!
//! Input is a stream of [`ScoredEvent`]s (a process start plus the classifier's verdict). A
//! datafeed filter keeps the events the classifier calls malicious; they are grouped into
//! fixed buckets (15 minutes) and each [`JobSpec`] turns a bucket into anomaly records:
//!
//! * `high_sum` jobs (by parent, host or user) model the bucket SUM of prediction
//!   probability per series. A bucket with nothing in it counts as zero, so the model is
//!   zero-inflated: a per-series rate of non-empty buckets (shrunk towards the population
//!   rate, with hour-of-day/hour-of-week factors once history supports them) times a
//!   log-normal size with a Normal-Inverse-Gamma prior fitted to the whole population.
//!   Series with little history therefore borrow strength from all others; the posterior
//!   predictive is a Student-t whose tail gives P(sum ≥ observed). A second, multi-bucket
//!   model of the last 12 buckets' total catches slow bursts.
//! * `rare` jobs model how often each process name appears in a partition (parent, host or
//!   user), smoothed with the name's frequency across all partitions.
//!
//! Probabilities become record scores 0–100 by quantile normalisation over the scores seen
//! so far ([`normalize::Normalizer`]), capped by how small the probability is in absolute
//! terms so that a short history cannot inflate a mild surprise to an alert.
//!
//! Everything is deterministic (ordered maps, no random state) and the whole model
//! serialises to JSON with exact floating-point round trips ([`exact`]).

pub mod error;
pub mod exact;
pub mod job;
pub mod model;
pub mod normalize;
pub mod scored;
pub mod stats;

pub use error::{Error, Result};
pub use job::{ClusterConfig, ClusterParams, Datafeed, Detector, Field, JobSpec};
pub use model::{fit_cluster, write_atomic, AnomalyRecord, ClusterModel};
pub use scored::{
    parse_scored_line, read_events_file_in_slices, read_scored, scored_frame, write_scored,
    EventsFile, ScoredEvent,
};
