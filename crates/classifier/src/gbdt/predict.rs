//! The compiled form of a tree ensemble that prediction walks.
//!
//! The plain [`Tree`]s stay the model's exported structure; this is rebuilt from them on
//! fit and load. What makes it fast (issue 5: ≥ 1M events/s on one core for 200 trees):
//!
//! - **8-byte nodes, siblings adjacent.** Every tree is relaid out breadth-first so the
//!   right child sits right after the left one; a node holds its threshold, a feature index
//!   (top bit: missing goes left) and the tree-local index of its left child. A 200-tree,
//!   31-leaf ensemble is ~100 KB and stays in L2.
//! - **Branch-free steps, fixed walk length.** A leaf is a node whose threshold is NaN and
//!   whose left child is itself minus one, so any value steps "right" onto the leaf again.
//!   Every walk through a tree therefore takes exactly the tree's depth in steps with no
//!   test for having arrived, and several walks run in lockstep: their loads overlap in
//!   the CPU instead of each paying a mispredicted branch per level.
//! - **Only the features the trees read.** Batch prediction gathers just those columns of
//!   a block of rows into a compact row-major buffer (the elastic2021 matrix has ~950
//!   columns; a model reads a few hundred), then walks the block tree by tree so that one
//!   tree's nodes stay in L1 while the block's rows pass through it.
//! - A single row walks [`LANES`] trees in lockstep instead.
//!
//! Both paths add the leaf values in tree order in `f64`, so they give bit-identical
//! sums, equal to walking the plain trees one by one.

use super::tree::{Node, Tree};

/// Walks run in lockstep (rows of a block, or trees for one row).
const LANES: usize = 8;

/// Rows per block of batch prediction (a multiple of [`LANES`]).
const BLOCK: usize = 64;

/// Top bit of [`CNode::feature`]: a missing value goes left.
const DEFAULT_LEFT: u16 = 1 << 15;

/// Largest number of distinct features, and of nodes per tree, the compact layout holds.
const MAX_COMPACT: usize = (DEFAULT_LEFT as usize) - 1;

#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct CNode {
    /// `x <= threshold` goes left; NaN marks a leaf.
    threshold: f32,
    /// Compact feature index (into [`Flat::used`]); top bit = default left.
    feature: u16,
    /// Tree-local index of the left child; the right child is `left + 1`. A leaf holds
    /// its own index minus one (wrapping), so stepping right stays on it.
    left: u16,
}

impl CNode {
    /// Next tree-local node index for feature value `x`.
    #[inline(always)]
    fn step(self, x: f32) -> u16 {
        let dl = self.feature & DEFAULT_LEFT != 0;
        let go_left = (x <= self.threshold) | (x.is_nan() & dl);
        self.left.wrapping_add(u16::from(!go_left))
    }

    #[inline(always)]
    fn feature(self) -> usize {
        usize::from(self.feature & !DEFAULT_LEFT)
    }
}

/// Trees flattened into one node array.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flat {
    nodes: Vec<CNode>,
    /// Leaf value per node, same index as `nodes` (0 for internal nodes).
    values: Vec<f32>,
    /// Per tree: offset of its root in `nodes`, number of nodes, depth.
    trees: Vec<(u32, u16, u16)>,
    /// Per group of [`LANES`] consecutive trees: the largest depth in it.
    group_depth: Vec<u16>,
    /// Model feature index of each compact feature index.
    used: Vec<u32>,
}

/// The compiled ensemble: the flat form, or the plain trees when a tree or the feature set
/// is too large for 16-bit indices (never the case for models `lotl train` writes).
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Flat(Flat),
    Plain(Vec<Tree>),
}

impl Default for Compiled {
    fn default() -> Self {
        Compiled::Plain(Vec::new())
    }
}

impl Compiled {
    /// Compiles validated trees (children after their parent, features in range).
    pub(crate) fn new(trees: &[Tree]) -> Self {
        Flat::new(trees).map_or_else(|| Compiled::Plain(trees.to_vec()), Compiled::Flat)
    }

    /// Sum of tree outputs for one row (without the base score).
    pub(crate) fn raw(&self, row: &[f32]) -> f64 {
        match self {
            Compiled::Flat(f) => f.raw(row),
            Compiled::Plain(trees) => plain_raw(trees, row),
        }
    }

