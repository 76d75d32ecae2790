//! The statistics of a result, from counts and sums SQL made: each variant against the
//! control (lift, the two-proportion z-test, the Wald interval of the difference, the chance
//! to beat control under Beta posteriors; Welch's t-test for means), the sample-ratio check of
//! the split, intervals that stay valid however often they are looked at (mSPRT), CUPED, and
//! the participants an experiment needs.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::ln_beta;

/// Below this p-value the split is broken and the result not to be trusted.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Participants and conversions of one arm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arm {
    pub participants: i64,
    pub conversions: i64,
}

impl Arm {
    pub fn rate(self) -> Option<f64> {
        (self.participants > 0).then(|| self.conversions as f64 / self.participants as f64)
    }
}

/// A variant against the control; `None` where the data cannot say (an empty arm, a
/// control that never converts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub lift: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    pub chance_to_beat_control: Option<f64>,
    /// The always-valid p-value and confidence sequence of the difference (`sequential`).
    pub sequential: Option<Sequential>,
}

pub fn compare(control: Arm, variant: Arm) -> Comparison {
    let (Some(p0), Some(p1)) = (control.rate(), variant.rate()) else { return Comparison::default() };
    let (n0, n1) = (control.participants as f64, variant.participants as f64);
    let normal = Normal::standard();
    let diff = p1 - p0;

    // The z-test under the null of equal rates, with the pooled standard error.
    let pooled = (control.conversions + variant.conversions) as f64 / (n0 + n1);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)).sqrt();
    let p_value = if se_pooled > 0.0 {
        Some(2.0 * normal.sf((diff / se_pooled).abs()))
    } else {
        // Both arms all converted or none did: no difference to test.
        (diff == 0.0).then_some(1.0)
    };

    // The interval of the difference, with the unpooled standard error.
    let se = (p0 * (1.0 - p0) / n0 + p1 * (1.0 - p1) / n1).sqrt();
    let z = normal.inverse_cdf(0.975);
    Comparison {
        lift: (p0 > 0.0).then(|| diff / p0),
        ci95: Some([diff - z * se, diff + z * se]),
        p_value,
        chance_to_beat_control: Some(chance_to_beat(control, variant)),
        sequential: sequential(diff, se * se, MIXING_SHARE * MIXING_SHARE * pooled * (1.0 - pooled)),
    }
}

/// P(rate of `variant` > rate of `control`) with each rate's posterior Beta(1 + conversions,
/// 1 + failures) from a uniform prior, in closed form (Evan Miller, "Formulas for Bayesian
/// A/B testing"): a sum over the smaller arm's conversions, each term in logs.
pub fn chance_to_beat(control: Arm, variant: Arm) -> f64 {
    let beta = |arm: Arm| (1.0 + arm.conversions as f64, 1.0 + (arm.participants - arm.conversions) as f64);
    // P(B > A) = Σ_{i<αB} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA)).
    let b_beats_a = |(a_a, b_a): (f64, f64), (a_b, b_b): (f64, f64)| -> f64 {
        let constant = ln_beta(a_a, b_a);
        (0..a_b as u64)
            .map(|i| {
                let i = i as f64;
                (ln_beta(a_a + i, b_a + b_b) - (b_b + i).ln() - ln_beta(1.0 + i, b_b) - constant).exp()
            })
            .sum()
    };
    let (a, b) = (beta(control), beta(variant));
    // Ties have probability 0, so the sum over whichever arm converted less does.
    let p = if variant.conversions <= control.conversions { b_beats_a(a, b) } else { 1.0 - b_beats_a(b, a) };
    p.clamp(0.0, 1.0)
}

/// Pearson's chi-square of the participants per variant against the planned shares.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleRatio {
    #[schema(minimum = 0)]
    pub chi_square: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub p_value: f64,
    /// `pValue` is below 0.001: the split is broken and the result not to be trusted.
    pub mismatch: bool,
}

