//! The boosting loop: histogram-based, leaf-wise (best-first) growth.
//!
//! Hot paths, in order of cost: building a leaf's gradient histogram (one pass over its
//! rows, all features of a row at once from the row-major `u8` bins, or, when most cells
//! sit in their column's most frequent bin, from each row's other cells only:
//! [`SparseRows`]), partitioning a
//! leaf's row indices, and scanning histograms for the best split. Only the smaller child
//! of a split gets a histogram built; the larger one is `parent - smaller`, computed in the
//! parent's buffer. Buffers are allocated once per training run.

use rayon::prelude::*;

use crate::binning::{BinMapper, BinnedMatrix};
use crate::gbdt::tree::{Node, Tree};
use crate::params::GbdtParams;
use crate::rng::SplitMix64;

/// Accumulator type of histogram sums.
type Acc = f64;
/// Gradient and hessian sums of one histogram bin.
type Bin = [Acc; 2];
/// A leaf's histogram: every feature's used bins, one after another (feature `f` at
/// `Layout::offsets[f]..offsets[f + 1]`). Sized by the bins each feature really has, not
/// 256 each, so the histogram of a wide matrix of few-valued columns (Elastic's
/// bigram encodings: ~950 columns, most with a handful of values) stays in cache while a
/// row's updates scatter over it.
type Hist = Vec<Bin>;

/// Below this many rows a histogram is built on one thread: spawning costs more.
const PAR_MIN_ROWS: usize = 16_384;

/// Training data in binned form plus what the loop needs per row.
pub(crate) struct TrainData<'a> {
    pub(crate) bins: &'a BinnedMatrix,
    pub(crate) labels: &'a [u8],
    /// Effective weights (row weight × class weight).
    pub(crate) weights: Vec<f32>,
}

/// Validation data for early stopping.
pub(crate) struct ValidData<'a> {
    pub(crate) bins: &'a BinnedMatrix,
    pub(crate) labels: &'a [u8],
    pub(crate) weights: Option<&'a [f32]>,
}

pub(crate) struct Boosted {
    pub(crate) trees: Vec<Tree>,
    pub(crate) base_score: f32,
    /// Validation log-loss after each round (empty without validation data).
    pub(crate) valid_loss: Vec<f64>,
    pub(crate) train_loss: Vec<f64>,
}

/// A candidate split of one leaf.
#[derive(Debug, Clone, Copy)]
struct Cand {
    feature: usize,
    /// Value bins `1..=bin` go left.
    bin: usize,
    default_left: bool,
    gain: f64,
    left: Bin,
    right: Bin,
}

/// A leaf of the tree being grown.
#[derive(Debug, Clone)]
struct LeafState {
    start: usize,
    len: usize,
    sums: Bin,
    depth: u32,
    node: usize,
    hist: Option<usize>,
    best: Option<Cand>,
}

/// Number of used bins (missing bin included) of each feature, and where each feature's
/// bins start in a [`Hist`].
struct Layout {
    n_bins: Vec<usize>,
    /// `n_cols + 1` offsets; the last is the histogram's length.
    offsets: Vec<u32>,
    /// Every feature gets 256 slots (`offsets[f] = 256 f`): chosen when packing would save
    /// less than half, because the fixed stride lets the hot loop index without offsets.
    uniform: bool,
}

impl Layout {
    fn new(mappers: &[BinMapper]) -> Self {
        let n_bins: Vec<usize> = mappers.iter().map(BinMapper::n_bins).collect();
        let packed: usize = n_bins.iter().map(|&n| n.clamp(1, 256)).sum();
        let uniform = packed * 2 > n_bins.len() * 256;
        let mut offsets = Vec::with_capacity(n_bins.len() + 1);
        let mut at = 0u32;
        offsets.push(at);
        for &n in &n_bins {
            // At most 256 bins per feature (u8 bins), so u32 offsets hold 16 M features.
            at += if uniform { 256 } else { n.clamp(1, 256) as u32 };
            offsets.push(at);
        }
        Layout {
            n_bins,
            offsets,
            uniform,
        }
    }

    fn hist_len(&self) -> usize {
        self.offsets.last().map_or(0, |&n| n as usize)
    }

    fn feature<'h>(&self, hist: &'h [Bin], f: usize) -> &'h [Bin] {
        &hist[self.offsets[f] as usize..self.offsets[f + 1] as usize]
    }
}

