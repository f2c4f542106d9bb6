//! A named training run, from an experiment file to a fitted, calibrated model with its test
//! metrics: the library side of `lotl train`.
//!
//! ```toml
//! name = "lotl-gbdt"
//! seed = 1
//!
//! [[data]]                       # any number of sources, concatenated
//! synth = { hosts = 60, days = 3, seed = 11 }
//! [[data]]
//! real = "../shared/datasets/real"   # ingested and labelled by lotl's rule
//! [[data]]
//! parquet = "more-labelled-events.parquet"
//!
//! [split]
//! by = "file"                    # host | scenario | file (file falls back to host)
//! ratios = [0.6, 0.2, 0.2]
//!
//! [features]
//! recipe = "lotl"                # elastic2021 | elastic2026 | lotl
//!
//! [model]
//! type = "gbdt"                  # or "burn" (the network, hyperparameters in [model.burn])
//! [model.gbdt]                   # GbdtParams, LightGBM names
//! n_trees = 200
//!
//! [decision]
//! calibration = "isotonic"       # none | platt | isotonic
//! objective = "maximize_minimum_recall"   # or target_fpr
//! # target_fpr = 0.01
//! ```
//!
//! Relative paths are resolved against the experiment file's directory.

use crate::calibration::{
    calibrate, maximize_minimum_recall, threshold_for_fpr, CalibrationFit, CalibrationMethod,
    Threshold,
};
use crate::metrics::{pr_auc, recall_at_fpr, roc_auc, ConfusionMatrix};
use crate::{Dataset, GbdtModel, GbdtParams, Matrix, Model, ModelKind, NnModel, NnParams};
use lotl_datasets::split::{plan, GroupBy, Ratios, Side};
use lotl_events::{Label, ProcessEvent};
use lotl_features::{EncoderParams, FeaturePipeline, RecipeConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can stop an experiment, each naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Events(#[from] lotl_events::Error),
    #[error(transparent)]
    Datasets(#[from] lotl_datasets::Error),
    #[error(transparent)]
    Features(#[from] lotl_features::Error),
    #[error(transparent)]
    Model(#[from] crate::Error),
    #[error("{0}")]
    Data(String),
}

type Result<T> = std::result::Result<T, ExperimentError>;

/// One source of labelled events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// Generate a synthetic fleet.
    #[serde(default)]
    pub synth: Option<SynthSource>,
    /// Ingest a folder of real recordings and label them with lotl's rule.
    #[serde(default)]
    pub real: Option<PathBuf>,
    /// Labelled events already in lotl's Parquet layout.
    #[serde(default)]
    pub parquet: Option<PathBuf>,
    /// Name used in per-part metrics (default: `synthetic`, `real`, or the file stem).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthSource {
    pub hosts: u32,
    pub days: u32,
    pub seed: u64,
    #[serde(default)]
    pub attack_rate: Option<f64>,
    /// Fill attack command lines from LOLBAS / Atomic Red Team definitions in this folder.
    #[serde(default)]
    pub reference: Option<PathBuf>,
    /// First day (`YYYY-MM-DD`, UTC); the generator's default otherwise.
    #[serde(default)]
    pub start_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    #[serde(default = "default_by")]
    pub by: GroupBy,
    #[serde(default = "default_ratios")]
    pub ratios: [f64; 3],
}

fn default_by() -> GroupBy {
    GroupBy::File
}
fn default_ratios() -> [f64; 3] {
    [0.6, 0.2, 0.2]
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            by: default_by(),
            ratios: default_ratios(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// `elastic2021`, `elastic2026` or `lotl`.
    pub recipe: String,
    #[serde(default)]
    pub encoders: Option<EncoderParams>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `gbdt` or `burn`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub gbdt: GbdtParams,
    /// Hyperparameters of the network (`type = "burn"`).
    #[serde(default)]
    pub burn: NnParams,
}

/// How the decision threshold is chosen on validation data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Elastic's class assignment: maximise the smaller of the two class recalls.
    MaximizeMinimumRecall,
    /// The lowest threshold whose false-positive rate stays within `target_fpr`.
    TargetFpr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionConfig {
    #[serde(default = "default_calibration")]
    pub calibration: CalibrationMethod,
    #[serde(default = "default_objective")]
    pub objective: Objective,
    #[serde(default)]
    pub target_fpr: Option<f64>,
}

fn default_calibration() -> CalibrationMethod {
    CalibrationMethod::Isotonic
}
fn default_objective() -> Objective {
    Objective::MaximizeMinimumRecall
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            calibration: default_calibration(),
            objective: default_objective(),
            target_fpr: None,
        }
    }
}

/// An experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: u64,
    pub data: Vec<DataSource>,
    #[serde(default)]
    pub split: SplitConfig,
    pub features: FeaturesConfig,
    pub model: ModelConfig,
    #[serde(default)]
    pub decision: DecisionConfig,
}

impl ExperimentConfig {
    /// Read and check an experiment file; relative data paths become relative to its folder.
    pub fn from_file(path: &Path) -> Result<ExperimentConfig> {
        let cfg_err = |message: String| ExperimentError::Config {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| cfg_err(e.to_string()))?;
        let mut cfg: ExperimentConfig =
            toml::from_str(&text).map_err(|e| cfg_err(format!("invalid experiment: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for d in &mut cfg.data {
            for p in [&mut d.real, &mut d.parquet].into_iter().flatten() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
            if let Some(s) = &mut d.synth {
                if let Some(r) = &mut s.reference {
                    if r.is_relative() {
                        *r = base.join(&*r);
                    }
                }
            }
        }
        cfg.check().map_err(cfg_err)?;
        Ok(cfg)
    }

    /// Problems a user can fix in the file, found before any work starts.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.data.is_empty() {
            return Err("no [[data]] source".into());
        }
        for (i, d) in self.data.iter().enumerate() {
            let n = usize::from(d.synth.is_some())
                + usize::from(d.real.is_some())
                + usize::from(d.parquet.is_some());
            if n != 1 {
                return Err(format!(
                    "[[data]] #{}: give exactly one of synth, real, parquet",
                    i + 1
                ));
            }
        }
        RecipeConfig::from_name(&self.features.recipe).map_err(|e| e.to_string())?;
        match ModelKind::from_name(&self.model.kind).map_err(|e| e.to_string())? {
            ModelKind::Gbdt => self.model.gbdt.clone().build().map(drop),
            ModelKind::Burn => self.model.burn.clone().build().map(drop),
        }
        .map_err(|e| format!("[model.{}]: {e}", self.model.kind))?;
        Ratios::new(
            self.split.ratios[0],
            self.split.ratios[1],
            self.split.ratios[2],
        )
        .map_err(|e| e.to_string())?;
        if self.decision.objective == Objective::TargetFpr {
            match self.decision.target_fpr {
                Some(f) if f > 0.0 && f < 1.0 => {}
                _ => return Err("objective = \"target_fpr\" needs target_fpr in (0, 1)".into()),
            }
        }
        Ok(())
    }
}

/// Labelled events of one data source, tagged with the part name used in metrics.
pub struct Part {
    pub name: String,
    pub events: Vec<ProcessEvent>,
}

/// Load every data source (generating or ingesting as configured).
pub fn load_data(cfg: &ExperimentConfig) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for d in &cfg.data {
        let (default_name, events) = if let Some(s) = &d.synth {
            ("synthetic".to_owned(), synthesize(s)?)
        } else if let Some(r) = &d.real {
            let out = lotl_events::read_paths(std::slice::from_ref(r), &Default::default())?;
            let mut events = out.events;
            lotl_datasets::label::label_events(&mut events);
            ("real".to_owned(), events)
        } else if let Some(p) = &d.parquet {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, lotl_events::parquet::read_parquet(p)?)
        } else {
            unreachable!("checked: one source kind per [[data]]")
        };
        parts.push(Part {
            name: d.name.clone().unwrap_or(default_name),
            events,
        });
    }
    Ok(parts)
}