pub fn sample_ratio(participants: &[i64], shares: &[f64]) -> SampleRatio {
    let total: i64 = participants.iter().sum();
    if total == 0 || participants.len() < 2 {
        return SampleRatio { chi_square: 0.0, p_value: 1.0, mismatch: false };
    }
    let chi_square: f64 = participants
        .iter()
        .zip(shares)
        .map(|(&observed, &share)| {
            let expected = total as f64 * share;
            (observed as f64 - expected).powi(2) / expected
        })
        .sum();
    let dof = (participants.len() - 1) as f64;
    // At least one degree of freedom (two variants or more), so the distribution exists.
    let p_value = ChiSquared::new(dof).map_or(1.0, |chi| chi.sf(chi_square));
    SampleRatio { chi_square, p_value, mismatch: p_value < SRM_THRESHOLD }
}

/// One arm of a metric measured per participant (a count or a sum): how many, their mean and
/// the sample variance (n − 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub variance: f64,
}

impl Moments {
    /// From what SQL sums: participants, Σy and Σy². `None` below two participants.
    pub fn from_sums(n: i64, sum: f64, sum_of_squares: f64) -> Option<Moments> {
        (n >= 2).then(|| {
            let n = n as f64;
            let mean = sum / n;
            // Σ(y − ȳ)² = Σy² − nȳ², never below 0 for rounding.
            Moments { n, mean, variance: ((sum_of_squares - n * mean * mean) / (n - 1.0)).max(0.0) }
        })
    }

    /// The variance of the mean.
    fn variance_of_mean(self) -> f64 {
        self.variance / self.n
    }
}

/// A variant's mean against the control's by Welch's t-test: the difference, its 95 % interval
/// and p-value with the Welch–Satterthwaite degrees of freedom; `None` where the data cannot
/// say (no variance in either arm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeanComparison {
    pub difference: Option<f64>,
    pub lift: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub p_value: Option<f64>,
}

pub fn welch(control: Moments, variant: Moments) -> MeanComparison {
    let (v0, v1) = (control.variance_of_mean(), variant.variance_of_mean());
    let se = (v0 + v1).sqrt();
    let difference = variant.mean - control.mean;
    let lift = (control.mean != 0.0).then(|| difference / control.mean);
    if se == 0.0 {
        return MeanComparison { difference: Some(difference), lift, ..MeanComparison::default() };
    }
    let df = (v0 + v1).powi(2) / (v0 * v0 / (control.n - 1.0) + v1 * v1 / (variant.n - 1.0));
    let Ok(t) = StudentsT::new(0.0, 1.0, df) else { return MeanComparison::default() };
    let half = t.inverse_cdf(0.975) * se;
    MeanComparison {
        difference: Some(difference),
        lift,
        ci95: Some([difference - half, difference + half]),
        p_value: Some(2.0 * t.sf((difference / se).abs())),
    }
}

/// The mixing distribution's standard deviation for [`sequential`], as a share of the
/// metric's standard deviation per participant: the effects it detects fastest are around a
/// tenth of a standard deviation (a conversion rate of 10 % moving by about 3 points). Any
/// choice keeps the guarantee; this one only sets where the test is most powerful.
pub const MIXING_SHARE: f64 = 0.1;

/// Always-valid inference on a difference: a p-value and a 95 % confidence sequence that stay
/// valid however often they are looked at, and whenever one stops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sequential {
    #[schema(minimum = 0, maximum = 1)]
    pub p_value: f64,
    pub ci95: [f64; 2],
}

/// The mixture sequential probability ratio test (mSPRT) with a normal mixture, for a
/// difference `estimate` whose variance is `variance` (σ², from the data: the asymptotic
/// version), against 0 — Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests: Why It
/// Matters, and What to Do About It" (KDD 2017; Operations Research 2022), eq. (11)–(12):
///
/// Λ = √(σ² / (σ² + τ²)) · exp(τ² θ̂² / (2σ²(σ² + τ²))), the p-value min(1, 1/Λ), and the
/// confidence sequence θ̂ ± √(σ²(σ² + τ²)/τ² · (2 ln(1/α) + ln((σ² + τ²)/σ²))), where τ² is
/// the mixing variance. Under the null Λ is a martingale, so by Ville's inequality it exceeds
/// 1/α at any look with probability at most α. `None` without variance.
pub fn sequential(estimate: f64, variance: f64, mixing_variance: f64) -> Option<Sequential> {
    const ALPHA: f64 = 0.05;
    let (s2, tau2) = (variance, mixing_variance);
    if !(s2 > 0.0 && tau2 > 0.0 && estimate.is_finite()) {
        return None;
    }
    // In logs: exp overflows long before the p-value stops mattering.
    let ln_lambda = 0.5 * (s2 / (s2 + tau2)).ln() + tau2 * estimate * estimate / (2.0 * s2 * (s2 + tau2));
    let half = (s2 * (s2 + tau2) / tau2 * (2.0 * (1.0 / ALPHA).ln() + ((s2 + tau2) / s2).ln())).sqrt();
    Some(Sequential { p_value: (-ln_lambda).exp().min(1.0), ci95: [estimate - half, estimate + half] })
}

