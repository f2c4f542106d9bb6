//! Quantile binning of features into `u8` bins.
//!
//! Bin 0 is reserved for missing values (NaN); value bins are `1..=n_value_bins`. A value
//! `v` falls in the first bin whose upper bound `ub` satisfies `v <= ub`, so a split
//! "bins `1..=b` go left" is exactly the real-valued test `v <= upper_bounds[b - 1]` that
//! the exported trees (and Elasticsearch's `lte`) use: training and inference agree bit for
//! bit.

use rayon::prelude::*;

use crate::data::Matrix;
use crate::rng::SplitMix64;

/// Bin boundaries of one feature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BinMapper {
    /// Upper bounds of the value bins; the last one is `+inf`.
    pub(crate) upper_bounds: Vec<f32>,
}

impl BinMapper {
    /// Number of bins including the missing bin.
    pub(crate) fn n_bins(&self) -> usize {
        self.upper_bounds.len() + 1
    }

    /// Bin of one value.
    #[inline]
    pub(crate) fn bin(&self, v: f32) -> u8 {
        if v.is_nan() {
            return 0;
        }
        // First index with v <= ub (partition_point over the monotone predicate ub < v).
        let i = self.upper_bounds.partition_point(|&ub| ub < v);
        (i + 1) as u8
    }

    /// Real threshold equivalent to "value bins `1..=b` go left".
    pub(crate) fn threshold(&self, b: usize) -> f32 {
        if b == 0 {
            -f32::MAX
        } else {
            self.upper_bounds[b - 1]
        }
    }

    /// Boundaries from a sample of non-missing values, at most `max_bins` value bins.
    pub(crate) fn from_sample(mut values: Vec<f32>, max_bins: usize) -> Self {
        values.retain(|v| !v.is_nan());
        values.sort_unstable_by(f32::total_cmp);
        // Distinct values with counts (-0.0 == 0.0 collapse).
        let mut distinct: Vec<(f32, usize)> = Vec::new();
        for v in values {
            match distinct.last_mut() {
                Some((last, c)) if *last == v => *c += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let mut ub = Vec::new();
        if distinct.len() <= max_bins {
            for w in distinct.windows(2) {
                ub.push(midpoint(w[0].0, w[1].0));
            }
        } else {
            let total: usize = distinct.iter().map(|d| d.1).sum();
            let mut remaining = total;
            let mut acc = 0usize;
            for i in 0..distinct.len() - 1 {
                let bins_left = max_bins - ub.len();
                if bins_left <= 1 {
                    break;
                }
                let target = remaining.div_ceil(bins_left);
                acc += distinct[i].1;
                // Cut when this bin is full, or when the next value alone would overfill it.
                if acc >= target || acc + distinct[i + 1].1 > target.saturating_mul(2) {
                    ub.push(midpoint(distinct[i].0, distinct[i + 1].0));
                    remaining -= acc;
                    acc = 0;
                }
            }
        }
        ub.push(f32::INFINITY);
        Self { upper_bounds: ub }
    }
}

/// A threshold `t` with `a <= t < b`, as close to the middle as `f32` allows.
fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((f64::from(a) + f64::from(b)) / 2.0) as f32;
    if m >= a && m < b {
        m
    } else {
        a
    }
}

/// Finds bin boundaries for every column from a seeded row sample.
pub(crate) fn fit_mappers(
    m: &Matrix,
    max_bins: usize,
    sample_rows: usize,
    seed: u64,
) -> Vec<BinMapper> {
    let n = m.n_rows();
    let rows: Option<Vec<usize>> = if n > sample_rows {
        let all: Vec<usize> = (0..n).collect();
        Some(SplitMix64::new(seed ^ 0xb1_75).choose_sorted(&all, sample_rows))
    } else {
        None
    };
    (0..m.n_cols())
        .into_par_iter()
        .map(|c| {
            let col = m.column(c);
            let sample = match &rows {
                Some(rows) => rows.iter().map(|&r| col[r]).collect(),
                None => col.to_vec(),
            };
            BinMapper::from_sample(sample, max_bins)
        })
        .collect()
}

/// `u8` bins of a matrix, row-major (`bins[row * n_cols + col]`) and optionally also
/// column-major (`cols[col * n_rows + row]`).
///
/// Row-major because histogram building walks the rows of one leaf and needs all of a
/// row's features together (two cache lines for ~100 features); column-major because
/// partitioning a leaf on one feature then reads one byte per row instead of one cache
/// line per row.
#[derive(Debug, Clone)]
pub(crate) struct BinnedMatrix {
    pub(crate) n_rows: usize,
    pub(crate) n_cols: usize,
    pub(crate) bins: Vec<u8>,
    pub(crate) cols: Vec<u8>,
}

impl BinnedMatrix {
    pub(crate) fn new(m: &Matrix, mappers: &[BinMapper], keep_columns: bool) -> Self {
        let n_rows = m.n_rows();
        let n_cols = m.n_cols();
        let mut cols = vec![0u8; n_rows * n_cols];
        if n_rows > 0 {
            cols.par_chunks_mut(n_rows)
                .zip(mappers.par_iter())
                .enumerate()
                .for_each(|(c, (out, mapper))| {
                    for (o, &v) in out.iter_mut().zip(m.column(c)) {
                        *o = mapper.bin(v);
                    }
                });
        }
        let mut bins = vec![0u8; n_rows * n_cols];
        const BLOCK: usize = 1024;
        if n_cols > 0 {
            bins.par_chunks_mut(BLOCK * n_cols)
                .enumerate()
                .for_each(|(bi, out)| {
                    let start = bi * BLOCK;
                    let rows = out.len() / n_cols;
                    for c in 0..n_cols {
                        let col = &cols[c * n_rows + start..c * n_rows + start + rows];
                        for (r, &b) in col.iter().enumerate() {
                            out[r * n_cols + c] = b;
                        }
                    }
                });
        }
        if !keep_columns {
            cols = Vec::new();
        }
        Self {
            n_rows,
            n_cols,
            bins,
            cols,
        }
    }

    #[inline]
    pub(crate) fn row(&self, r: usize) -> &[u8] {
        &self.bins[r * self.n_cols..(r + 1) * self.n_cols]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each_and_thresholds_match_bins() {
        let m = BinMapper::from_sample(vec![3.0, 1.0, 2.0, 2.0, f32::NAN, 1.0], 255);
        assert_eq!(m.upper_bounds, vec![1.5, 2.5, f32::INFINITY]);
        assert_eq!(m.bin(f32::NAN), 0);
        assert_eq!(m.bin(1.0), 1);
        assert_eq!(m.bin(1.5), 1);
        assert_eq!(m.bin(1.6), 2);
        assert_eq!(m.bin(100.0), 3);
        assert_eq!(m.bin(-100.0), 1);
        for v in [-5.0f32, 1.0, 1.5, 2.0, 2.4, 2.6, 7.0] {
            for b in 1..m.upper_bounds.len() {
                assert_eq!(m.bin(v) as usize <= b, v <= m.threshold(b), "v={v} b={b}");
            }
        }
    }

    #[test]
    fn many_values_are_capped_at_max_bins_with_balanced_counts() {
        let vals: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let m = BinMapper::from_sample(vals.clone(), 16);
        assert_eq!(m.upper_bounds.len(), 16);
        let mut counts = [0usize; 17];
        for v in &vals {
            counts[m.bin(*v) as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(
            counts[1..].iter().all(|&c| (500..=800).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn constant_column_has_a_single_value_bin() {
        let m = BinMapper::from_sample(vec![4.0; 10], 255);
        assert_eq!(m.n_bins(), 2);
    }
}
