//! Count, mean and sum of squared deviations (M2): numerically stable moments, updated one
//! value at a time (Welford), merged and un-merged in batches (Chan et al.), and able to take
//! a value back out (a unit whose value changes is removed, then added with its new value).
//!
//! Kept as count/sum/sum of squares, values near 1e9 ± 1 lose every digit of their variance
//! (the two sums agree in all 16 digits); kept as (n, mean, M2), the deviations are formed
//! first and the variance is exact to rounding.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Moments as stored: `n` values with mean `mean` and sum of squared deviations `m2`.
    /// An empty set (`n = 0`) ignores the other two; a negative or non-finite `m2` (from a
    /// damaged row) is taken as 0.
    pub fn from_parts(n: u64, mean: f64, m2: f64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let m2 = if m2.is_finite() && m2 > 0.0 { m2 } else { 0.0 };
        Moments { n, mean, m2 }
    }

    pub fn from_values(values: &[f64]) -> Moments {
        let mut m = Moments::default();
        for v in values {
            m.add(*v);
        }
        m
    }

    /// Welford's update.
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The inverse of [`add`](Self::add): takes one value that was added back out. Removing
    /// the last value gives the empty set; removing from an empty set does nothing.
    pub fn remove(&mut self, x: f64) {
        match self.n {
            0 => {}
            1 => *self = Moments::default(),
            _ => {
                let n = self.n as f64;
                // In deviations, not sums: n × mean at 1e9 would lose the digits.
                let mean = self.mean - (x - self.mean) / (n - 1.0);
                // M2_n = M2_{n-1} + (x - mean_{n-1}) (x - mean_n)
                self.m2 = (self.m2 - (x - mean) * (x - self.mean)).max(0.0);
                self.mean = mean;
                self.n -= 1;
                if self.n == 1 {
                    // One value has no spread: drop the rounding residue of the removals.
                    self.m2 = 0.0;
                }
            }
        }
    }

    /// Chan et al.'s parallel merge: the moments of the union of two disjoint sets.
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.n += other.n;
    }

    /// The inverse of [`merge`](Self::merge): the moments of this set without `other`, a
    /// subset of it. Removing everything (or more) gives the empty set.
    pub fn unmerge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if other.n >= self.n {
            *self = Moments::default();
            return;
        }
        let (n, nb) = (self.n as f64, other.n as f64);
        let na = n - nb;
        let mean_a = self.mean - (other.mean - self.mean) * nb / na;
        let delta = other.mean - mean_a;
        self.m2 = (self.m2 - other.m2 - delta * delta * na * nb / n).max(0.0);
        self.mean = mean_a;
        self.n -= other.n;
        if self.n == 1 {
            self.m2 = 0.0;
        }
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// The sum of squared deviations from the mean.
    pub fn m2(&self) -> f64 {
        self.m2
    }

    /// The sum of the values (`n × mean`).
    pub fn sum(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.mean * self.n as f64
        }
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }

    /// The sample variance (n - 1 in the denominator); never negative.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        (self.m2 / (self.n as f64 - 1.0)).max(0.0)
    }

    pub fn sd(&self) -> f64 {
        self.variance().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-9 * scale.max(1.0)
    }

    /// Equal up to rounding. A running mean near 1e9 is only known to its ulp (~1.2e-7), and
    /// each update of M2 multiplies a deviation (≤ `spread`) by that error, so after `ops`
    /// updates M2 may differ by about ulp(mean) × spread × ops whatever the algorithm; the
    /// relative 1e-9 alone holds for small offsets only.
    fn same(a: &Moments, b: &Moments, spread: f64, ops: usize) -> bool {
        let ulp = f64::EPSILON * b.mean.abs();
        a.n == b.n
            && (a.n == 0
                || (close(a.mean, b.mean, b.mean.abs() + spread)
                    && (a.m2 - b.m2).abs()
                        <= 1e-9 * (b.m2 + spread * spread * b.n as f64).max(1.0)
                            + 4.0 * ulp * spread * ops as f64))
    }

    #[test]
    fn values_near_1e9_keep_their_variance() {
        // The variance of 1e9 + {-1, 0, 1, 2} is 5/3 exactly; sums of squares give garbage.
        let v: Vec<f64> = [-1.0, 0.0, 1.0, 2.0].iter().map(|d| 1e9 + d).collect();
        let m = Moments::from_values(&v);
        assert!((m.variance() - 5.0 / 3.0).abs() < 1e-9, "{}", m.variance());
        assert_eq!(m.mean(), 1e9 + 0.5);
    }

    #[test]
    fn removing_every_value_empties() {
        let mut m = Moments::from_values(&[3.0, 4.0]);
        m.remove(3.0);
        assert_eq!((m.n(), m.mean(), m.m2()), (1, 4.0, 0.0));
        m.remove(4.0);
        assert_eq!(m, Moments::default());
        m.remove(1.0);
        assert_eq!(m, Moments::default());
    }

    /// Kept and dropped values of one metric: one offset (small or huge magnitudes) for
    /// both. Removing values far larger than what remains (1e9 from values near 0) cannot
    /// be exact in binary64 (the residue is ~ε × 1e18 in M2): a metric's values share a
    /// scale, and `max_abs` bounds them at ingest.
    fn values() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (
            prop_oneof![Just(0.0), Just(1e6), Just(1e9), Just(-5e3)],
            prop::collection::vec(-1e3f64..1e3, 0..40),
            prop::collection::vec(-1e3f64..1e3, 0..40),
        )
            .prop_map(|(offset, k, d)| {
                (
                    k.into_iter().map(|x| offset + x).collect(),
                    d.into_iter().map(|x| offset + x).collect(),
                )
            })
    }

    proptest! {
        /// Adding in any order, merging any split and removing any subset all agree with the
        /// batch computation of what remains.
        #[test]
        fn add_remove_merge_in_any_order_equal_batch(
            (kept, dropped) in values(),
            split in 0usize..40,
            seed in any::<u64>(),
        ) {
            let spread = 1e3;
            let ops = kept.len() + 2 * dropped.len();
            let batch = Moments::from_values(&kept);

            // Add everything interleaved, then remove the dropped values in reverse order.
            let mut all: Vec<(bool, f64)> = kept.iter().map(|v| (true, *v))
                .chain(dropped.iter().map(|v| (false, *v))).collect();
            let len = all.len().max(1);
            all.rotate_left((seed as usize) % len);
            let mut m = Moments::default();
            for (_, v) in &all {
                m.add(*v);
            }
            for (keep, v) in all.iter().rev() {
                if !keep {
                    m.remove(*v);
                }
            }
            prop_assert!(same(&m, &batch, spread, ops), "{m:?} vs {batch:?}");

            // Merge two halves of the kept values.
            let cut = split.min(kept.len());
            let mut a = Moments::from_values(&kept[..cut]);
            a.merge(&Moments::from_values(&kept[cut..]));
            prop_assert!(same(&a, &batch, spread, ops), "{a:?} vs {batch:?}");

            // Un-merge the dropped values from the moments of everything.
            let mut u = Moments::from_values(&[kept.clone(), dropped.clone()].concat());
            u.unmerge(&Moments::from_values(&dropped));
            prop_assert!(same(&u, &batch, spread, ops), "{u:?} vs {batch:?}");
        }
    }
}
