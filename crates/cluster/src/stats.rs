//! Small, dependency-free statistics: running moments, a Normal-Inverse-Gamma posterior and
//! Student-t tail probabilities computed in log space (so that extreme bursts get finite,
//! ordered scores instead of underflowing to zero).

use serde::{Deserialize, Serialize};

/// Running weighted count, mean and sum of squared deviations (weighted Welford). Weights
/// let anomalous buckets teach the model less than ordinary ones.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Moments {
    #[serde(with = "crate::exact")]
    pub weight: f64,
    #[serde(with = "crate::exact")]
    pub mean: f64,
    #[serde(with = "crate::exact")]
    pub m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.push_weighted(x, 1.0);
    }

    pub fn push_weighted(&mut self, x: f64, w: f64) {
        if !(w > 0.0 && x.is_finite()) {
            return;
        }
        self.weight += w;
        let d = x - self.mean;
        self.mean += d * w / self.weight;
        self.m2 += w * d * (x - self.mean);
    }

    /// Sample variance, `None` below two observations' worth of weight.
    pub fn variance(&self) -> Option<f64> {
        (self.weight >= 2.0).then(|| self.m2 / (self.weight - 1.0))
    }
}

/// A Normal-Inverse-Gamma prior on the mean and variance of a normal variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NigPrior {
    pub mu: f64,
    pub kappa: f64,
    pub alpha: f64,
    pub beta: f64,
}

/// A Student-t distribution: location, scale, degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    pub loc: f64,
    pub scale: f64,
    pub dof: f64,
}

impl NigPrior {
    /// The prior whose expected variance is `variance` and which weighs like `strength`
    /// observations of the mean.
    pub fn from_population(mean: f64, variance: f64, strength: f64) -> NigPrior {
        // Five degrees of belief in the population variance: a new series' predictive is
        // a t with 10 degrees of freedom, heavier-tailed than a normal but not Cauchy-like.
        let alpha = 5.0;
        NigPrior {
            mu: mean,
            kappa: strength,
            alpha,
            beta: (alpha - 1.0) * variance,
        }
    }

    /// Posterior predictive distribution of the next observation after `data`.
    pub fn predictive(&self, data: &Moments) -> StudentT {
        let n = data.weight;
        let kn = self.kappa + n;
        let mun = (self.kappa * self.mu + n * data.mean) / kn;
        let an = self.alpha + n / 2.0;
        let d = data.mean - self.mu;
        let bn = self.beta + data.m2 / 2.0 + self.kappa * n * d * d / (2.0 * kn);
        StudentT {
            loc: if n > 0.0 { mun } else { self.mu },
            scale: (bn * (kn + 1.0) / (an * kn)).sqrt(),
            dof: 2.0 * an,
        }
    }
}

impl StudentT {
    /// ln P(X ≥ x).
    pub fn ln_sf(&self, x: f64) -> f64 {
        let t = (x - self.loc) / self.scale;
        ln_t_sf(t, self.dof)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln I_x(a, b), the regularised incomplete beta function, given ln x and ln(1 − x).
fn ln_inc_beta(a: f64, b: f64, ln_x: f64, ln_1mx: f64) -> f64 {
    let x = ln_x.exp();
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * ln_x + b * ln_1mx;
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front + beta_cf(a, b, x).ln() - a.ln()
    } else {
        let other = (ln_front + beta_cf(b, a, 1.0 - x).ln() - b.ln()).exp();
        (1.0 - other).max(f64::MIN_POSITIVE).ln()
    }
}

/// ln P(T ≥ t) for Student's t with `dof` degrees of freedom.
pub fn ln_t_sf(t: f64, dof: f64) -> f64 {
    if t.is_nan() {
        return 0.0;
    }
    let t = t.clamp(-1e100, 1e100);
    let upper = |t: f64| {
        // P(T ≥ t) = ½ I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0.
        let denom = (dof + t * t).ln();
        let ln_x = dof.ln() - denom;
        let ln_1mx = (t * t).max(f64::MIN_POSITIVE).ln() - denom;
        ln_inc_beta(dof / 2.0, 0.5, ln_x, ln_1mx) - std::f64::consts::LN_2
    };
    if t >= 0.0 {
        upper(t).min(0.0)
    } else {
        (1.0 - upper(-t).exp()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..20 {
            assert!((ln_gamma(n as f64) - f.ln()).abs() < 1e-10, "{n}");
            f *= n as f64;
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn t_tail_matches_known_values() {
        // Cauchy (dof 1): P(T ≥ 1) = 0.25.
        assert!((ln_t_sf(1.0, 1.0).exp() - 0.25).abs() < 1e-9);
        // dof 2: P(T ≥ t) = ½ (1 − t / sqrt(2 + t²)).
        for t in [0.5, 2.0, 10.0] {
            let want = 0.5 * (1.0 - t / (2.0f64 + t * t).sqrt());
            assert!((ln_t_sf(t, 2.0).exp() - want).abs() < 1e-9, "{t}");
        }
        assert!((ln_t_sf(0.0, 5.0).exp() - 0.5).abs() < 1e-12);
        assert!((ln_t_sf(-1.0, 1.0).exp() - 0.75).abs() < 1e-9);
        // Large dof approaches the normal: P(Z ≥ 3) ≈ 1.35e-3.
        assert!((ln_t_sf(3.0, 1e6).exp() - 1.3499e-3).abs() < 1e-6);
    }

    #[test]
    fn extreme_tails_stay_finite_and_ordered() {
        let mut last = 0.0;
        for t in [5.0, 50.0, 500.0, 1e6, 1e30, 1e200] {
            let l = ln_t_sf(t, 30.0);
            assert!(l.is_finite() && l < last, "{t}: {l}");
            last = l;
        }
    }

    #[test]
    fn posterior_shrinks_towards_data() {
        let prior = NigPrior::from_population(0.0, 1.0, 4.0);
        let mut m = Moments::default();
        assert_eq!(prior.predictive(&m).loc, 0.0);
        for _ in 0..100 {
            m.push(2.0);
        }
        let p = prior.predictive(&m);
        assert!((p.loc - 2.0 * 100.0 / 104.0).abs() < 1e-12);
        assert!(p.scale < 0.5);
    }
}