/// What SQL sums for CUPED, per arm: the metric `y` after exposure and the same metric `x` in
/// the window before it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairedSums {
    pub n: i64,
    pub y: f64,
    pub yy: f64,
    pub x: f64,
    pub xx: f64,
    pub xy: f64,
}

/// The arms adjusted by CUPED, and how much variance the adjustment took out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cuped {
    /// θ = cov(x, y) / var(x), pooled over every arm.
    pub theta: f64,
    pub control: Moments,
    pub variant: Moments,
    /// 1 − var(adjusted difference) / var(difference): the share of the variance removed.
    pub variance_reduction: f64,
}

/// CUPED (Deng, Xu, Kohavi and Walker, "Improving the Sensitivity of Online Controlled
/// Experiments by Utilizing Pre-Experiment Data", WSDM 2013): each participant's y becomes
/// y − θ(x − x̄), with θ and x̄ over all participants of the two arms. The adjusted means and
/// variances come from the sums: mean(y) − θ(mean(x) − x̄), and var(y) − 2θ cov(x, y) + θ² var(x)
/// within the arm. `None` when the covariate does not vary or an arm has fewer than two.
pub fn cuped(control: PairedSums, variant: PairedSums) -> Option<Cuped> {
    let n = (control.n + variant.n) as f64;
    let (sx, sy) = (control.x + variant.x, control.y + variant.y);
    let covariance = (control.xy + variant.xy - sx * sy / n) / (n - 1.0);
    let variance_x = (control.xx + variant.xx - sx * sx / n) / (n - 1.0);
    // NaN (no participants) fails the comparison too.
    if variance_x.is_nan() || variance_x <= 0.0 || control.n < 2 || variant.n < 2 {
        return None;
    }
    let theta = covariance / variance_x;
    let x_bar = sx / n;
    let adjust = |a: PairedSums| {
        let m = a.n as f64;
        let (mx, my) = (a.x / m, a.y / m);
        let var_y = (a.yy - m * my * my) / (m - 1.0);
        let var_x = (a.xx - m * mx * mx) / (m - 1.0);
        let cov = (a.xy - m * mx * my) / (m - 1.0);
        let plain = Moments { n: m, mean: my, variance: var_y.max(0.0) };
        let adjusted = Moments {
            n: m,
            mean: my - theta * (mx - x_bar),
            variance: (var_y - 2.0 * theta * cov + theta * theta * var_x).max(0.0),
        };
        (plain, adjusted)
    };
    let ((c, control_adjusted), (v, variant_adjusted)) = (adjust(control), adjust(variant));
    let before = c.variance_of_mean() + v.variance_of_mean();
    let after = control_adjusted.variance_of_mean() + variant_adjusted.variance_of_mean();
    Some(Cuped {
        theta,
        control: control_adjusted,
        variant: variant_adjusted,
        variance_reduction: if before > 0.0 { 1.0 - after / before } else { 0.0 },
    })
}

/// What the metric is before the change: a rate, or a mean with its standard deviation per
/// participant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    Rate(f64),
    Mean { mean: f64, std_dev: f64 },
}