/// Generate a synthetic fleet as `lotl synth` does.
pub fn synthesize(s: &SynthSource) -> Result<Vec<ProcessEvent>> {
    use lotl_datasets::synth::{Generator, SynthConfig, TemplateBank};
    let mut cfg = SynthConfig {
        hosts: s.hosts,
        days: s.days,
        seed: s.seed,
        ..SynthConfig::default()
    };
    if let Some(r) = s.attack_rate {
        cfg.attack_rate = r;
    }
    if let Some(d) = &s.start_date {
        cfg.start_date = d.clone();
    }
    let params = cfg.check()?;
    let bank = match &s.reference {
        Some(dir) => TemplateBank::with_reference(dir)?,
        None => TemplateBank::builtin(),
    };
    let gen = Generator::new(params, bank);
    let mut all = Vec::new();
    gen.for_each_host_day(
        |chunk| -> std::result::Result<(), std::convert::Infallible> {
            all.extend_from_slice(chunk);
            Ok(())
        },
    )
    .ok();
    Ok(all)
}

/// Quality of the model on one set of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub events: usize,
    pub malicious: usize,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    pub recall_at_1pct_fpr: Option<f64>,
    pub precision_at_threshold: Option<f64>,
    pub recall_at_threshold: Option<f64>,
}