    /// Sums of tree outputs (without the base score) for consecutive row-major rows of
    /// `width` values each (the model's features in order), one per element of `out`.
    pub(crate) fn raw_rows(&self, rows: &[f32], width: usize, out: &mut [f64]) {
        match self {
            Compiled::Flat(f) => f.raw_rows(rows, width, out),
            Compiled::Plain(trees) => {
                for (o, row) in out.iter_mut().zip(rows.chunks_exact(width.max(1))) {
                    *o = plain_raw(trees, row);
                }
            }
        }
    }

    /// Sums of tree outputs (without the base score) for rows `start..start + out.len()`
    /// of column-major input: `columns[c]` is the model's feature `c`, all rows.
    pub(crate) fn raw_columns(&self, columns: &[&[f32]], start: usize, out: &mut [f64]) {
        match self {
            Compiled::Flat(f) => f.raw_columns(columns, start, out),
            Compiled::Plain(trees) => {
                let mut row = vec![0.0f32; columns.len()];
                for (r, o) in out.iter_mut().enumerate() {
                    for (v, c) in row.iter_mut().zip(columns) {
                        *v = c[start + r];
                    }
                    *o = plain_raw(trees, &row);
                }
            }
        }
    }
}

/// Reference walk over the plain trees, one tree after another.
fn plain_raw(trees: &[Tree], row: &[f32]) -> f64 {
    let mut sum = 0.0f64;
    for t in trees {
        sum += f64::from(t.nodes[t.leaf_index(row)].value());
    }
    sum
}

impl Flat {
    fn new(trees: &[Tree]) -> Option<Self> {
        let mut f = Flat::default();
        let mut compact = std::collections::BTreeMap::<u32, u16>::new();
        for t in trees {
            for n in &t.nodes {
                if let Node::Split { feature, .. } = n {
                    compact.entry(*feature).or_insert(0);
                }
            }
        }
        // No split at all (a constant model) or too many features: the plain walk.
        if compact.is_empty() || compact.len() > MAX_COMPACT {
            return None;
        }
        for (i, (feature, c)) in compact.iter_mut().enumerate() {
            *c = i as u16;
            f.used.push(*feature);
        }
        for t in trees {
            if t.nodes.len() > MAX_COMPACT {
                return None;
            }
            let base = f.nodes.len() as u32;
            // Breadth-first relayout with siblings adjacent: `order[new] = old`.
            let mut order = vec![0usize];
            let mut depth_of = vec![0u16];
            let mut new_of = vec![usize::MAX; t.nodes.len()];
            new_of[0] = 0;
            let mut k = 0;
            while k < order.len() {
                if let Node::Split { left, right, .. } = &t.nodes[order[k]] {
                    for c in [*left as usize, *right as usize] {
                        new_of[c] = order.len();
                        order.push(c);
                        depth_of.push(depth_of[k] + 1);
                    }
                }
                k += 1;
            }
            let depth = depth_of.iter().copied().max().unwrap_or(0);
            for (new, &old) in order.iter().enumerate() {
                match &t.nodes[old] {
                    Node::Split {
                        feature,
                        threshold,
                        default_left,
                        left,
                        ..
                    } => {
                        let c = compact.get(feature).copied().unwrap_or(0);
                        f.nodes.push(CNode {
                            threshold: *threshold,
                            feature: c | if *default_left { DEFAULT_LEFT } else { 0 },
                            left: new_of[*left as usize] as u16,
                        });
                        f.values.push(0.0);
                    }
                    Node::Leaf { value, .. } => {
                        f.nodes.push(CNode {
                            threshold: f32::NAN,
                            feature: 0,
                            left: (new as u16).wrapping_sub(1),
                        });
                        f.values.push(*value);
                    }
                }
            }
            f.trees.push((base, order.len() as u16, depth));
        }
        f.group_depth = f
            .trees
            .chunks(LANES)
            .map(|g| g.iter().map(|t| t.2).max().unwrap_or(0))
            .collect();
        Some(f)
    }