/// The split test of a node in bin space, for updating scores of rows not partitioned
/// (out-of-bag and validation rows).
#[derive(Debug, Clone, Copy)]
enum BinNode {
    Split {
        feature: usize,
        bin: u8,
        default_left: bool,
        left: usize,
        right: usize,
    },
    Leaf(f32),
}

fn bin_tree_predict(nodes: &[BinNode], row: &[u8]) -> f32 {
    let mut i = 0;
    loop {
        match nodes[i] {
            BinNode::Leaf(v) => return v,
            BinNode::Split {
                feature,
                bin,
                default_left,
                left,
                right,
            } => {
                let b = row[feature];
                let go_left = if b == 0 { default_left } else { b <= bin };
                i = if go_left { left } else { right };
            }
        }
    }
}

pub(crate) fn boost(
    p: &GbdtParams,
    mappers: &[BinMapper],
    train: &TrainData<'_>,
    valid: Option<&ValidData<'_>>,
) -> Boosted {
    let n = train.bins.n_rows;
    let n_cols = train.bins.n_cols;
    let layout = Layout::new(mappers);
    let usable: Vec<usize> = (0..n_cols).filter(|&f| layout.n_bins[f] > 2).collect();

    // Base score: log-odds of the weighted positive rate.
    let (mut wp, mut wt) = (0.0f64, 0.0f64);
    for (r, &y) in train.labels.iter().enumerate() {
        let w = f64::from(train.weights[r]);
        wt += w;
        if y == 1 {
            wp += w;
        }
    }
    let rate = (wp / wt).clamp(1e-12, 1.0 - 1e-12);
    let base_score = (rate / (1.0 - rate)).ln() as f32;

    let mut score = vec![f64::from(base_score); n];
    let mut gh = vec![[0.0f32; 2]; n];
    let mut valid_score = valid.map(|v| vec![f64::from(base_score); v.bins.n_rows]);
    let mut rng = SplitMix64::new(p.seed);
    let n_threads = rayon::current_num_threads().max(1);

    let max_leaves = p.max_leaves as usize;
    let sparse = SparseRows::new(train.bins, &layout);
    let mut grower = Grower {
        p,
        mappers,
        data: train.bins,
        layout: &layout,
        sparse: sparse.as_ref(),
        pool: (0..max_leaves)
            .map(|_| vec![[0.0; 2]; layout.hist_len()])
            .collect(),
        free: (0..max_leaves).rev().collect(),
        thread_hists: (0..n_threads)
            .map(|_| vec![[0.0; 2]; layout.hist_len()])
            .collect(),
        indices: Vec::with_capacity(n),
        scratch: vec![0; n],
    };

    let mut trees = Vec::new();
    let mut valid_loss = Vec::new();
    let mut train_loss = Vec::new();
    let mut best = (f64::INFINITY, 0usize);
    let all_rows: Vec<u32> = (0..n as u32).collect();

    for round in 0..p.n_trees as usize {
        // Gradients of the log-loss at the current scores.
        gh.par_chunks_mut(8192)
            .zip(score.par_chunks(8192))
            .enumerate()
            .for_each(|(ci, (ghc, sc))| {
                let base = ci * 8192;
                for (k, (o, &s)) in ghc.iter_mut().zip(sc).enumerate() {
                    let r = base + k;
                    let prob = 1.0 / (1.0 + (-s).exp());
                    let y = f64::from(train.labels[r]);
                    let w = f64::from(train.weights[r]);
                    *o = [
                        ((prob - y) * w) as f32,
                        ((prob * (1.0 - prob)).max(1e-16) * w) as f32,
                    ];
                }
            });

        // Bagging and column sampling.
        let bagged = p.subsample < 1.0;
        grower.indices.clear();
        if bagged {
            grower
                .indices
                .extend((0..n as u32).filter(|_| rng.next_f64() < p.subsample));
            if grower.indices.is_empty() {
                grower.indices.push(rng.below(n) as u32);
            }
        } else {
            grower.indices.extend_from_slice(&all_rows);
        }
        let mut feature_mask = vec![false; n_cols];
        if p.colsample_bytree < 1.0 && !usable.is_empty() {
            let k = ((usable.len() as f64 * p.colsample_bytree).round() as usize).max(1);
            for f in rng.choose_sorted(&usable, k) {
                feature_mask[f] = true;
            }
        } else {
            for &f in &usable {
                feature_mask[f] = true;
            }
        }

        let (tree, bin_nodes, leaves) = grower.grow(&gh, &feature_mask);

        // Update training scores: in-bag rows from the partition, others by walking.
        if bagged {
            let bins = train.bins;
            score.par_iter_mut().enumerate().for_each(|(r, s)| {
                *s += f64::from(bin_tree_predict(&bin_nodes, bins.row(r)));
            });
        } else {
            for (start, len, value) in &leaves {
                for &r in &grower.indices[*start..start + len] {
                    score[r as usize] += f64::from(*value);
                }
            }
        }
        trees.push(tree);
        train_loss.push(log_loss(train.labels, &score, Some(&train.weights)));

        if let (Some(v), Some(vs)) = (valid, valid_score.as_mut()) {
            vs.par_iter_mut().enumerate().for_each(|(r, s)| {
                *s += f64::from(bin_tree_predict(&bin_nodes, v.bins.row(r)));
            });
            let loss = log_loss(v.labels, vs, v.weights);
            valid_loss.push(loss);
            if loss < best.0 {
                best = (loss, round);
            }
            if let Some(rounds) = p.early_stopping_rounds {
                if round - best.1 >= rounds as usize {
                    break;
                }
            }
        }
    }
    let best_n_trees = if valid.is_some() && p.early_stopping_rounds.is_some() {
        best.1 + 1
    } else {
        trees.len()
    };
    trees.truncate(best_n_trees);
    Boosted {
        trees,
        base_score,
        valid_loss,
        train_loss,
    }
}