impl Scores {
    pub fn compute(labels: &[u8], probs: &[f32], threshold: f32) -> Scores {
        let cm = ConfusionMatrix::at_threshold(labels, probs, threshold);
        Scores {
            events: labels.len(),
            malicious: labels.iter().filter(|l| **l == 1).count(),
            roc_auc: roc_auc(labels, probs),
            pr_auc: pr_auc(labels, probs),
            recall_at_1pct_fpr: recall_at_fpr(labels, probs, 0.01),
            precision_at_threshold: cm.precision(),
            recall_at_threshold: cm.recall(),
        }
    }
}

/// A trained model and everything needed to use it and to judge it.
pub struct Trained {
    pub pipeline: FeaturePipeline,
    pub model: Model,
    pub calibration: CalibrationFit,
    pub threshold: Threshold,
    /// Test metrics, overall (`all`) and per data part.
    pub test: BTreeMap<String, Scores>,
    pub validation: Scores,
    /// Validation log-loss after each boosting round (or epoch, for the network).
    pub valid_loss: Vec<f64>,
    /// Training log-loss after each boosting round or epoch.
    pub train_loss: Vec<f64>,
    /// Hash of the training events (xxh3 over the canonical Parquet columns that matter).
    pub train_data_hash: String,
    pub counts: BTreeMap<String, usize>,
    /// All labelled events that were not in the test split (train + validation), with their
    /// calibrated probabilities: the history the cluster model learns from.
    pub history_events: Vec<(ProcessEvent, f32)>,
    /// Test events with their calibrated probabilities, for reports.
    pub test_events: Vec<(ProcessEvent, f32)>,
}

fn labels_of(events: &[ProcessEvent]) -> Vec<u8> {
    events
        .iter()
        .map(|e| u8::from(e.label == Some(Label::Malicious)))
        .collect()
}

fn to_matrix(d: lotl_features::DenseMatrix) -> Result<Matrix> {
    Ok(Matrix::from_row_major(d.n_rows, d.columns, &d.data)?)
}

/// Stable hash of the events a model was trained on.
pub fn events_hash(events: &[ProcessEvent]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for e in events {
        h.update(&e.timestamp_ms.to_le_bytes());
        for s in [
            Some(e.event_id.as_str()),
            Some(e.host_name.as_str()),
            e.process_executable.as_deref(),
            e.process_command_line.as_deref(),
            e.parent_executable.as_deref(),
            e.label.map(Label::as_str),
        ] {
            h.update(s.unwrap_or("\u{0}").as_bytes());
            h.update(&[0xff]);
        }
    }
    format!("xxh3:{:032x}", h.digest128())
}

