//! Plain, exportable tree structures and the compiled form prediction walks.
//!
//! A [`Tree`] is a vector of [`Node`]s, root first; a split sends a row left when
//! `value <= threshold` (Elasticsearch's `lte`), and a missing value (NaN) goes left iff
//! `default_left`. Children always have larger indices than their parent.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One node of a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    /// An internal node.
    Split {
        /// Index of the feature tested (column of the training matrix).
        feature: u32,
        /// `value <= threshold` goes left.
        threshold: f32,
        /// Where a missing value (NaN) goes.
        default_left: bool,
        /// Index of the left child in [`Tree::nodes`].
        left: u32,
        /// Index of the right child in [`Tree::nodes`].
        right: u32,
        /// Loss reduction of this split (feature importance by gain).
        gain: f32,
        /// Value this node would predict as a leaf (learning rate applied); path-based
        /// contributions are differences of these along the path.
        value: f32,
        /// Sum of hessians of the training rows reaching this node.
        hessian: f32,
        /// Number of training rows reaching this node.
        count: u32,
    },
    /// A leaf.
    Leaf {
        /// Raw-score contribution (learning rate applied).
        value: f32,
        /// Sum of hessians of the training rows reaching this leaf.
        hessian: f32,
        /// Number of training rows reaching this leaf.
        count: u32,
    },
}

impl Node {
    /// The node's value (leaf value, or the value an internal node would predict).
    pub fn value(&self) -> f32 {
        match self {
            Node::Split { value, .. } | Node::Leaf { value, .. } => *value,
        }
    }

    /// Number of training rows reaching the node.
    pub fn count(&self) -> u32 {
        match self {
            Node::Split { count, .. } | Node::Leaf { count, .. } => *count,
        }
    }
}

/// One regression tree on the raw (log-odds) scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, root at index 0.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Index of the leaf a row reaches.
    #[inline]
    pub fn leaf_index(&self, row: &[f32]) -> usize {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Leaf { .. } => return i,
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    let x = row[*feature as usize];
                    let go_left = if x.is_nan() {
                        *default_left
                    } else {
                        x <= *threshold
                    };
                    i = if go_left { *left } else { *right } as usize;
                }
            }
        }
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }

    /// Depth of the deepest leaf (a single-leaf tree has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if let Node::Split { left, right, .. } = n {
                let here = depth[i];
                for c in [*left, *right] {
                    if let Some(d) = depth.get_mut(c as usize) {
                        *d = here + 1;
                        max = max.max(*d);
                    }
                }
            }
        }
        max
    }

    /// Checks structural invariants of a loaded tree, so prediction cannot loop or index
    /// out of range.
    pub(crate) fn validate(&self, n_features: usize) -> Result<()> {
        if self.nodes.is_empty() {
            return Err(Error::CorruptModel("tree with no nodes".into()));
        }
        let mut parents = vec![0u32; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            match n {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    value,
                    ..
                } => {
                    if *feature as usize >= n_features {
                        return Err(Error::CorruptModel(format!(
                            "node {i} splits on feature {feature} of {n_features}"
                        )));
                    }
                    if threshold.is_nan() || !value.is_finite() {
                        return Err(Error::CorruptModel(format!("node {i}: non-finite value")));
                    }
                    for c in [*left, *right] {
                        let c = c as usize;
                        if c <= i || c >= self.nodes.len() {
                            return Err(Error::CorruptModel(format!(
                                "node {i} has child {c} out of order or range"
                            )));
                        }
                        parents[c] += 1;
                    }
                }
                Node::Leaf { value, .. } => {
                    if !value.is_finite() {
                        return Err(Error::CorruptModel(format!("leaf {i}: non-finite value")));
                    }
                }
            }
        }
        if parents[0] != 0 || parents[1..].iter().any(|&p| p != 1) {
            return Err(Error::CorruptModel(
                "nodes do not form a single tree".into(),
            ));
        }
        Ok(())
    }
}