/// Weighted mean log-loss of raw scores.
fn log_loss(labels: &[u8], raw: &[f64], weights: Option<&[f32]>) -> f64 {
    let (mut sum, mut wsum) = (0.0f64, 0.0f64);
    for (r, (&y, &s)) in labels.iter().zip(raw).enumerate() {
        let w = weights.map_or(1.0, |w| f64::from(w[r]));
        // log(1 + e^-s) for y=1, log(1 + e^s) for y=0, computed stably.
        let z = if y == 1 { -s } else { s };
        let l = if z > 0.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        };
        sum += w * l;
        wsum += w;
    }
    if wsum > 0.0 {
        sum / wsum
    } else {
        0.0
    }
}

struct Grower<'a> {
    p: &'a GbdtParams,
    mappers: &'a [BinMapper],
    data: &'a BinnedMatrix,
    layout: &'a Layout,
    /// The rows' cells outside their column's most frequent bin, when that skips enough.
    sparse: Option<&'a SparseRows>,
    pool: Vec<Hist>,
    free: Vec<usize>,
    thread_hists: Vec<Hist>,
    /// Row indices of the current tree, partitioned so each leaf owns a contiguous range.
    indices: Vec<u32>,
    scratch: Vec<u32>,
}

impl Grower<'_> {
    /// Grows one tree over `self.indices`; returns the tree, its bin-space twin, and for
    /// each leaf its index range and value.
    fn grow(
        &mut self,
        gh: &[[f32; 2]],
        feature_mask: &[bool],
    ) -> (Tree, Vec<BinNode>, Vec<(usize, usize, f32)>) {
        let p = self.p;
        let lr = p.learning_rate;
        let lambda = p.lambda_l2;
        let leaf_value = |s: Bin| -> f32 {
            let d = s[1] + lambda;
            if d > 0.0 {
                (-s[0] / d * lr) as f32
            } else {
                0.0
            }
        };

        let n = self.indices.len();
        let slot = self.free.pop().unwrap_or(0);
        build_hist(
            self.data,
            self.layout,
            self.sparse,
            &self.indices,
            gh,
            &mut self.pool[slot],
            &mut self.thread_hists,
        );
        // Root sums from any feature's histogram: every row is in exactly one bin.
        let sums = if self.layout.n_bins.is_empty() {
            [0.0; 2]
        } else {
            self.layout
                .feature(&self.pool[slot], 0)
                .iter()
                .fold([0.0; 2], |a, b| [a[0] + b[0], a[1] + b[1]])
        };

        let mut nodes = vec![Node::Leaf {
            value: leaf_value(sums),
            hessian: sums[1] as f32,
            count: n as u32,
        }];
        let mut bin_nodes = vec![BinNode::Leaf(leaf_value(sums))];
        let mut leaves = vec![LeafState {
            start: 0,
            len: n,
            sums,
            depth: 0,
            node: 0,
            hist: Some(slot),
            best: None,
        }];
        leaves[0].best = self.find_best(&leaves[0], feature_mask);

        while leaves.len() < p.max_leaves as usize {
            let Some((li, cand)) = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.map(|c| (i, c)))
                .max_by(|a, b| a.1.gain.total_cmp(&b.1.gain))
            else {
                break;
            };
            let parent = leaves[li].clone();
            let n_left = self.partition(&parent, &cand);
            let n_right = parent.len - n_left;
            // Split search estimates counts from hessians; enforce the real minimum here.
            if n_left.min(n_right) < p.min_data_in_leaf as usize {
                leaves[li].best = None;
                continue;
            }

            let left_node = nodes.len();
            let right_node = left_node + 1;
            let threshold = self.mappers[cand.feature].threshold(cand.bin);
            nodes[parent.node] = Node::Split {
                feature: cand.feature as u32,
                threshold,
                default_left: cand.default_left,
                left: left_node as u32,
                right: right_node as u32,
                gain: cand.gain as f32,
                value: leaf_value(parent.sums),
                hessian: parent.sums[1] as f32,
                count: parent.len as u32,
            };
            bin_nodes[parent.node] = BinNode::Split {
                feature: cand.feature,
                bin: cand.bin as u8,
                default_left: cand.default_left,
                left: left_node,
                right: right_node,
            };
            for (s, c) in [(cand.left, n_left), (cand.right, n_right)] {
                nodes.push(Node::Leaf {
                    value: leaf_value(s),
                    hessian: s[1] as f32,
                    count: c as u32,
                });
                bin_nodes.push(BinNode::Leaf(leaf_value(s)));
            }
            let depth = parent.depth + 1;
            let mut left = LeafState {
                start: parent.start,
                len: n_left,
                sums: cand.left,
                depth,
                node: left_node,
                hist: None,
                best: None,
            };
            let mut right = LeafState {
                start: parent.start + n_left,
                len: n_right,
                sums: cand.right,
                depth,
                node: right_node,
                hist: None,
                best: None,
            };
            let parent_slot = parent.hist.unwrap_or(0);
            let splittable = |l: &LeafState| {
                p.max_depth.is_none_or(|d| l.depth < d)
                    && l.len >= 2 * p.min_data_in_leaf as usize
                    && l.sums[1] >= 2.0 * p.min_child_weight
            };
            let (ls, rs) = (splittable(&left), splittable(&right));
            if (ls || rs) && leaves.len() + 1 < p.max_leaves as usize {
                let (small, large) = if n_left <= n_right {
                    (&mut left, &mut right)
                } else {
                    (&mut right, &mut left)
                };
                let small_slot = self.free.pop().unwrap_or(0);
                build_hist(
                    self.data,
                    self.layout,
                    self.sparse,
                    &self.indices[small.start..small.start + small.len],
                    gh,
                    &mut self.pool[small_slot],
                    &mut self.thread_hists,
                );
                {
                    let (a, b) = two_mut(&mut self.pool, parent_slot, small_slot);
                    subtract(a, b);
                }
                small.hist = Some(small_slot);
                large.hist = Some(parent_slot);
                if ls {
                    left.best = self.find_best(&left, feature_mask);
                }
                if rs {
                    right.best = self.find_best(&right, feature_mask);
                }
            } else {
                self.free.push(parent_slot);
            }
            // Children that will never split release their histograms now.
            for l in [&mut left, &mut right] {
                if l.best.is_none() {
                    if let Some(s) = l.hist.take() {
                        self.free.push(s);
                    }
                }
            }
            leaves[li] = left;
            leaves.push(right);
        }
        for l in &leaves {
            if let Some(s) = l.hist {
                self.free.push(s);
            }
        }
        // Leaves whose split was never made keep no missing-direction information.
        let out = leaves
            .iter()
            .map(|l| (l.start, l.len, leaf_value(l.sums)))
            .collect();
        (Tree { nodes }, bin_nodes, out)
    }

    /// Stable in-place partition of a leaf's rows; returns the number going left.
    fn partition(&mut self, leaf: &LeafState, c: &Cand) -> usize {
        let n_rows = self.data.n_rows;
        let col = &self.data.cols[c.feature * n_rows..(c.feature + 1) * n_rows];
        let seg = &mut self.indices[leaf.start..leaf.start + leaf.len];
        let (mut nl, mut nr) = (0usize, 0usize);
        let thr = c.bin as u8;
        for k in 0..seg.len() {
            let r = seg[k];
            let b = col[r as usize];
            let left = (b == 0 && c.default_left) | (b != 0 && b <= thr);
            // Branch-free: write to both sides, advance one (nl <= k, so seg[nl] is free).
            seg[nl] = r;
            self.scratch[nr] = r;
            nl += usize::from(left);
            nr += usize::from(!left);
        }
        seg[nl..].copy_from_slice(&self.scratch[..nr]);
        nl
    }

    fn find_best(&self, leaf: &LeafState, feature_mask: &[bool]) -> Option<Cand> {
        let slot = leaf.hist?;
        let hist = &self.pool[slot];
        let p = self.p;
        if leaf.len < 2 * p.min_data_in_leaf as usize {
            return None;
        }
        let scan = |f: usize| -> Option<Cand> {
            if !feature_mask[f] {
                return None;
            }
            let h = self.layout.feature(hist, f);
            scan_feature(
                f,
                &h[..self.layout.n_bins[f].min(h.len())],
                leaf.sums,
                leaf.len,
                p,
            )
        };
        let best = if feature_mask.len() > 16 {
            (0..feature_mask.len())
                .into_par_iter()
                .with_min_len(8)
                .filter_map(scan)
                .reduce_with(better)
        } else {
            (0..feature_mask.len()).filter_map(scan).reduce(better)
        };
        best.filter(|c| c.gain > p.min_split_gain && c.gain > 0.0)
    }
}

