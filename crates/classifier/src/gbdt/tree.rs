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

/// Flattened trees for prediction: 16-byte nodes, children as signed indices
/// (negative = leaf `!child`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    nodes: Vec<CNode>,
    leaves: Vec<f32>,
    /// Root node of each tree (negative when the tree is a single leaf).
    roots: Vec<i32>,
}

#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct CNode {
    threshold: f32,
    /// Feature index; the top bit carries `default_left`.
    feature: u32,
    left: i32,
    right: i32,
}

const DEFAULT_LEFT: u32 = 1 << 31;

impl Compiled {
    pub(crate) fn new(trees: &[Tree]) -> Self {
        let mut c = Compiled::default();
        for t in trees {
            let node_base = c.nodes.len() as i32;
            let leaf_base = c.leaves.len() as i32;
            // Map tree node index -> compiled reference.
            let mut refs = vec![0i32; t.nodes.len()];
            let (mut ni, mut li) = (0i32, 0i32);
            for (i, n) in t.nodes.iter().enumerate() {
                refs[i] = match n {
                    Node::Split { .. } => {
                        ni += 1;
                        node_base + ni - 1
                    }
                    Node::Leaf { .. } => {
                        li += 1;
                        !(leaf_base + li - 1)
                    }
                };
            }
            for n in &t.nodes {
                match n {
                    Node::Split {
                        feature,
                        threshold,
                        default_left,
                        left,
                        right,
                        ..
                    } => c.nodes.push(CNode {
                        threshold: *threshold,
                        feature: feature | if *default_left { DEFAULT_LEFT } else { 0 },
                        left: refs[*left as usize],
                        right: refs[*right as usize],
                    }),
                    Node::Leaf { value, .. } => c.leaves.push(*value),
                }
            }
            c.roots.push(refs[0]);
        }
        c
    }

    /// Sum of tree outputs for one row (without the base score).
    #[inline]
    pub(crate) fn raw(&self, row: &[f32]) -> f64 {
        let mut sum = 0.0f64;
        for &root in &self.roots {
            let mut i = root;
            while i >= 0 {
                let n = &self.nodes[i as usize];
                let x = row[(n.feature & !DEFAULT_LEFT) as usize];
                let go_left = if x.is_nan() {
                    n.feature & DEFAULT_LEFT != 0
                } else {
                    x <= n.threshold
                };
                i = if go_left { n.left } else { n.right };
            }
            sum += f64::from(self.leaves[!i as usize]);
        }
        sum
    }

    /// Sums of tree outputs for a block of rows (row-major, `n_cols` wide), tree by tree so
    /// each tree stays in cache across the block.
    pub(crate) fn raw_block(&self, rows: &[f32], n_cols: usize, out: &mut [f64]) {
        for &root in &self.roots {
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(n_cols)) {
                let mut i = root;
                while i >= 0 {
                    let n = &self.nodes[i as usize];
                    let x = row[(n.feature & !DEFAULT_LEFT) as usize];
                    let go_left = if x.is_nan() {
                        n.feature & DEFAULT_LEFT != 0
                    } else {
                        x <= n.threshold
                    };
                    i = if go_left { n.left } else { n.right };
                }
                *o += f64::from(self.leaves[!i as usize]);
            }
        }
    }
}
