//! A model bundle: a directory holding everything needed to score events, checksummed.
//!
//! ```text
//! <bundle>/
//!   manifest.json    format version, lotl version and commit, recipe, model summary, decision
//!                    threshold, calibration, training-data hash, metrics, SHA-256 of each file
//!   pipeline.json    the fitted feature pipeline (recipe + encoders)
//!   model.json       the classifier (GBDT or network, as manifest.model.type says)
//!   experiment.toml  the experiment file it was trained from (when there was one)
//!   cluster.json     the parent-cluster anomaly model (added by `lotl train` / `fit-cluster`)
//! ```
//!
//! Loading refuses a bundle whose format is newer than this build, or any listed file whose
//! checksum differs, naming the file: a bundle is either exactly what was trained or
//! rejected.

use lotl_classifier::calibration::{Calibration, CalibrationFit, Threshold};
use lotl_classifier::{Model, ModelKind};
use lotl_events::key::ColumnKey;
use lotl_events::ProcessEvent;
use lotl_features::memo::Memo;
use lotl_features::{FeaturePipeline, ScoringPlan};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layout version written by this build; bundles with a larger number are refused.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{dir}: bundle format {found} is newer than this lotl understands ({supported}); upgrade lotl")]
    TooNew {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: checksum mismatch (manifest {expected}, file {found}): the bundle was altered after training; retrain or restore it")]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{dir}: not a lotl bundle: {message}")]
    NotABundle { dir: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] lotl_classifier::Error),
}

type Result<T> = std::result::Result<T, BundleError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub lotl_version: String,
    pub git_commit: String,
    pub created: String,
    pub experiment: Option<String>,
    pub recipe: RecipeInfo,
    pub model: ModelInfo,
    /// Calibrated probabilities at or above this are predicted malicious.
    pub threshold: Threshold,
    pub calibration: CalibrationFit,
    pub training_data_hash: String,
    /// Metrics recorded at training time (free-form: test / validation scores, counts).
    pub metrics: serde_json::Value,
    /// File name → `sha256:<hex>`.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeInfo {
    pub name: String,
    pub version: u32,
    pub n_columns: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `gbdt` or `burn`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Trees kept (0 for a network).
    pub n_trees: usize,
    pub n_features: usize,
}

/// What goes into a new bundle.
pub struct NewBundle<'a> {
    pub lotl_version: &'a str,
    pub git_commit: &'a str,
    pub experiment_name: Option<&'a str>,
    pub experiment_toml: Option<&'a str>,
    pub pipeline: &'a FeaturePipeline,
    pub model: &'a Model,
    pub calibration: &'a CalibrationFit,
    pub threshold: Threshold,
    pub training_data_hash: &'a str,
    pub metrics: serde_json::Value,
}

/// A loaded bundle, ready to score.
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub pipeline: FeaturePipeline,
    pub model: Model,
    /// The pipeline's encoding restricted to the columns the model reads.
    plan: ScoringPlan,
    /// The recipe's input fields, by which scores are memoised (none: every event scored).
    inputs: Option<ColumnKey>,
}

/// One worker's buffers for scoring a run of events.
#[derive(Default)]
struct RunScratch {
    /// Encoded rows of the events not found in the memo.
    rows: Vec<f32>,
    /// The run's raw model outputs.
    raw: Vec<f32>,
    /// The run's input keys, back to back (only the misses' are kept).
    keys: Vec<u8>,
    /// Events not found in the memo: index in the run, key bytes in `keys`.
    misses: Vec<(usize, std::ops::Range<usize>)>,
    miss_raw: Vec<f32>,
}

/// Entries a thread's score memo holds before it starts over, and key bytes.
const SCORE_MEMO_ENTRIES: usize = 1 << 16;
const SCORE_MEMO_KEY_BYTES: usize = 16 << 20;

thread_local! {
    /// One thread's raw model outputs by the recipe's input key, for one scoring plan (the
    /// memo's variant). Events repeat their featurised fields far more than their ids: the
    /// same service, updater or script command line under the same parent on every host
    /// and every hour (one distinct input in 8 on a synthetic fleet, 6 in 10 in the small
    /// lab corpora), and an event whose inputs were scored before costs one hash and one
    /// comparison instead of featurising, encoding and walking every tree.
    static SCORE_MEMO: std::cell::RefCell<Memo<f32>> =
        std::cell::RefCell::new(Memo::bounded(SCORE_MEMO_ENTRIES, SCORE_MEMO_KEY_BYTES));
}

/// One event's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub prediction: u8,
    /// Calibrated probability of malicious.
    pub probability: f32,
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(format!("sha256:{:x}", Sha256::digest(&bytes)))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io(path))?;
    tmp.persist(path).map_err(|e| BundleError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

fn json_bytes<T: Serialize>(v: &T, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|source| BundleError::Json {
        path: path.to_owned(),
        source,
    })
}

