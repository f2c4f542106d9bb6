//! Plain, exportable tree structures (prediction walks their compiled form, `predict.rs`).
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