/// Participants each variant needs to detect a relative change of `mde` (0.05: 5 % up or
/// down) with a two-sided test at `alpha` and the given `power`, comparing each of
/// `variants − 1` treatments with the control (Bonferroni: α / (variants − 1) each). The
/// normal approximation with each arm's own variance:
/// n = (z₁₋α/2 + z_power)² (σ₀² + σ₁²) / δ², where δ = baseline · mde, σ² = p(1 − p) for a
/// rate and the given standard deviation squared for a mean. `None` when the change leaves a
/// rate outside (0, 1) or is 0.
pub fn participants_needed(baseline: Baseline, mde: f64, alpha: f64, power: f64, variants: u32) -> Option<f64> {
    let normal = Normal::standard();
    let comparisons = f64::from(variants.max(2) - 1);
    let z = normal.inverse_cdf(1.0 - alpha / comparisons / 2.0) + normal.inverse_cdf(power);
    let (delta, variance) = match baseline {
        Baseline::Rate(p0) => {
            let p1 = p0 * (1.0 + mde);
            if !(p1 > 0.0 && p1 < 1.0) {
                return None;
            }
            (p1 - p0, p0 * (1.0 - p0) + p1 * (1.0 - p1))
        }
        Baseline::Mean { mean, std_dev } => (mean * mde, 2.0 * std_dev * std_dev),
    };
    (delta != 0.0 && delta.is_finite()).then(|| z * z * variance / (delta * delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(participants: i64, conversions: i64) -> Arm {
        Arm { participants, conversions }
    }

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    /// By hand: p₀ = 0.10, p₁ = 0.13; pooled p = 0.115, SE = √(0.115·0.885·(2/1000)) =
    /// 0.014267, z = 2.1027, p = 2·(1 − Φ(2.1027)) = 0.0355; unpooled SE =
    /// √(0.09/1000 + 0.1131/1000) = 0.014251, 0.03 ± 1.96·0.014251 = [0.0021, 0.0579].
    #[test]
    fn the_textbook_example() {
        let c = compare(arm(1000, 100), arm(1000, 130));
        assert!(close(c.lift.unwrap(), 0.30, 1e-9), "{c:?}");
        assert!(close(c.p_value.unwrap(), 0.0355, 0.0005), "{c:?}");
        let [low, high] = c.ci95.unwrap();
        assert!(close(low, 0.0021, 0.0001) && close(high, 0.0579, 0.0001), "{c:?}");
        // The posteriors' difference is near normal here: Φ(0.03 / 0.01425) ≈ 0.982.
        assert!(close(c.chance_to_beat_control.unwrap(), 0.982, 0.003), "{c:?}");
    }

    #[test]
    fn chance_to_beat_is_symmetric_and_even_for_equal_arms() {
        assert!(close(chance_to_beat(arm(1, 0), arm(1, 0)), 0.5, 1e-12));
        assert!(close(chance_to_beat(arm(500, 40), arm(500, 40)), 0.5, 1e-9));
        let ab = chance_to_beat(arm(800, 70), arm(700, 75));
        let ba = chance_to_beat(arm(700, 75), arm(800, 70));
        assert!(close(ab + ba, 1.0, 1e-9), "{ab} + {ba}");
        // Beta(2,1) against Beta(1,2): P = 5/6, worked out by integrating 2x·(1 − (1−x)²).
        assert!(close(chance_to_beat(arm(1, 0), arm(1, 1)), 5.0 / 6.0, 1e-12));
    }

    #[test]
    fn undefined_comparisons_are_null_not_nan() {
        assert_eq!(compare(arm(0, 0), arm(10, 1)), Comparison::default());
        let zero_control = compare(arm(10, 0), arm(10, 2));
        assert_eq!(zero_control.lift, None);
        assert!(zero_control.p_value.is_some());
        assert_eq!(compare(arm(10, 0), arm(10, 0)).p_value, Some(1.0));
    }

    /// 1000 vs 800 at 50/50: expected 900 each, χ² = 2·100²/900 = 22.2, p ≈ 2.4e-6.
    /// 1000 vs 990: χ² = 2·5²/995 = 0.050, p ≈ 0.82.
    #[test]
    fn sample_ratio_mismatch() {
        let broken = sample_ratio(&[1000, 800], &[0.5, 0.5]);
        assert!(close(broken.chi_square, 22.222, 0.001) && broken.mismatch, "{broken:?}");
        assert!(broken.p_value < 1e-5);
        let fine = sample_ratio(&[1000, 990], &[0.5, 0.5]);
        assert!(close(fine.chi_square, 0.0503, 0.0001) && !fine.mismatch, "{fine:?}");
        assert!(close(fine.p_value, 0.8228, 0.001), "{fine:?}");
        assert!(!sample_ratio(&[0, 0], &[0.5, 0.5]).mismatch);
    }

    /// scipy 1.17: stats.ttest_ind_from_stats(55.9, 21.7, 380, 52.3, 18.4, 400,
    /// equal_var=False) → t = 2.4928068859176706, p = 0.012890176991128597; the Welch df
    /// 743.8972455761701, and 3.6 ± stats.t.ppf(0.975, df)·se = [0.7648950885260355,
    /// 6.435104911473967].
    #[test]
    fn welch_matches_scipy() {
        let m = |n: f64, mean: f64, sd: f64| Moments { n, mean, variance: sd * sd };
        let c = welch(m(400.0, 52.3, 18.4), m(380.0, 55.9, 21.7));
        assert!(close(c.p_value.unwrap(), 0.012890176991128597, 1e-12), "{c:?}");
        let [low, high] = c.ci95.unwrap();
        assert!(close(low, 0.7648950885260355, 1e-9) && close(high, 6.435104911473967, 1e-9), "{c:?}");
        assert!(close(c.lift.unwrap(), 3.6 / 52.3, 1e-12));
        // From sums as SQL gives them: 1, 2, 3, 4 → mean 2.5, variance 5/3.
        assert_eq!(Moments::from_sums(4, 10.0, 30.0), Some(Moments { n: 4.0, mean: 2.5, variance: 5.0 / 3.0 }));
        assert_eq!(Moments::from_sums(1, 3.0, 9.0), None);
        assert_eq!(welch(m(10.0, 1.0, 0.0), m(10.0, 1.0, 0.0)).p_value, None);
    }

    /// The closed form against the definition: scipy.integrate.quad of
    /// N(θ̂; θ, σ) / N(θ̂; 0, σ) · N(θ; 0, τ) over θ, with θ̂ = 0.02, σ² = 1e-4, τ² = 4e-4, gives
    /// 1/Λ = 0.45145433865655915; the confidence sequence's ends, where the same integral
    /// centred on θ₀ equals 1/0.05 (optimize.brentq), are -0.0108238999388909 and
    /// 0.05082389993889092.
    #[test]
    fn the_sequential_bounds_match_the_mixture_integral() {
        let s = sequential(0.02, 1e-4, 4e-4).unwrap();
        assert!(close(s.p_value, 0.45145433865655915, 1e-12), "{s:?}");
        assert!(close(s.ci95[0], -0.0108238999388909, 1e-12) && close(s.ci95[1], 0.05082389993889092, 1e-12), "{s:?}");
        // Far from 0 the p-value is tiny, not NaN; without variance there is nothing.
        assert!(sequential(1.0, 1e-6, 4e-4).unwrap().p_value < 1e-100);
        assert_eq!(sequential(0.02, 0.0, 4e-4), None);
    }

    /// numpy/scipy on the participants themselves: x (before) and y (after),
    /// control x = [10, 12, 9, 15, 11, 8, 14, 13], y = [11, 14, 9, 16, 12, 9, 15, 15];
    /// variant x = [9, 13, 10, 16, 12, 7, 15, 11, 10], y = [12, 15, 12, 18, 14, 8, 18, 13, 12].
    /// θ = np.cov(X, Y)[0, 1] / np.var(X, ddof=1) = 1.0907608695652178 over both arms; each
    /// y − θ(x − X̄), then stats.ttest_ind(equal_var=False): difference 0.991153381642512, 95 %
    /// [0.3993295855386657, 1.5829771777463582], p = 0.002868313749629901; the variance of the
    /// difference 96.309477 % lower than unadjusted (0.9630947734126928).
    #[test]
    fn cuped_matches_numpy() {
        let sums = |x: &[f64], y: &[f64]| PairedSums {
            n: x.len() as i64,
            y: y.iter().sum(),
            yy: y.iter().map(|v| v * v).sum(),
            x: x.iter().sum(),
            xx: x.iter().map(|v| v * v).sum(),
            xy: x.iter().zip(y).map(|(a, b)| a * b).sum(),
        };
        let control = sums(&[10., 12., 9., 15., 11., 8., 14., 13.], &[11., 14., 9., 16., 12., 9., 15., 15.]);
        let variant = sums(&[9., 13., 10., 16., 12., 7., 15., 11., 10.], &[12., 15., 12., 18., 14., 8., 18., 13., 12.]);
        let c = cuped(control, variant).unwrap();
        assert!(close(c.theta, 1.0907608695652178, 1e-12), "{c:?}");
        assert!(close(c.variance_reduction, 0.9630947734126928, 1e-12), "{c:?}");
        let w = welch(c.control, c.variant);
        assert!(close(w.difference.unwrap(), 0.991153381642512, 1e-12), "{w:?}");
        assert!(close(w.p_value.unwrap(), 0.002868313749629901, 1e-10), "{w:?}");
        let [low, high] = w.ci95.unwrap();
        assert!(close(low, 0.3993295855386657, 1e-10) && close(high, 1.5829771777463582, 1e-10), "{w:?}");
        // A covariate that never varies (every x is 1) adjusts nothing.
        assert_eq!(cuped(PairedSums { x: 8.0, xx: 8.0, ..control }, PairedSums { x: 9.0, xx: 9.0, ..variant }), None);
    }

    /// A mean of 100, sd 20, 5 % up (δ/σ = 0.25): scipy's (norm.ppf(0.975) + norm.ppf(0.8))² ·
    /// 2 · 20² / 5² = 251.16415149917083; statsmodels 0.15's NormalIndPower().solve_power(
    /// effect_size=0.25, alpha=0.05, power=0.8) = 251.16353630180953, lower by 0.0006 because it
    /// also counts rejections in the far tail. A rate of 10 % to 11 %:
    /// (norm.ppf(0.975) + norm.ppf(0.8))² (0.1·0.9 + 0.11·0.89) / 0.01² = 14748.045020841953;
    /// with three variants, α/2 each: norm.ppf(1 − 0.0125) → 17859.96404422486.
    #[test]
    fn participants_needed_match_statsmodels() {
        let mean = participants_needed(Baseline::Mean { mean: 100.0, std_dev: 20.0 }, 0.05, 0.05, 0.8, 2).unwrap();
        assert!(close(mean, 251.16415149917083, 1e-9), "{mean}");
        assert!(close(mean, 251.16353630180953, 1e-3), "{mean}");
        let rate = participants_needed(Baseline::Rate(0.10), 0.10, 0.05, 0.8, 2).unwrap();
        assert!(close(rate, 14748.045020841953, 1e-6), "{rate}");
        let three = participants_needed(Baseline::Rate(0.10), 0.10, 0.05, 0.8, 3).unwrap();
        assert!(close(three, 17859.96404422486, 1e-6), "{three}");
        assert_eq!(participants_needed(Baseline::Rate(0.6), 1.0, 0.05, 0.8, 2), None, "a rate past 100 %");
        assert_eq!(participants_needed(Baseline::Rate(0.1), 0.0, 0.05, 0.8, 2), None);
    }

    /// 1,000 A/A experiments (both arms convert at 10 %), 200 new participants an arm a day,
    /// looked at every day for 14 days, seeded: stopping at the first fixed-horizon p < 0.05
    /// declares a difference in far more than 5 % of them, the sequential p-value in at most
    /// 5 % (plus three standard errors of a 5 % rate over 1,000: 0.021).
    #[test]
    fn peeking_breaks_the_fixed_test_and_not_the_sequential_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(20261208);
        let (mut fixed, mut sequential_hits) = (0, 0);
        for _ in 0..1000 {
            let (mut control, mut variant) = (arm(0, 0), arm(0, 0));
            let (mut fixed_hit, mut sequential_hit) = (false, false);
            for _day in 0..14 {
                for a in [&mut control, &mut variant] {
                    a.participants += 200;
                    a.conversions += (0..200).filter(|_| rng.random::<f64>() < 0.10).count() as i64;
                }
                let c = compare(control, variant);
                fixed_hit |= c.p_value.is_some_and(|p| p < 0.05);
                sequential_hit |= c.sequential.is_some_and(|s| s.p_value < 0.05);
            }
            fixed += usize::from(fixed_hit);
            sequential_hits += usize::from(sequential_hit);
        }
        let (fixed, sequential_rate) = (fixed as f64 / 1000.0, sequential_hits as f64 / 1000.0);
        eprintln!("false positives over 14 daily looks: fixed-horizon {fixed}, sequential {sequential_rate}");
        assert!(fixed > 0.15, "fixed-horizon with daily peeking: {fixed}");
        assert!(sequential_rate <= 0.05 + 0.021, "sequential: {sequential_rate}");
    }
}
