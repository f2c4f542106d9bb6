//! Record scores 0–100 from probabilities, by quantile normalisation over the raw scores seen
//! so far, as Elastic's anomaly detection does.
//!
//! The raw score of a record is −log10 of its probability. Its quantile among all raw
//! scores the job has produced is mapped through Elastic's knot points (the top 1% of
//! records score above 50, the top 0.5% above 75). Two deliberate additions:
//!
//! * a prior of [`PRIOR_RECORDS`] pseudo-records distributed as if probabilities were
//!   calibrated (P(raw ≤ r) = 1 − 10^−r), so a job with little history still ranks a
//!   one-in-a-million bucket above a one-in-ten one; and
//! * a cap by absolute surprise ([`CAP_KNOTS`]): whatever its rank, a record needs
//!   probability ≤ 1e-5 to reach 75. Quantiles alone would hand 100 to the largest of a
//!   hundred unremarkable buckets.
//!
//! * a floor by absolute surprise ([`FLOOR_KNOTS`]): whatever else was seen, a record
//!   with probability ≤ 3e-7 scores at least 75. Rank alone lets attacks hide each other:
//!   in a week with many attacks, a one-in-a-hundred-million bucket ranks below the rest
//!   and scores 30.
//!
//! Scores are renormalised whenever they are asked for again ([`Normalizer::score`]), while
//! callers keep the score at detection time as the initial record score.

use serde::{Deserialize, Serialize};

/// Histogram resolution of raw scores.
const BIN_WIDTH: f64 = 0.05;
/// Raw scores at or above `BINS × BIN_WIDTH` share the last bin.
const BINS: usize = 1000;
/// Weight of the calibrated prior, in records.
pub const PRIOR_RECORDS: f64 = 1000.0;
/// Quantile (percent) → score, Elastic's default knot points.
pub const QUANTILE_KNOTS: [(f64, f64); 10] = [
    (0.0, 0.0),
    (70.0, 1.0),
    (85.0, 1.5),
    (90.0, 2.5),
    (95.0, 7.5),
    (97.0, 20.0),
    (99.0, 50.0),
    (99.5, 75.0),
    (99.9, 90.0),
    (100.0, 100.0),
];
/// Raw score (−log10 p) → highest score it may get.
pub const CAP_KNOTS: [(f64, f64); 8] = [
    (0.0, 0.0),
    (1.0, 5.0),
    (2.0, 20.0),
    (3.0, 40.0),
    (4.0, 60.0),
    (5.0, 75.0),
    (7.0, 90.0),
    (10.0, 100.0),
];

/// Raw score (−log10 p) → lowest score it gets, whatever its rank.
pub const FLOOR_KNOTS: [(f64, f64); 6] = [
    (0.0, 0.0),
    (3.0, 0.0),
    (5.0, 40.0),
    (6.5, 75.0),
    (9.0, 90.0),
    (12.0, 100.0),
];

/// The distribution of raw scores one job has produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Normalizer {
    count: u64,
    /// Sparse histogram: (bin, count), bins ascending.
    bins: Vec<(u32, u64)>,
}

fn bin_of(raw: f64) -> (u32, f64) {
    let x = (raw.max(0.0) / BIN_WIDTH).min(BINS as f64 - 1e-9);
    let b = x.floor();
    (b as u32, x - b)
}

fn interpolate(knots: &[(f64, f64)], x: f64) -> f64 {
    let Some(&(x0, y0)) = knots.first() else {
        return 0.0;
    };
    if x <= x0 {
        return y0;
    }
    for w in knots.windows(2) {
        let ((xa, ya), (xb, yb)) = (w[0], w[1]);
        if x <= xb {
            return ya + (yb - ya) * (x - xa) / (xb - xa);
        }
    }
    knots.last().map_or(0.0, |k| k.1)
}

impl Normalizer {
    /// Records seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Add one record's raw score.
    pub fn observe(&mut self, raw: f64) {
        let (b, _) = bin_of(raw);
        self.count += 1;
        match self.bins.binary_search_by_key(&b, |e| e.0) {
            Ok(i) => self.bins[i].1 += 1,
            Err(i) => self.bins.insert(i, (b, 1)),
        }
    }

    /// Quantile of `raw` among the records seen, blended with the calibrated prior.
    pub fn quantile(&self, raw: f64) -> f64 {
        let raw = raw.max(0.0);
        let (b, frac) = bin_of(raw);
        let mut below = 0.0;
        for &(bin, c) in &self.bins {
            if bin < b {
                below += c as f64;
            } else {
                if bin == b {
                    below += c as f64 * frac;
                }
                break;
            }
        }
        let prior = 1.0 - 10f64.powf(-raw);
        (below + PRIOR_RECORDS * prior) / (self.count as f64 + PRIOR_RECORDS)
    }

    /// The record score of `raw` now (0–100).
    pub fn score(&self, raw: f64) -> f64 {
        if !raw.is_finite() || raw <= 0.0 {
            return 0.0;
        }
        let by_rank = interpolate(&QUANTILE_KNOTS, 100.0 * self.quantile(raw));
        by_rank
            .max(interpolate(&FLOOR_KNOTS, raw))
            .min(max_score(raw))
            .clamp(0.0, 100.0)
    }
}

/// The highest score a raw score can ever get, whatever else is seen: callers use it to
/// forget records that can never reach an alert threshold.
pub fn max_score(raw: f64) -> f64 {
    if raw.is_nan() {
        return 0.0;
    }
    interpolate(&CAP_KNOTS, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_history_uses_the_calibrated_prior_and_cap() {
        let n = Normalizer::default();
        assert_eq!(n.score(0.0), 0.0);
        assert!(n.score(1.0) < 5.0);
        assert!(n.score(4.0) < 75.0);
        assert!(n.score(12.0) > 99.0);
    }

    #[test]
    fn scores_fall_as_larger_anomalies_arrive() {
        let mut n = Normalizer::default();
        for i in 0..10_000 {
            n.observe((i % 100) as f64 / 40.0);
        }
        let first = n.score(6.0);
        assert!(first > 75.0, "{first}");
        for _ in 0..500 {
            n.observe(8.0);
        }
        let later = n.score(6.0);
        assert!(later < first, "{later} !< {first}");
        assert!(n.score(9.0) > later);
        assert!(later < 75.0, "{later}");
        assert!(n.score(6.5) >= 75.0, "the floor keeps p = 3e-7 alertable");
    }

    #[test]
    fn score_is_monotone_in_raw() {
        let mut n = Normalizer::default();
        for i in 0..3000 {
            n.observe((i % 37) as f64 / 7.0);
        }
        let mut last = -1.0;
        for i in 0..400 {
            let s = n.score(i as f64 / 20.0);
            assert!(s >= last, "{i}");
            last = s;
        }
    }
}
