//! The statistics of a result, from counts SQL made: each variant against the control (lift,
//! the two-proportion z-test, the Wald interval of the difference, the chance to beat
//! control under Beta posteriors) and the sample-ratio check of the split.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
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
}