/// Flattened trees for prediction.
///
/// Every tree node, leaves included, is a 16-byte [`CNode`]; a leaf points to itself, so a
/// walk can take extra steps without effect. That makes each step branch-free (the next
/// node is `children[!go_left]`), and [`Compiled::raw_block`] walks a block of rows through
/// one tree in lockstep: the independent walks overlap in the CPU instead of each paying
/// for a mispredicted branch per level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    nodes: Vec<CNode>,
    /// Leaf value per node (0 for internal nodes).
    values: Vec<f32>,
    /// Root node of each tree.
    roots: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct CNode {
    threshold: f32,
    /// Feature index; the top bit carries `default_left`.
    feature: u32,
    /// `[left, right]`; a leaf has both equal to itself.
    children: [u32; 2],
}

const DEFAULT_LEFT: u32 = 1 << 31;

impl CNode {
    /// Next node for feature value `x` (branch-free).
    #[inline(always)]
    fn next(&self, row: &[f32]) -> u32 {
        let x = row[(self.feature & !DEFAULT_LEFT) as usize];
        let dl = self.feature & DEFAULT_LEFT != 0;
        let go_left = (x <= self.threshold) | (x.is_nan() & dl);
        self.children[usize::from(!go_left)]
    }
}

/// Rows walked in lockstep by [`Compiled::raw_block`].
const LANES: usize = 8;

impl Compiled {
    pub(crate) fn new(trees: &[Tree]) -> Self {
        let mut c = Compiled::default();
        for t in trees {
            let base = c.nodes.len() as u32;
            for (i, n) in t.nodes.iter().enumerate() {
                let me = base + i as u32;
                match n {
                    Node::Split {
                        feature,
                        threshold,
                        default_left,
                        left,
                        right,
                        ..
                    } => {
                        c.nodes.push(CNode {
                            threshold: *threshold,
                            feature: feature | if *default_left { DEFAULT_LEFT } else { 0 },
                            children: [base + left, base + right],
                        });
                        c.values.push(0.0);
                    }
                    Node::Leaf { value, .. } => {
                        c.nodes.push(CNode {
                            threshold: 0.0,
                            feature: 0,
                            children: [me, me],
                        });
                        c.values.push(*value);
                    }
                }
            }
            c.roots.push(base);
        }
        c
    }

    /// Sum of tree outputs for one row (without the base score).
    #[inline]
    pub(crate) fn raw(&self, row: &[f32]) -> f64 {
        let mut sum = 0.0f64;
        for &root in &self.roots {
            let mut i = root;
            loop {
                let next = self.nodes[i as usize].next(row);
                if next == i {
                    break;
                }
                i = next;
            }
            sum += f64::from(self.values[i as usize]);
        }
        sum
    }

    /// Adds the sums of tree outputs for a block of rows (row-major, `n_cols` wide) to
    /// `out`, tree by tree, walking [`LANES`] rows in lockstep. Sums are accumulated in
    /// the same order as [`Compiled::raw`], so both give identical results.
    pub(crate) fn raw_block(&self, rows: &[f32], n_cols: usize, out: &mut [f64]) {
        let mut chunks = out
            .chunks_mut(LANES)
            .zip(rows.chunks(LANES * n_cols.max(1)));
        for (o, block) in &mut chunks {
            if o.len() < LANES || n_cols == 0 {
                for (k, v) in o.iter_mut().enumerate() {
                    *v += self.raw(&block[k * n_cols..(k + 1) * n_cols]);
                }
                continue;
            }
            let lanes: [&[f32]; LANES] =
                std::array::from_fn(|k| &block[k * n_cols..(k + 1) * n_cols]);
            let mut acc = [0.0f64; LANES];
            for &root in &self.roots {
                let mut idx = [root; LANES];
                loop {
                    let mut moved = false;
                    for k in 0..LANES {
                        let next = self.nodes[idx[k] as usize].next(lanes[k]);
                        moved |= next != idx[k];
                        idx[k] = next;
                    }
                    if !moved {
                        break;
                    }
                }
                for k in 0..LANES {
                    acc[k] += f64::from(self.values[idx[k] as usize]);
                }
            }
            for (v, a) in o.iter_mut().zip(acc) {
                *v += a;
            }
        }
    }
}