/// The better of two candidates; ties go to the lower feature index so results do not
/// depend on thread scheduling.
fn better(a: Cand, b: Cand) -> Cand {
    if b.gain > a.gain || (b.gain == a.gain && b.feature < a.feature) {
        b
    } else {
        a
    }
}

/// Best split of one feature's histogram (bin 0 = missing).
fn scan_feature(f: usize, h: &[Bin], total: Bin, count: usize, p: &GbdtParams) -> Option<Cand> {
    let lambda = p.lambda_l2;
    let min_h = p.min_child_weight;
    let min_n = f64::from(p.min_data_in_leaf);
    // Counts are estimated from hessians (as LightGBM does) so histograms stay two wide.
    let cnt_factor = if total[1] > 0.0 {
        count as f64 / total[1]
    } else {
        0.0
    };
    let obj = |s: Bin| s[0] * s[0] / (s[1] + lambda);
    let parent = obj(total);
    let miss = h[0];
    let has_missing = (miss[1] * cnt_factor).round() >= 1.0;
    let mut best: Option<Cand> = None;
    let mut consider = |bin: usize, left: Bin, default_left: bool| {
        let right = [total[0] - left[0], total[1] - left[1]];
        if left[1] < min_h
            || right[1] < min_h
            || (left[1] * cnt_factor).round() < min_n
            || (right[1] * cnt_factor).round() < min_n
        {
            return;
        }
        let gain = obj(left) + obj(right) - parent;
        if best.is_none_or(|b| gain > b.gain) {
            best = Some(Cand {
                feature: f,
                bin,
                default_left,
                gain,
                left,
                right,
            });
        }
    };
    // Threshold after value bin `b` (bins 1..=b left); the last value bin never goes left
    // entirely. b = 0 (only missing values left) is tried when there are missing values.
    if has_missing {
        consider(0, miss, true);
    }
    let mut cum = [0.0f64; 2];
    for (b, bin) in h.iter().enumerate().take(h.len() - 1).skip(1) {
        cum[0] += bin[0];
        cum[1] += bin[1];
        consider(b, cum, false);
        if has_missing {
            consider(b, [cum[0] + miss[0], cum[1] + miss[1]], true);
        }
    }
    // Without missing rows here, send future missing values the way most rows went.
    best.map(|mut c| {
        if !has_missing {
            c.default_left = c.left[1] >= c.right[1];
        }
        c
    })
}

fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

fn subtract(parent: &mut [Bin], child: &[Bin]) {
    for (p, c) in parent.iter_mut().zip(child) {
        p[0] -= c[0];
        p[1] -= c[1];
    }
}

/// Histogram of `rows` into `out`, split over threads for large leaves.
fn build_hist(
    data: &BinnedMatrix,
    layout: &Layout,
    sparse: Option<&SparseRows>,
    rows: &[u32],
    gh: &[[f32; 2]],
    out: &mut [Bin],
    thread_hists: &mut [Hist],
) {
    let one = |rows: &[u32], h: &mut [Bin]| -> Bin {
        h.fill([0.0; 2]);
        match sparse {
            Some(s) => s.hist_rows(rows, gh, h),
            None => {
                hist_rows(data, layout, rows, gh, h);
                [0.0; 2]
            }
        }
    };
    let t = thread_hists.len();
    let total = if rows.len() < PAR_MIN_ROWS || t < 2 {
        one(rows, out)
    } else {
        let chunk = rows.len().div_ceil(t);
        let totals: Vec<Bin> = thread_hists
            .par_iter_mut()
            .zip(rows.par_chunks(chunk))
            .map(|(h, rows)| one(rows, h))
            .collect();
        let used = rows.len().div_ceil(chunk);
        const MERGE: usize = 4096;
        out.par_chunks_mut(MERGE).enumerate().for_each(|(k, o)| {
            let (at, len) = (k * MERGE, o.len());
            o.copy_from_slice(&thread_hists[0][at..at + len]);
            for th in &thread_hists[1..used] {
                for (a, b) in o.iter_mut().zip(&th[at..at + len]) {
                    a[0] += b[0];
                    a[1] += b[1];
                }
            }
        });
        totals
            .iter()
            .fold([0.0; 2], |a, b| [a[0] + b[0], a[1] + b[1]])
    };
    if let Some(s) = sparse {
        s.fill_default_bins(layout, total, out);
    }
}

