//! Categorical encoders and the fitted feature pipeline (recipe + encoders → dense `f32`).
//!
//! Each categorical feature becomes two numeric columns, named as Elasticsearch does:
//! `<feature>_frequency` (share of training rows holding the value; unseen → 0) and
//! `<feature>_targetmean` (smoothed share of malicious rows holding it; unseen → the
//! training prior). A missing value gives `NaN` in both, so trees route it by their default
//! branch. Target means fitted on the whole training set would hand a model its own labels,
//! so [`FeaturePipeline::fit_transform`] returns out-of-fold target means for the training
//! rows: each row's value comes from the other folds only (fixed seed, fixed assignment).

use crate::error::Error;
use crate::fasthash::{pack_short, FastBuild};
use crate::memo::BlockMemo;
use crate::recipe::{FeatureRecipe, RecipeConfig};
use crate::row::{kind_indices, FeatureKind, FeatureRow};
use crate::table::{featurize_batch, FeatureTable, MISSING_CODE};
use lotl_events::ProcessEvent;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Encoder hyperparameters, as given by the user (validated by [`EncoderParams::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderParams {
    /// Folds for out-of-fold target encoding of the training rows (>= 2).
    pub folds: usize,
    /// Seed of the fold assignment (row index hashed with xxh3).
    pub seed: u64,
    /// Pseudo-count pulling rare values' target mean toward the prior (>= 0).
    pub smoothing: f32,
}

impl Default for EncoderParams {
    fn default() -> Self {
        EncoderParams {
            folds: 5,
            seed: 0x6c6f_746c,
            smoothing: 10.0,
        }
    }
}

impl EncoderParams {
    pub fn check(&self) -> Result<(), Error> {
        if self.folds < 2 {
            return Err(Error::InvalidEncoderParam(format!(
                "folds must be >= 2, got {}",
                self.folds
            )));
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return Err(Error::InvalidEncoderParam(format!(
                "smoothing must be finite and >= 0, got {}",
                self.smoothing
            )));
        }
        Ok(())
    }

    /// Fold of training row `i`.
    pub fn fold_of(&self, i: usize) -> usize {
        (xxh3_64_with_seed(&(i as u64).to_le_bytes(), self.seed) % self.folds as u64) as usize
    }
}

/// Frequency and target-mean encoding of one categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EncoderRepr", into = "EncoderRepr")]
pub struct CategoryEncoder {
    pub feature: String,
    /// Value → (frequency, target mean).
    lookup: HashMap<String, (f32, f32), FastBuild>,
    /// The same entries for values of at most 7 bytes (most categoricals: bigrams), keyed
    /// by [`pack_short`] so a lookup is one integer hash and compare, no `memcmp`.
    short: HashMap<u64, (f32, f32), FastBuild>,
    /// Target mean of unseen values (the training prior).
    pub default_target: f32,
}

/// Serialised form: sorted maps, as Elasticsearch's preprocessors hold them.
#[derive(Serialize, Deserialize)]
struct EncoderRepr {
    feature: String,
    frequency_map: BTreeMap<String, f32>,
    target_map: BTreeMap<String, f32>,
    default_value: f32,
}

impl From<CategoryEncoder> for EncoderRepr {
    fn from(e: CategoryEncoder) -> Self {
        EncoderRepr {
            frequency_map: e.frequency_map(),
            target_map: e.target_map(),
            feature: e.feature,
            default_value: e.default_target,
        }
    }
}

impl From<EncoderRepr> for CategoryEncoder {
    fn from(r: EncoderRepr) -> Self {
        let mut lookup: HashMap<String, (f32, f32), FastBuild> = HashMap::default();
        for (k, f) in r.frequency_map {
            lookup.insert(k, (f, r.default_value));
        }
        for (k, t) in r.target_map {
            lookup.entry(k).or_insert((0.0, t)).1 = t;
        }
        CategoryEncoder::from_lookup(r.feature, lookup, r.default_value)
    }
}

impl CategoryEncoder {
    fn from_lookup(
        feature: String,
        lookup: HashMap<String, (f32, f32), FastBuild>,
        default_target: f32,
    ) -> Self {
        let short = lookup
            .iter()
            .filter_map(|(k, v)| pack_short(k).map(|p| (p, *v)))
            .collect();
        CategoryEncoder {
            feature,
            lookup,
            short,
            default_target,
        }
    }

    /// `(frequency, target mean)` of a value.
    #[inline]
    pub fn encode(&self, v: Option<&str>) -> (f32, f32) {
        match v {
            None => (f32::NAN, f32::NAN),
            Some(v) => match pack_short(v) {
                Some(p) => self.short.get(&p),
                None => self.lookup.get(v),
            }
            .copied()
            .unwrap_or((0.0, self.default_target)),
        }
    }

    /// For export: Elasticsearch's `frequency_encoding.frequency_map`.
    pub fn frequency_map(&self) -> BTreeMap<String, f32> {
        self.lookup.iter().map(|(k, v)| (k.clone(), v.0)).collect()
    }

    /// For export: Elasticsearch's `target_mean_encoding.target_map`.
    pub fn target_map(&self) -> BTreeMap<String, f32> {
        self.lookup.iter().map(|(k, v)| (k.clone(), v.1)).collect()
    }

    pub fn n_values(&self) -> usize {
        self.lookup.len()
    }
}

fn smoothed(pos: f64, count: f64, prior: f64, m: f64) -> f32 {
    let d = count + m;
    if d <= 0.0 {
        prior as f32
    } else {
        ((pos + m * prior) / d) as f32
    }
}

/// Per-code counts of one column over the rows of a table.
struct Counts {
    count: Vec<u64>,
    pos: Vec<u64>,
}

fn counts(
    col: &crate::table::CatColumn,
    labels: &[bool],
    rows: impl Iterator<Item = usize>,
) -> Counts {
    let mut c = Counts {
        count: vec![0; col.dict.len()],
        pos: vec![0; col.dict.len()],
    };
    for r in rows {
        let code = col.codes[r];
        if code != MISSING_CODE {
            c.count[code as usize] += 1;
            c.pos[code as usize] += u64::from(labels[r]);
        }
    }
    c
}

/// Row-major dense matrix with named columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub columns: Vec<String>,
    /// `data[row * n_cols + col]`.
    pub data: Vec<f32>,
}

impl DenseMatrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.n_cols + col]
    }

    pub fn column(&self, j: usize) -> impl Iterator<Item = f32> + '_ {
        self.data
            .iter()
            .skip(j)
            .step_by(self.n_cols.max(1))
            .copied()
    }

    /// Column-major copy (`out[col * n_rows + row]`), for learners that scan features.
    pub fn to_column_major(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.data.len()];
        for i in 0..self.n_rows {
            for j in 0..self.n_cols {
                out[j * self.n_rows + i] = self.data[i * self.n_cols + j];
            }
        }
        out
    }
}

/// Serialised part of a pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PipelineData {
    recipe: RecipeConfig,
    recipe_name: String,
    recipe_version: u32,
    params: EncoderParams,
    encoders: Vec<CategoryEncoder>,
    columns: Vec<String>,
}

/// A recipe and its fitted encoders: events in, dense `f32` rows out.
#[derive(Debug)]
pub struct FeaturePipeline {
    data: PipelineData,
    recipe: Box<dyn FeatureRecipe>,
    /// Where the output columns come from, in order; consecutive numeric features merged
    /// into one run so rows are encoded by block copies.
    runs: Vec<Run>,
}

/// A run of output columns: numeric features `start..start + len` (one column each), or
/// one categorical feature (its frequency and target-mean columns).
#[derive(Debug, Clone, Copy)]
enum Run {
    Nums {
        start: usize,
        len: usize,
    },
    Cat(usize),
    /// A categorical feature whose two columns no model input reads: written as missing
    /// without its dictionary lookups (see [`ScoringPlan`]).
    Unread,
}

/// The encoding of a pipeline restricted to the columns a model reads.
///
/// A tree model reads a few hundred of elastic2021's 946 columns; looking up the other
/// categorical values in their dictionaries is most of the cost of scoring. Columns outside
/// the plan are written as missing (NaN), so a row encoded with a plan predicts exactly as
/// the full row does for any model that never reads those columns.
///
/// The categorical features of one recipe group ([`FeatureRecipe::categorical_groups`]:
/// Elastic's positional bigrams of one string) are encoded as a block, memoised per thread
/// by the group's values: the same process name, path or command line encodes to the same
/// 200 values without 100 dictionary lookups, each a likely cache miss.
#[derive(Debug, Clone)]
pub struct ScoringPlan {
    steps: Vec<Step>,
    groups: Vec<PlanGroup>,
    width: usize,
    /// Tells the per-thread memos of different plans apart.
    id: u64,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Run(Run),
    /// A group of [`ScoringPlan::groups`], encoded as one block.
    Group(usize),
}

#[derive(Debug, Clone)]
struct PlanGroup {
    /// Categorical feature indices.
    cats: std::ops::Range<usize>,
    /// Their runs (`Cat` or `Unread`), two output columns each.
    runs: Vec<Run>,
}

impl ScoringPlan {
    /// Number of columns in a row (the pipeline's full width).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Unique to this plan in this process: memos of what a plan computes are keyed by it.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// One thread's memos for one plan: per group, encoded blocks by the group's values.
struct PlanMemo {
    plan: u64,
    groups: Vec<BlockMemo<f32>>,
    key: Vec<u8>,
}

thread_local! {
    static MEMO: RefCell<PlanMemo> = const {
        RefCell::new(PlanMemo {
            plan: u64::MAX,
            groups: Vec::new(),
            key: Vec::new(),
        })
    };
}

static NEXT_PLAN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Serialize for FeaturePipeline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(s)
    }
}

impl<'de> Deserialize<'de> for FeaturePipeline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = PipelineData::deserialize(d)?;
        FeaturePipeline::from_data(data).map_err(serde::de::Error::custom)
    }
}

thread_local! {
    static ROW: RefCell<FeatureRow> = RefCell::new(FeatureRow::new());
}

impl FeaturePipeline {
    fn from_data(data: PipelineData) -> Result<Self, Error> {
        let recipe = data.recipe.build()?;
        if recipe.version() != data.recipe_version || recipe.name() != data.recipe_name {
            return Err(Error::RecipeMismatch {
                fitted: format!("{} v{}", data.recipe_name, data.recipe_version),
                got: format!("{} v{}", recipe.name(), recipe.version()),
            });
        }
        let (runs, columns) = plan_of(recipe.as_ref());
        if columns != data.columns || data.encoders.len() != recipe.n_categorical() {
            return Err(Error::RecipeMismatch {
                fitted: format!("{} columns", data.columns.len()),
                got: format!("{} columns", columns.len()),
            });
        }
        Ok(FeaturePipeline { data, recipe, runs })
    }

    /// Fit encoders on training events (`labels[i]`: event `i` is malicious).
    pub fn fit(
        config: RecipeConfig,
        params: EncoderParams,
        events: &[ProcessEvent],
        labels: &[bool],
    ) -> Result<Self, Error> {
        Ok(Self::fit_transform(config, params, events, labels)?.0)
    }

    /// Fit, and return the training matrix with out-of-fold target means: train the model
    /// on this matrix, never on `transform(training events)`.
    pub fn fit_transform(
        config: RecipeConfig,
        params: EncoderParams,
        events: &[ProcessEvent],
        labels: &[bool],
    ) -> Result<(Self, DenseMatrix), Error> {
        let recipe = config.build()?;
        let table = featurize_batch(recipe.as_ref(), events);
        Self::fit_table(config, params, &table, labels)
    }

    /// [`FeaturePipeline::fit_transform`] on an already featurised table.
    pub fn fit_table(
        config: RecipeConfig,
        params: EncoderParams,
        table: &FeatureTable,
        labels: &[bool],
    ) -> Result<(Self, DenseMatrix), Error> {
        params.check()?;
        let recipe = config.build()?;
        if table.recipe != recipe.name() || table.recipe_version != recipe.version() {
            return Err(Error::RecipeMismatch {
                fitted: format!("{} v{}", recipe.name(), recipe.version()),
                got: format!("{} v{}", table.recipe, table.recipe_version),
            });
        }
        let n = table.n_rows();
        if labels.len() != n {
            return Err(Error::LabelCount {
                what: "fit",
                n_labels: labels.len(),
                n_rows: n,
            });
        }
        let m = f64::from(params.smoothing);
        let n_pos = labels.iter().filter(|&&l| l).count();
        let prior = if n == 0 { 0.0 } else { n_pos as f64 / n as f64 };
        let folds: Vec<usize> = (0..n).map(|i| params.fold_of(i)).collect();
        let mut fold_n = vec![0usize; params.folds];
        let mut fold_pos = vec![0usize; params.folds];
        for (i, &f) in folds.iter().enumerate() {
            fold_n[f] += 1;
            fold_pos[f] += usize::from(labels[i]);
        }

        // Fit every column, and its out-of-fold target means for the training rows.
        let fitted: Vec<(CategoryEncoder, Vec<f32>)> = table
            .categorical
            .par_iter()
            .zip(
                table
                    .features
                    .iter()
                    .filter(|f| f.kind == FeatureKind::Categorical)
                    .collect::<Vec<_>>(),
            )
            .map(|(col, spec)| {
                let all = counts(col, labels, 0..n);
                let mut lookup: HashMap<String, (f32, f32), FastBuild> = HashMap::default();
                for (code, v) in col.dict.iter().enumerate() {
                    if all.count[code] > 0 {
                        let freq = all.count[code] as f32 / n as f32;
                        let tm = smoothed(all.pos[code] as f64, all.count[code] as f64, prior, m);
                        lookup.insert(v.clone(), (freq, tm));
                    }
                }
                let enc = CategoryEncoder::from_lookup(spec.name.to_string(), lookup, prior as f32);
                // Per-fold counts in one pass, then each row's value from the other folds.
                let d = col.dict.len();
                let mut in_count = vec![0u64; params.folds * d];
                let mut in_pos = vec![0u64; params.folds * d];
                for (i, &code) in col.codes.iter().enumerate() {
                    if code != MISSING_CODE {
                        in_count[folds[i] * d + code as usize] += 1;
                        in_pos[folds[i] * d + code as usize] += u64::from(labels[i]);
                    }
                }
                let out_prior: Vec<f64> = (0..params.folds)
                    .map(|f| {
                        let out_n = (n - fold_n[f]) as f64;
                        if out_n > 0.0 {
                            (n_pos - fold_pos[f]) as f64 / out_n
                        } else {
                            prior
                        }
                    })
                    .collect();
                let oof: Vec<f32> = col
                    .codes
                    .iter()
                    .enumerate()
                    .map(|(i, &code)| {
                        if code == MISSING_CODE {
                            return f32::NAN;
                        }
                        let (f, c) = (folds[i], code as usize);
                        let cnt = (all.count[c] - in_count[f * d + c]) as f64;
                        let pos = (all.pos[c] - in_pos[f * d + c]) as f64;
                        smoothed(pos, cnt, out_prior[f], m)
                    })
                    .collect();
                (enc, oof)
            })
            .collect();

        let (runs, columns) = plan_of(recipe.as_ref());
        let (encoders, oof): (Vec<CategoryEncoder>, Vec<Vec<f32>>) = fitted.into_iter().unzip();
        let pipe = FeaturePipeline {
            data: PipelineData {
                recipe_name: recipe.name().to_owned(),
                recipe_version: recipe.version(),
                recipe: config,
                params,
                encoders,
                columns,
            },
            recipe,
            runs,
        };
        let mut mat = pipe.encode_table(table)?;
        // Replace the in-sample target means by the out-of-fold ones.
        let mut col = 0;
        for run in &pipe.runs {
            match *run {
                Run::Cat(j) => {
                    for (i, v) in oof[j].iter().enumerate() {
                        mat.data[i * mat.n_cols + col + 1] = *v;
                    }
                    col += 2;
                }
                Run::Nums { len, .. } => col += len,
                Run::Unread => col += 2,
            }
        }
        Ok((pipe, mat))
    }

    pub fn recipe(&self) -> &dyn FeatureRecipe {
        self.recipe.as_ref()
    }

    pub fn recipe_config(&self) -> &RecipeConfig {
        &self.data.recipe
    }

    pub fn encoders(&self) -> &[CategoryEncoder] {
        &self.data.encoders
    }

    pub fn params(&self) -> &EncoderParams {
        &self.data.params
    }

    /// Output column names, in matrix order.
    pub fn columns(&self) -> &[String] {
        &self.data.columns
    }

    pub fn n_columns(&self) -> usize {
        self.data.columns.len()
    }

    /// Encode one featurised row into `out` (cleared first).
    pub fn encode_row(&self, row: &FeatureRow, out: &mut Vec<f32>) {
        out.clear();
        out.resize(self.data.columns.len(), 0.0);
        self.encode_into(row, out);
    }

    fn encode_into(&self, row: &FeatureRow, out: &mut [f32]) {
        self.encode_runs(&self.runs, row, out);
    }

    /// Encode `runs` into the start of `out`; returns the number of columns written.
    fn encode_runs(&self, runs: &[Run], row: &FeatureRow, out: &mut [f32]) -> usize {
        let num = row.numeric();
        let mut k = 0;
        for run in runs {
            match *run {
                Run::Nums { start, len } => {
                    let dst = &mut out[k..k + len];
                    match num.get(start..start + len) {
                        Some(src) => dst.copy_from_slice(src),
                        // A row shorter than the recipe's schema: missing values.
                        None => {
                            for (j, d) in dst.iter_mut().enumerate() {
                                *d = num.get(start + j).copied().unwrap_or(f32::NAN);
                            }
                        }
                    }
                    k += len;
                }
                Run::Cat(i) => {
                    let (f, t) = self.data.encoders[i].encode(row.categorical(i));
                    out[k] = f;
                    out[k + 1] = t;
                    k += 2;
                }
                Run::Unread => {
                    out[k] = f32::NAN;
                    out[k + 1] = f32::NAN;
                    k += 2;
                }
            }
        }
        k
    }

    /// The plan that encodes only the columns `reads` marks (`None`: every column).
    pub fn scoring_plan(&self, reads: Option<&[bool]>) -> ScoringPlan {
        let mut k = 0;
        let runs: Vec<Run> = self
            .runs
            .iter()
            .map(|&run| match run {
                Run::Nums { len, .. } => {
                    k += len;
                    run
                }
                Run::Cat(_) | Run::Unread => {
                    let read = |j: usize| reads.is_none_or(|r| r.get(j).copied().unwrap_or(true));
                    let keep = read(k) || read(k + 1);
                    k += 2;
                    if keep {
                        run
                    } else {
                        Run::Unread
                    }
                }
            })
            .collect();
        // Each recipe group whose features are consecutive runs becomes one step.
        let recipe_groups = self.recipe.categorical_groups();
        let group_at = |i: usize| {
            recipe_groups.iter().find(|g| {
                g.len() > 1
                    && self.runs.get(i..i + g.len()).is_some_and(|rs| {
                        rs.iter()
                            .zip(g.start..g.end)
                            .all(|(r, c)| matches!(*r, Run::Cat(x) if x == c))
                    })
            })
        };
        let mut steps = Vec::with_capacity(runs.len());
        let mut groups = Vec::new();
        let mut i = 0;
        while i < runs.len() {
            match group_at(i) {
                Some(g) => {
                    steps.push(Step::Group(groups.len()));
                    groups.push(PlanGroup {
                        cats: g.clone(),
                        runs: runs[i..i + g.len()].to_vec(),
                    });
                    i += g.len();
                }
                None => {
                    steps.push(Step::Run(runs[i]));
                    i += 1;
                }
            }
        }
        ScoringPlan {
            steps,
            groups,
            width: self.n_columns(),
            id: NEXT_PLAN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// One event encoded into `out` (`plan.width()` long) as `plan` says: the values of
    /// [`Self::transform_one`] in every column the plan keeps.
    pub fn transform_planned(&self, plan: &ScoringPlan, event: &ProcessEvent, out: &mut [f32]) {
        ROW.with(|r| {
            let mut row = r.borrow_mut();
            self.recipe.featurize(event, &mut row);
            MEMO.with(|m| self.encode_planned(plan, &row, out, &mut m.borrow_mut()));
        });
    }

    fn encode_planned(
        &self,
        plan: &ScoringPlan,
        row: &FeatureRow,
        out: &mut [f32],
        memo: &mut PlanMemo,
    ) {
        if memo.plan != plan.id {
            memo.plan = plan.id;
            memo.groups = vec![BlockMemo::new(); plan.groups.len()];
        }
        let mut k = 0;
        for step in &plan.steps {
            match *step {
                Step::Run(run) => {
                    k += self.encode_runs(std::slice::from_ref(&run), row, &mut out[k..])
                }
                Step::Group(g) => {
                    let group = &plan.groups[g];
                    let width = 2 * group.runs.len();
                    let dst = &mut out[k..k + width];
                    k += width;
                    if !row.categorical_key(group.cats.clone(), &mut memo.key) {
                        self.encode_runs(&group.runs, row, dst);
                        continue;
                    }
                    match memo.groups[g].get(&memo.key) {
                        Some(values) => dst.copy_from_slice(values),
                        None => {
                            self.encode_runs(&group.runs, row, dst);
                            memo.groups[g].put(&memo.key, dst);
                        }
                    }
                }
            }
        }
    }

    /// One event, as the streaming scorer needs it. Same values as [`Self::transform`].
    pub fn transform_one(&self, event: &ProcessEvent, out: &mut Vec<f32>) {
        ROW.with(|r| {
            let mut row = r.borrow_mut();
            self.recipe.featurize(event, &mut row);
            self.encode_row(&row, out);
        });
    }

    /// Many events, in parallel (row `i` = event `i`).
    pub fn transform(&self, events: &[ProcessEvent]) -> DenseMatrix {
        let w = self.n_columns();
        let mut data = vec![0.0f32; events.len() * w];
        if w > 0 {
            data.par_chunks_mut(w * 1024)
                .zip(events.par_chunks(1024))
                .for_each(|(rows, evs)| {
                    let mut row = FeatureRow::new();
                    for (dst, e) in rows.chunks_mut(w).zip(evs) {
                        self.recipe.featurize(e, &mut row);
                        self.encode_into(&row, dst);
                    }
                });
        }
        DenseMatrix {
            n_rows: events.len(),
            n_cols: w,
            columns: self.data.columns.clone(),
            data,
        }
    }

    /// Encode a table featurised by the same recipe (in-sample values, like `transform`).
    pub fn encode_table(&self, table: &FeatureTable) -> Result<DenseMatrix, Error> {
        if table.recipe != self.data.recipe_name || table.recipe_version != self.data.recipe_version
        {
            return Err(Error::RecipeMismatch {
                fitted: format!("{} v{}", self.data.recipe_name, self.data.recipe_version),
                got: format!("{} v{}", table.recipe, table.recipe_version),
            });
        }
        let n = table.n_rows();
        let w = self.n_columns();
        let mut data = vec![0.0f32; n * w];
        let mut col = 0;
        for run in &self.runs {
            match *run {
                Run::Nums { start, len } => {
                    for j in start..start + len {
                        for (i, v) in table.numeric[j].iter().enumerate() {
                            data[i * w + col] = *v;
                        }
                        col += 1;
                    }
                }
                Run::Cat(j) => {
                    let c = &table.categorical[j];
                    let enc = &self.data.encoders[j];
                    let per_code: Vec<(f32, f32)> =
                        c.dict.iter().map(|v| enc.encode(Some(v))).collect();
                    for (i, &code) in c.codes.iter().enumerate() {
                        let (f, t) = if code == MISSING_CODE {
                            (f32::NAN, f32::NAN)
                        } else {
                            per_code[code as usize]
                        };
                        data[i * w + col] = f;
                        data[i * w + col + 1] = t;
                    }
                    col += 2;
                }
                Run::Unread => {
                    for row in data.chunks_mut(w) {
                        row[col..col + 2].fill(f32::NAN);
                    }
                    col += 2;
                }
            }
        }
        Ok(DenseMatrix {
            n_rows: n,
            n_cols: w,
            columns: self.data.columns.clone(),
            data,
        })
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

fn plan_of(recipe: &dyn FeatureRecipe) -> (Vec<Run>, Vec<String>) {
    let idx = kind_indices(recipe.features());
    let mut runs: Vec<Run> = Vec::new();
    let mut cols = Vec::new();
    for (f, &i) in recipe.features().iter().zip(&idx) {
        match f.kind {
            FeatureKind::Numeric => {
                match runs.last_mut() {
                    Some(Run::Nums { start, len }) if *start + *len == i => *len += 1,
                    _ => runs.push(Run::Nums { start: i, len: 1 }),
                }
                cols.push(f.name.to_string());
            }
            FeatureKind::Categorical => {
                runs.push(Run::Cat(i));
                cols.push(format!("{}_frequency", f.name));
                cols.push(format!("{}_targetmean", f.name));
            }
        }
    }
    (runs, cols)
}