    /// One row: [`LANES`] trees walked in lockstep, leaves added in tree order.
    fn raw(&self, row: &[f32]) -> f64 {
        let mut sum = 0.0f64;
        for (group, &depth) in self.trees.chunks(LANES).zip(&self.group_depth) {
            if group.len() < LANES {
                for &(base, len, _) in group {
                    let nodes = &self.nodes[base as usize..base as usize + len as usize];
                    let mut i = 0u16;
                    for _ in 0..depth {
                        let n = nodes[usize::from(i)];
                        i = n.step(row[self.used[n.feature()] as usize]);
                    }
                    sum += f64::from(self.values[base as usize + usize::from(i)]);
                }
                continue;
            }
            let mut idx: [u32; LANES] = std::array::from_fn(|k| group[k].0);
            for _ in 0..depth {
                for (i, t) in idx.iter_mut().zip(group) {
                    let n = self.nodes[*i as usize];
                    let x = row[self.used[n.feature()] as usize];
                    *i = t.0 + u32::from(n.step(x));
                }
            }
            for i in idx {
                sum += f64::from(self.values[i as usize]);
            }
        }
        sum
    }

    /// Rows `start..start + out.len()` of column-major input, block by block.
    fn raw_columns(&self, columns: &[&[f32]], start: usize, out: &mut [f64]) {
        let u = self.used.len();
        let cols: Vec<&[f32]> = self.used.iter().map(|&c| columns[c as usize]).collect();
        let mut buf = vec![0.0f32; BLOCK * u];
        for (bi, o) in out.chunks_mut(BLOCK).enumerate() {
            let first = start + bi * BLOCK;
            let n = o.len();
            for (c, col) in cols.iter().enumerate() {
                for (r, &v) in col[first..first + n].iter().enumerate() {
                    buf[r * u + c] = v;
                }
            }
            self.raw_block(&buf[..n * u], u, o);
        }
    }

    /// Row-major rows of `width` values, block by block: only the used features of each
    /// row are gathered, so the block's compact rows stay in L1 while the trees pass.
    fn raw_rows(&self, rows: &[f32], width: usize, out: &mut [f64]) {
        let u = self.used.len();
        let mut buf = vec![0.0f32; BLOCK * u];
        for (o, block) in out.chunks_mut(BLOCK).zip(rows.chunks(BLOCK * width.max(1))) {
            for (dst, row) in buf
                .chunks_exact_mut(u)
                .zip(block.chunks_exact(width.max(1)))
            {
                for (d, &c) in dst.iter_mut().zip(&self.used) {
                    *d = row[c as usize];
                }
            }
            let n = o.len();
            self.raw_block(&buf[..n * u], u, o);
        }
    }