/// Each row's cells that are not their column's most frequent bin, as histogram indices
/// (`Layout::offsets[f] + bin`), row after row. Elastic's bigram encodings put about two
/// thirds of the cells of a row in their column's most frequent bin; a histogram built
/// from the other cells alone, each column's most frequent bin then filled in as the
/// leaf's total minus the column's other bins, does a third of the scattered additions.
struct SparseRows {
    /// Row `r`'s cells are `cells[starts[r]..starts[r + 1]]`.
    starts: Vec<usize>,
    cells: Vec<u32>,
    /// Per column, the histogram index of its most frequent bin.
    defaults: Vec<u32>,
}

impl SparseRows {
    /// Rows per parallel work unit while building.
    const BLOCK: usize = 4096;

    /// The sparse rows of `data`, or `None` when too few cells would be skipped for the
    /// indirection to pay (more than 5 in 10 cells outside the most frequent bins).
    fn new(data: &BinnedMatrix, layout: &Layout) -> Option<Self> {
        let (n_rows, n_cols) = (data.n_rows, data.n_cols);
        if n_rows == 0 || n_cols == 0 {
            return None;
        }
        let counts = data
            .bins
            .par_chunks(Self::BLOCK * n_cols)
            .map(|block| {
                let mut c = vec![[0u32; 256]; n_cols];
                for row in block.chunks_exact(n_cols) {
                    for (c, &b) in c.iter_mut().zip(row) {
                        c[usize::from(b)] += 1;
                    }
                }
                c
            })
            .reduce_with(|mut a, b| {
                for (a, b) in a.iter_mut().zip(&b) {
                    for (a, b) in a.iter_mut().zip(b) {
                        *a += b;
                    }
                }
                a
            })?;
        let default_bins: Vec<u8> = counts
            .iter()
            .map(|c| {
                let top = (0..256).max_by_key(|&b| (c[b], std::cmp::Reverse(b)));
                top.map_or(0, |b| b as u8)
            })
            .collect();
        let kept: u64 = counts
            .iter()
            .zip(&default_bins)
            .map(|(c, &d)| n_rows as u64 - u64::from(c[usize::from(d)]))
            .sum();
        if kept * 10 > (n_rows * n_cols) as u64 * 5 {
            return None;
        }
        let offsets = &layout.offsets[..n_cols];
        // Two passes, so that the cells are written once into their final place: each
        // row's count, then each block of rows fills its own part of the cells.
        let lens: Vec<usize> = data
            .bins
            .par_chunks(n_cols)
            .map(|row| {
                row.iter()
                    .zip(&default_bins)
                    .filter(|(b, d)| b != d)
                    .count()
            })
            .collect();
        let mut starts = Vec::with_capacity(n_rows + 1);
        starts.push(0);
        for len in &lens {
            starts.push(starts.last().copied().unwrap_or(0) + len);
        }
        let mut cells = vec![0u32; starts[n_rows]];
        let mut parts: Vec<&mut [u32]> = Vec::with_capacity(n_rows.div_ceil(Self::BLOCK));
        let mut rest = cells.as_mut_slice();
        for first in (0..n_rows).step_by(Self::BLOCK) {
            let last = (first + Self::BLOCK).min(n_rows);
            let (part, tail) = rest.split_at_mut(starts[last] - starts[first]);
            parts.push(part);
            rest = tail;
        }
        data.bins
            .par_chunks(Self::BLOCK * n_cols)
            .zip(parts)
            .for_each(|(block, part)| {
                let mut at = 0;
                for row in block.chunks_exact(n_cols) {
                    for ((&b, &d), &off) in row.iter().zip(&default_bins).zip(offsets) {
                        if b != d {
                            part[at] = off + u32::from(b);
                            at += 1;
                        }
                    }
                }
            });
        let defaults = offsets
            .iter()
            .zip(&default_bins)
            .map(|(&off, &d)| off + u32::from(d))
            .collect();
        Some(SparseRows {
            starts,
            cells,
            defaults,
        })
    }