impl Bundle {
    /// Write a new bundle to `dir`. The files are written into a temporary sibling directory
    /// that then replaces `dir`, so a reader never sees half a bundle.
    pub fn write(dir: &Path, b: &NewBundle<'_>) -> Result<Manifest> {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".lotl-bundle-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let t = tmp.path();
        let pipeline_json = b.pipeline.to_json().map_err(|source| BundleError::Json {
            path: t.join("pipeline.json"),
            source,
        })?;
        std::fs::write(t.join("pipeline.json"), pipeline_json).map_err(io(t))?;
        b.model.save(&t.join("model.json"))?;
        if let Some(text) = b.experiment_toml {
            std::fs::write(t.join("experiment.toml"), text).map_err(io(t))?;
        }
        let mut files = BTreeMap::new();
        for name in ["pipeline.json", "model.json", "experiment.toml"] {
            let p = t.join(name);
            if p.exists() {
                files.insert(name.to_owned(), sha256_file(&p)?);
            }
        }
        let manifest = Manifest {
            format_version: BUNDLE_FORMAT_VERSION,
            lotl_version: b.lotl_version.to_owned(),
            git_commit: b.git_commit.to_owned(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            experiment: b.experiment_name.map(str::to_owned),
            recipe: RecipeInfo {
                name: b.pipeline.recipe_config().name().to_owned(),
                version: b.pipeline.recipe().version(),
                n_columns: b.pipeline.n_columns(),
            },
            model: ModelInfo {
                kind: b.model.kind().name().into(),
                n_trees: b.model.n_trees(),
                n_features: b.model.feature_names().len(),
            },
            threshold: b.threshold,
            calibration: b.calibration.clone(),
            training_data_hash: b.training_data_hash.to_owned(),
            metrics: b.metrics.clone(),
            files,
        };
        let mpath = t.join("manifest.json");
        std::fs::write(&mpath, json_bytes(&manifest, &mpath)?).map_err(io(&mpath))?;
        let staged = tmp.keep();
        if dir.exists() {
            let old = parent.join(format!(
                ".lotl-bundle-old-{}",
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(dir, &old).map_err(io(dir))?;
            std::fs::rename(&staged, dir).map_err(io(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&staged, dir).map_err(io(dir))?;
        }
        Ok(manifest)
    }

    /// Read and verify a bundle's manifest only.
    pub fn read_manifest(dir: &Path) -> Result<Manifest> {
        let mpath = dir.join("manifest.json");
        if !mpath.is_file() {
            return Err(BundleError::NotABundle {
                dir: dir.to_owned(),
                message: "no manifest.json (train one with `lotl train`)".into(),
            });
        }
        let text = std::fs::read(&mpath).map_err(io(&mpath))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| BundleError::Json {
                path: mpath.clone(),
                source,
            })?;
        let found = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if found > BUNDLE_FORMAT_VERSION {
            return Err(BundleError::TooNew {
                dir: dir.to_owned(),
                found,
                supported: BUNDLE_FORMAT_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|source| BundleError::Json {
            path: mpath,
            source,
        })
    }

    /// Check every file the manifest lists against its checksum.
    pub fn verify(dir: &Path, manifest: &Manifest) -> Result<()> {
        for (name, expected) in &manifest.files {
            let p = dir.join(name);
            let found = sha256_file(&p)?;
            if &found != expected {
                return Err(BundleError::Checksum {
                    path: p,
                    expected: expected.clone(),
                    found,
                });
            }
        }
        Ok(())
    }

    /// Load and verify a bundle.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let manifest = Self::read_manifest(dir)?;
        Self::verify(dir, &manifest)?;
        let ppath = dir.join("pipeline.json");
        let text = std::fs::read_to_string(&ppath).map_err(io(&ppath))?;
        let pipeline = FeaturePipeline::from_json(&text).map_err(|source| BundleError::Json {
            path: ppath,
            source,
        })?;
        let kind =
            ModelKind::from_name(&manifest.model.kind).map_err(|e| BundleError::NotABundle {
                dir: dir.to_owned(),
                message: format!("manifest.json: {e}"),
            })?;
        let model = Model::load(kind, &dir.join("model.json"))?;
        if model.feature_names() != pipeline.columns() {
            return Err(BundleError::NotABundle {
                dir: dir.to_owned(),
                message: "model.json and pipeline.json disagree on the feature columns".into(),
            });
        }
        let plan = pipeline.scoring_plan(model.read_columns().as_deref());
        let inputs = pipeline.recipe().input_key();
        Ok(Bundle {
            dir: dir.to_owned(),
            manifest,
            pipeline,
            model,
            plan,
            inputs,
        })
    }

    /// Add or replace a file in the bundle and record its checksum in the manifest.
    pub fn put_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
        let mut manifest = Self::read_manifest(dir)?;
        Self::verify(dir, &manifest)?;
        let p = dir.join(name);
        write_atomic(&p, bytes)?;
        manifest.files.insert(name.to_owned(), sha256_file(&p)?);
        let mpath = dir.join("manifest.json");
        write_atomic(&mpath, &json_bytes(&manifest, &mpath)?)
    }

    /// Read a file the manifest lists (checked when the bundle was loaded).
    pub fn file(&self, name: &str) -> Option<PathBuf> {
        self.manifest
            .files
            .contains_key(name)
            .then(|| self.dir.join(name))
    }

    pub fn calibration(&self) -> &Calibration {
        &self.manifest.calibration.calibration
    }

    /// Score one event; `row` is scratch space reused across calls.
    pub fn score_one(&self, event: &ProcessEvent, row: &mut Vec<f32>) -> Score {
        self.encode(event, row);
        let raw = self.model.predict_proba_row(row);
        let probability = self.calibration().apply(raw);
        Score {
            prediction: u8::from(probability >= self.manifest.threshold.threshold),
            probability,
        }
    }

    /// Score many events in parallel (same values as [`Bundle::score_one`]): each work unit
    /// encodes a run of events into row-major rows and predicts them as one block, which
    /// the compiled trees walk several rows at a time.
    pub fn score(&self, events: &[ProcessEvent]) -> Vec<Score> {
        const RUN: usize = 256;
        let width = self.pipeline.n_columns();
        let threshold = self.manifest.threshold.threshold;
        let mut scores = vec![
            Score {
                prediction: 0,
                probability: 0.0,
            };
            events.len()
        ];
        // Each worker reuses one block of rows: a fresh megabyte per run is a fresh mapping
        // whose pages the kernel clears (a tenth of the time).
        events
            .par_chunks(RUN)
            .zip(scores.par_chunks_mut(RUN))
            .for_each_init(RunScratch::default, |scratch, (chunk, out)| {
                self.raw_scores(chunk, width, scratch);
                for (o, &raw) in out.iter_mut().zip(&scratch.raw) {
                    let probability = self.calibration().apply(raw);
                    *o = Score {
                        prediction: u8::from(probability >= threshold),
                        probability,
                    };
                }
            });
        scores
    }

    /// The model's raw outputs for `events` into `scratch.raw`: those whose recipe inputs
    /// this thread has scored before from its memo, the others from the model (and then
    /// remembered). The memo is not borrowed while the model runs, so a model that used the
    /// thread pool itself could not reenter it.
    fn raw_scores(&self, events: &[ProcessEvent], width: usize, scratch: &mut RunScratch) {
        let RunScratch {
            rows,
            raw,
            keys,
            misses,
            miss_raw,
        } = scratch;
        raw.clear();
        raw.resize(events.len(), 0.0);
        keys.clear();
        misses.clear();
        // The plan's id is unique in this process: the memo's variant.
        let plan = self.plan.id() as usize;
        SCORE_MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            for (i, e) in events.iter().enumerate() {
                let Some(inputs) = &self.inputs else {
                    misses.push((i, 0..0));
                    continue;
                };
                let start = keys.len();
                inputs.append(e, keys);
                match memo.get(plan, &keys[start..]) {
                    Some(v) => {
                        raw[i] = *v;
                        keys.truncate(start);
                    }
                    None => misses.push((i, start..keys.len())),
                }
            }
        });
        if misses.is_empty() {
            return;
        }
        rows.resize(misses.len() * width, 0.0f32);
        if width > 0 {
            for ((i, _), row) in misses.iter().zip(rows.chunks_exact_mut(width)) {
                self.pipeline
                    .transform_planned(&self.plan, &events[*i], row);
            }
        }
        miss_raw.clear();
        miss_raw.resize(misses.len(), 0.0f32);
        self.model.predict_proba_rows(rows, miss_raw);
        for ((i, _), &v) in misses.iter().zip(miss_raw.iter()) {
            raw[*i] = v;
        }
        if self.inputs.is_some() {
            SCORE_MEMO.with(|memo| {
                let mut memo = memo.borrow_mut();
                for ((_, key), &v) in misses.iter().zip(miss_raw.iter()) {
                    memo.put(plan, &keys[key.clone()], v);
                }
            });
        }
    }

    /// The `k` features that pushed this event's score most (by contribution to the log-odds).
    pub fn explain_one(
        &self,
        event: &ProcessEvent,
        k: usize,
        row: &mut Vec<f32>,
    ) -> Vec<(String, f64)> {
        self.encode(event, row);
        self.model.top_contributions(row, k)
    }

    /// The model's input row for one event: every column the model reads, as
    /// [`FeaturePipeline::transform_one`] encodes it.
    fn encode(&self, event: &ProcessEvent, row: &mut Vec<f32>) {
        row.clear();
        row.resize(self.plan.width(), 0.0);
        self.pipeline.transform_planned(&self.plan, event, row);
    }
}