/// Run an experiment: split, featurise, train, calibrate, choose the threshold, test.
/// `progress` receives short status lines.
pub fn run(
    cfg: &ExperimentConfig,
    parts: Vec<Part>,
    progress: &mut dyn FnMut(&str),
) -> Result<Trained> {
    // Tag events with their part so per-part metrics survive the split.
    let mut events = Vec::new();
    let mut part_of = Vec::new();
    let part_names: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
    for (i, p) in parts.into_iter().enumerate() {
        part_of.extend(std::iter::repeat_n(i, p.events.len()));
        events.extend(p.events);
    }
    let known: Vec<usize> = (0..events.len())
        .filter(|&i| matches!(events[i].label, Some(Label::Benign | Label::Malicious)))
        .collect();
    let mut counts = BTreeMap::new();
    counts.insert("events".to_owned(), events.len());
    counts.insert("unknown_label".to_owned(), events.len() - known.len());
    let [r0, r1, r2] = cfg.split.ratios;
    let ratios = Ratios::new(r0, r1, r2)?;
    let known_events: Vec<ProcessEvent> = known.iter().map(|&i| events[i].clone()).collect();
    let manifests = plan(&known_events, cfg.split.by, ratios, cfg.seed, &[]);
    let side_of: BTreeMap<String, Side> = manifests
        .iter()
        .flat_map(|m| m.groups.iter().map(move |g| (g.clone(), m.split)))
        .collect();
    let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
    for &i in &known {
        match side_of
            .get(&cfg.split.by.key(&events[i]))
            .copied()
            .unwrap_or(Side::Train)
        {
            Side::Train => tr.push(i),
            Side::Validation => va.push(i),
            Side::Test => te.push(i),
        }
    }
    for (name, v) in [("train", &tr), ("validation", &va), ("test", &te)] {
        counts.insert(name.to_owned(), v.len());
        if v.is_empty() {
            return Err(ExperimentError::Data(format!(
                "the {name} split is empty: give more data (hosts, days or files) or change [split] ratios"
            )));
        }
    }
    let pick =
        |ids: &[usize]| -> Vec<ProcessEvent> { ids.iter().map(|&i| events[i].clone()).collect() };
    let (train_ev, valid_ev, test_ev) = (pick(&tr), pick(&va), pick(&te));
    let (ytr, yva, yte) = (
        labels_of(&train_ev),
        labels_of(&valid_ev),
        labels_of(&test_ev),
    );
    for (name, y) in [("train", &ytr), ("validation", &yva)] {
        let pos = y.iter().filter(|v| **v == 1).count();
        if pos == 0 || pos == y.len() {
            return Err(ExperimentError::Data(format!(
                "the {name} split holds one class only ({pos} malicious of {}): a classifier needs both; add attack data or change the split",
                y.len()
            )));
        }
    }

    progress(&format!(
        "featurising with recipe {} ({} train, {} validation, {} test events)",
        cfg.features.recipe,
        train_ev.len(),
        valid_ev.len(),
        test_ev.len()
    ));
    let recipe = RecipeConfig::from_name(&cfg.features.recipe)?;
    let enc = cfg.features.encoders.clone().unwrap_or_default();
    let ybool: Vec<bool> = ytr.iter().map(|v| *v == 1).collect();
    let (pipeline, xtr) = FeaturePipeline::fit_transform(recipe, enc, &train_ev, &ybool)?;
    let xva = pipeline.transform(&valid_ev);
    let xte = pipeline.transform(&test_ev);
    let ytr_f: Vec<f32> = ytr.iter().map(|v| f32::from(*v)).collect();
    let yva_f: Vec<f32> = yva.iter().map(|v| f32::from(*v)).collect();
    let train = Dataset::new(to_matrix(xtr)?, &ytr_f, None)?;
    let valid = Dataset::new(to_matrix(xva)?, &yva_f, None)?;
    let test_m = to_matrix(xte)?;

    let model: Model = match ModelKind::from_name(&cfg.model.kind)? {
        ModelKind::Gbdt => {
            progress(&format!(
                "training gbdt: {} trees, {} leaves, learning rate {} on {} features",
                cfg.model.gbdt.n_trees,
                cfg.model.gbdt.max_leaves,
                cfg.model.gbdt.learning_rate,
                pipeline.n_columns()
            ));
            let params = cfg.model.gbdt.clone().build()?;
            GbdtModel::fit(&params, &train, Some(&valid))?.into()
        }
        ModelKind::Burn => {
            let b = &cfg.model.burn;
            progress(&format!(
                "training burn network: embeddings {}, hidden {:?}, up to {} epochs, learning rate {} on {} features",
                b.embedding_dim,
                b.hidden,
                b.max_epochs,
                b.learning_rate,
                pipeline.n_columns()
            ));
            let params = b.clone().build()?;
            NnModel::fit(&params, &train, Some(&valid))?.into()
        }
    };
    let valid_loss = model.valid_loss().to_vec();
    let train_loss = model.train_loss().to_vec();

    let raw_va = model.predict_proba(valid.features())?;
    let calibration = calibrate(cfg.decision.calibration, &yva, &raw_va)?;
    let pva = calibration.calibration.apply_all(&raw_va);
    let threshold = match cfg.decision.objective {
        Objective::MaximizeMinimumRecall => maximize_minimum_recall(&yva, &pva),
        Objective::TargetFpr => {
            threshold_for_fpr(&yva, &pva, cfg.decision.target_fpr.unwrap_or(0.01))
        }
    }
    .ok_or_else(|| {
        ExperimentError::Data("no decision threshold: validation data needs both classes".into())
    })?;
    let pte = calibration
        .calibration
        .apply_all(&model.predict_proba(&test_m)?);
    let ptr = calibration
        .calibration
        .apply_all(&model.predict_proba(train.features())?);

    let mut test = BTreeMap::new();
    test.insert(
        "all".to_owned(),
        Scores::compute(&yte, &pte, threshold.threshold),
    );
    for (pi, name) in part_names.iter().enumerate() {
        let sel: Vec<usize> = (0..te.len()).filter(|&k| part_of[te[k]] == pi).collect();
        if sel.is_empty() {
            continue;
        }
        let y: Vec<u8> = sel.iter().map(|&k| yte[k]).collect();
        let p: Vec<f32> = sel.iter().map(|&k| pte[k]).collect();
        test.insert(name.clone(), Scores::compute(&y, &p, threshold.threshold));
    }
    let validation = Scores::compute(&yva, &pva, threshold.threshold);
    let train_data_hash = events_hash(&train_ev);
    let mut history_events: Vec<(ProcessEvent, f32)> = train_ev.into_iter().zip(ptr).collect();
    history_events.extend(valid_ev.into_iter().zip(pva));
    history_events.sort_by_key(|(e, _)| e.timestamp_ms);
    let test_events = test_ev.into_iter().zip(pte).collect();
    Ok(Trained {
        pipeline,
        model,
        calibration,
        threshold,
        test,
        validation,
        valid_loss,
        train_loss,
        train_data_hash,
        counts,
        history_events,
        test_events,
    })
}