    /// Adds `rows`' cells outside the most frequent bins to `out` (most frequent bins left
    /// as they are); returns the rows' gradient and hessian totals.
    fn hist_rows(&self, rows: &[u32], gh: &[[f32; 2]], out: &mut [Bin]) -> Bin {
        let mut total = [0.0; 2];
        for (k, &r) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(k + PREFETCH) {
                let a = ahead as usize;
                let at = self.starts.get(a).copied().unwrap_or(0);
                prefetch(self.cells.as_ptr().wrapping_add(at).cast());
                prefetch(gh.as_ptr().wrapping_add(a).cast());
            }
            let r = r as usize;
            let [g, h] = gh[r];
            let (g, h) = (Acc::from(g), Acc::from(h));
            total[0] += g;
            total[1] += h;
            for &i in &self.cells[self.starts[r]..self.starts[r + 1]] {
                // An index is below the histogram's length by construction; `get_mut`
                // keeps a corrupt one from ever writing elsewhere.
                if let Some(e) = out.get_mut(i as usize) {
                    e[0] += g;
                    e[1] += h;
                }
            }
        }
        total
    }

    /// Each column's most frequent bin (still zero in `out`): the leaf's `total` less the
    /// column's other bins.
    fn fill_default_bins(&self, layout: &Layout, total: Bin, out: &mut [Bin]) {
        for (f, &d) in self.defaults.iter().enumerate() {
            let bins = &out[layout.offsets[f] as usize..layout.offsets[f + 1] as usize];
            let rest = bins
                .iter()
                .fold([0.0; 2], |a, b| [a[0] + b[0], a[1] + b[1]]);
            out[d as usize] = [total[0] - rest[0], total[1] - rest[1]];
        }
    }
}

/// Asks the CPU to start loading the cache line at `p`.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no effect on program
    // state, whatever the address; SSE is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Rows ahead whose bins and gradients are touched early, so the cache misses of a sparse
/// leaf's rows overlap with work on the current row.
const PREFETCH: usize = 16;