    /// A block of compact rows (`u` values each): tree by tree, [`LANES`] rows in
    /// lockstep. Overwrites `out`.
    fn raw_block(&self, rows: &[f32], u: usize, out: &mut [f64]) {
        out.fill(0.0);
        let full = out.len() / LANES * LANES;
        for &(base, len, depth) in &self.trees {
            let nodes = &self.nodes[base as usize..base as usize + len as usize];
            let values = &self.values[base as usize..base as usize + len as usize];
            for (o, block) in out[..full]
                .chunks_exact_mut(LANES)
                .zip(rows.chunks_exact(LANES * u))
            {
                let lanes: [&[f32]; LANES] = std::array::from_fn(|k| &block[k * u..(k + 1) * u]);
                let mut idx = [0u16; LANES];
                for _ in 0..depth {
                    for (i, lane) in idx.iter_mut().zip(&lanes) {
                        let n = nodes[usize::from(*i)];
                        *i = n.step(lane[n.feature()]);
                    }
                }
                for (o, i) in o.iter_mut().zip(idx) {
                    *o += f64::from(values[usize::from(i)]);
                }
            }
            for (r, o) in out.iter_mut().enumerate().skip(full) {
                let row = &rows[r * u..(r + 1) * u];
                let mut i = 0u16;
                for _ in 0..depth {
                    let n = nodes[usize::from(i)];
                    i = n.step(row[n.feature()]);
                }
                *o += f64::from(values[usize::from(i)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Thresholds drawn from a small grid so that rows often hit `x == threshold`.
    fn grid(rng: &mut SplitMix64) -> f32 {
        (rng.below(21) as f32 - 10.0) * 0.25
    }

    /// A random tree grown leaf-wise to `leaves` leaves over `n_features` features.
    fn random_tree(rng: &mut SplitMix64, leaves: usize, n_features: usize) -> Tree {
        let leaf = |rng: &mut SplitMix64| Node::Leaf {
            value: (rng.next_f64() - 0.5) as f32,
            hessian: 1.0,
            count: 1,
        };
        let mut nodes = vec![leaf(rng)];
        for _ in 1..leaves {
            let leaf_ids: Vec<usize> = (0..nodes.len())
                .filter(|&i| matches!(nodes[i], Node::Leaf { .. }))
                .collect();
            let i = leaf_ids[rng.below(leaf_ids.len())];
            let n = nodes.len() as u32;
            nodes[i] = Node::Split {
                feature: rng.below(n_features) as u32,
                threshold: grid(rng),
                default_left: rng.below(2) == 0,
                left: n,
                right: n + 1,
                gain: 1.0,
                value: 0.0,
                hessian: 1.0,
                count: 1,
            };
            nodes.push(leaf(rng));
            nodes.push(leaf(rng));
        }
        Tree { nodes }
    }

    fn random_rows(rng: &mut SplitMix64, n_rows: usize, n_features: usize) -> Vec<f32> {
        (0..n_rows * n_features)
            .map(|_| match rng.below(10) {
                0 => f32::NAN,
                1..=4 => grid(rng),
                _ => (rng.next_f64() * 6.0 - 3.0) as f32,
            })
            .collect()
    }

    fn check(trees: &[Tree], n_features: usize, n_rows: usize, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let rows = random_rows(&mut rng, n_rows, n_features);
        let compiled = Compiled::new(trees);
        assert!(matches!(compiled, Compiled::Flat(_)));
        let columns: Vec<Vec<f32>> = (0..n_features)
            .map(|c| (0..n_rows).map(|r| rows[r * n_features + c]).collect())
            .collect();
        let col_refs: Vec<&[f32]> = columns.iter().map(Vec::as_slice).collect();
        // Whole range, and an offset range that does not start on a block boundary.
        let mut all = vec![f64::NAN; n_rows];
        compiled.raw_columns(&col_refs, 0, &mut all);
        let start = 13.min(n_rows);
        let mut tail = vec![f64::NAN; n_rows - start];
        compiled.raw_columns(&col_refs, start, &mut tail);
        let mut row_major = vec![f64::NAN; n_rows];
        compiled.raw_rows(&rows, n_features, &mut row_major);
        for (r, row) in rows.chunks_exact(n_features).enumerate() {
            let want = plain_raw(trees, row);
            assert_eq!(compiled.raw(row).to_bits(), want.to_bits(), "row {r}");
            assert_eq!(all[r].to_bits(), want.to_bits(), "batch row {r}");
            assert_eq!(
                row_major[r].to_bits(),
                want.to_bits(),
                "row-major batch row {r}"
            );
            if r >= start {
                assert_eq!(tail[r - start].to_bits(), want.to_bits(), "offset row {r}");
            }
        }
    }

    #[test]
    fn flat_walk_equals_plain_walk_with_missing_values_and_ties() {
        let mut rng = SplitMix64::new(7);
        // 203 trees: not a multiple of the lane count; depths vary from 1 to ~30.
        let trees: Vec<Tree> = (0..203)
            .map(|i| random_tree(&mut rng, 1 + (i * 7) % 31 + 1, 40))
            .collect();
        check(&trees, 40, 5003, 1);
    }

    #[test]
    fn single_leaf_trees_mixed_with_splits() {
        let mut rng = SplitMix64::new(3);
        let mut trees: Vec<Tree> = (0..10).map(|_| random_tree(&mut rng, 5, 3)).collect();
        trees.insert(4, random_tree(&mut rng, 1, 3));
        trees.push(random_tree(&mut rng, 1, 3));
        check(&trees, 3, 77, 2);
    }

    #[test]
    fn constant_model_uses_the_plain_walk() {
        let mut rng = SplitMix64::new(5);
        let trees = vec![random_tree(&mut rng, 1, 2), random_tree(&mut rng, 1, 2)];
        let compiled = Compiled::new(&trees);
        assert!(matches!(compiled, Compiled::Plain(_)));
        let col = [1.0f32, f32::NAN, 2.0];
        let mut out = [0.0f64; 3];
        compiled.raw_columns(&[&col, &col], 0, &mut out);
        let want = trees
            .iter()
            .map(|t| f64::from(t.nodes[0].value()))
            .sum::<f64>();
        assert!(out.iter().all(|&v| v == want));
        let rows = [1.0f32, 1.0, f32::NAN, f32::NAN, 2.0, 2.0];
        let mut out = [0.0f64; 3];
        compiled.raw_rows(&rows, 2, &mut out);
        assert!(out.iter().all(|&v| v == want));
    }
}
