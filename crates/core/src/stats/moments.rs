//! Count, sum and sum of squares: what the store maintains per (rollout, metric, variant).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    pub fn from_values(values: &[f64]) -> Moments {
        values.iter().fold(Moments::default(), |m, v| Moments {
            n: m.n + 1,
            sum: m.sum + v,
            sum_sq: m.sum_sq + v * v,
        })
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }

    /// The sample variance (n - 1 in the denominator); never negative.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }

    pub fn sd(&self) -> f64 {
        self.variance().sqrt()
    }
}