#[inline(never)]
fn hist_rows(data: &BinnedMatrix, layout: &Layout, rows: &[u32], gh: &[[f32; 2]], out: &mut [Bin]) {
    let n_cols = data.n_cols;
    let offsets = &layout.offsets[..n_cols];
    if layout.uniform {
        // 256 slots per feature: a `u8` bin indexes a `[Bin; 256]` with no bounds check.
        let (feats, _) = out.as_chunks_mut::<256>();
        for (k, &r) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(k + PREFETCH) {
                let a = ahead as usize * n_cols;
                prefetch(data.bins[a..].as_ptr());
                prefetch(data.bins[a + n_cols - 1..].as_ptr());
                prefetch(gh[ahead as usize..].as_ptr().cast());
            }
            let r = r as usize;
            let [g, h] = gh[r];
            let (g, h) = (Acc::from(g), Acc::from(h));
            let row = &data.bins[r * n_cols..(r + 1) * n_cols];
            for (&b, fh) in row.iter().zip(feats.iter_mut()) {
                let e = &mut fh[usize::from(b)];
                e[0] += g;
                e[1] += h;
            }
        }
        return;
    }
    for (k, &r) in rows.iter().enumerate() {
        if let Some(&ahead) = rows.get(k + PREFETCH) {
            let a = ahead as usize * n_cols;
            prefetch(data.bins[a..].as_ptr());
            prefetch(data.bins[a + n_cols - 1..].as_ptr());
            prefetch(gh[ahead as usize..].as_ptr().cast());
        }
        let r = r as usize;
        let [g, h] = gh[r];
        let (g, h) = (Acc::from(g), Acc::from(h));
        let row = &data.bins[r * n_cols..(r + 1) * n_cols];
        for (&b, &off) in row.iter().zip(offsets) {
            // A bin is below its feature's bin count, so this stays inside the feature's
            // range; `get_mut` keeps a corrupt bin from ever writing elsewhere.
            if let Some(e) = out.get_mut(off as usize + usize::from(b)) {
                e[0] += g;
                e[1] += h;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::BinMapper;
    use crate::data::Matrix;
    use crate::rng::SplitMix64;

    /// Columns most of whose cells share one value (a different one per column, NaN for
    /// some), as Elastic's bigram encodings are, with a few wide columns among them.
    fn skewed(n_rows: usize, n_cols: usize, seed: u64) -> (BinnedMatrix, Vec<BinMapper>) {
        let mut rng = SplitMix64::new(seed);
        let columns: Vec<(String, Vec<f32>)> = (0..n_cols)
            .map(|c| {
                let common = if c % 3 == 0 { f32::NAN } else { c as f32 };
                let spread = if c % 5 == 0 { 200 } else { 6 };
                let values = (0..n_rows)
                    .map(|_| {
                        if rng.below(10) < 7 {
                            common
                        } else {
                            rng.below(spread) as f32 - 3.0
                        }
                    })
                    .collect();
                (format!("f{c}"), values)
            })
            .collect();
        let m = Matrix::from_columns(columns).unwrap();
        let mappers: Vec<BinMapper> = (0..n_cols)
            .map(|c| BinMapper::from_sample(m.column(c).to_vec(), 255))
            .collect();
        (BinnedMatrix::new(&m, &mappers, true), mappers)
    }

    /// A histogram built from the cells outside each column's most frequent bin, that bin
    /// then filled from the leaf's totals, equals the one built from every cell: for the
    /// whole matrix and for row subsets, on one thread and split over several.
    #[test]
    fn sparse_histograms_equal_dense_ones() {
        let (data, mappers) = skewed(40_000, 37, 7);
        let layout = Layout::new(&mappers);
        let sparse = SparseRows::new(&data, &layout).expect("skewed columns go sparse");
        assert!(
            sparse.cells.len() < data.bins.len() / 2,
            "{} cells",
            sparse.cells.len()
        );
        let mut rng = SplitMix64::new(3);
        let gh: Vec<[f32; 2]> = (0..data.n_rows)
            .map(|_| [rng.next_f64() as f32 - 0.5, rng.next_f64() as f32])
            .collect();
        let all: Vec<u32> = (0..data.n_rows as u32).collect();
        let some: Vec<u32> = all.iter().copied().filter(|_| rng.below(3) == 0).collect();
        let few: Vec<u32> = all
            .iter()
            .copied()
            .filter(|_| rng.below(500) == 0)
            .collect();
        for rows in [&all, &some, &few] {
            for threads in [1, 3] {
                let mut scratch = vec![vec![[0.0; 2]; layout.hist_len()]; threads];
                let mut dense = vec![[0.0; 2]; layout.hist_len()];
                let mut from_sparse = vec![[1.0; 2]; layout.hist_len()];
                build_hist(&data, &layout, None, rows, &gh, &mut dense, &mut scratch);
                build_hist(
                    &data,
                    &layout,
                    Some(&sparse),
                    rows,
                    &gh,
                    &mut from_sparse,
                    &mut scratch,
                );
                for (i, (a, b)) in dense.iter().zip(&from_sparse).enumerate() {
                    for k in 0..2 {
                        assert!(
                            (a[k] - b[k]).abs() <= 1e-9 * (1.0 + a[k].abs()),
                            "{} rows, {threads} threads, bin {i}: {a:?} vs {b:?}",
                            rows.len()
                        );
                    }
                }
            }
        }
    }

    /// Columns spread over many bins stay dense: the indirection would not pay.
    #[test]
    fn spread_columns_stay_dense() {
        let mut rng = SplitMix64::new(5);
        let columns: Vec<(String, Vec<f32>)> = (0..8)
            .map(|c| {
                let v = (0..5_000).map(|_| rng.below(50) as f32).collect();
                (format!("f{c}"), v)
            })
            .collect();
        let m = Matrix::from_columns(columns).unwrap();
        let mappers: Vec<BinMapper> = (0..8)
            .map(|c| BinMapper::from_sample(m.column(c).to_vec(), 255))
            .collect();
        let data = BinnedMatrix::new(&m, &mappers, false);
        assert!(SparseRows::new(&data, &Layout::new(&mappers)).is_none());
    }
}
