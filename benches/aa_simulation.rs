//! A/A and A/B simulation: what peeking does to the false-positive rate.
//!
//! 2,000 simulated experiments, 50 looks each (the daemon looks at every tick), alpha 0.01,
//! judged by the product's own verdict code (`experiment::metric`). Prints the share of A/A
//! experiments that ever reach a significant verdict when peeking with the fixed-horizon
//! p-value and with the always-valid p-value, and the power of both at a true effect of
//! 0.2 standard deviations.
//!
//!     cargo bench --bench aa_simulation

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use rollout::config::{AbAnalysis, Direction, MetricSpec, Sequential, TestKind};
use rollout::experiment::{self, Verdict};
use rollout::stats::Moments;
use rollout::store::PerVariant;

const EXPERIMENTS: usize = 2_000;
const LOOKS: usize = 50;
const PER_ARM_PER_LOOK: u64 = 10;
const ALPHA: f64 = 0.01;

fn config(sequential: Sequential) -> AbAnalysis {
    AbAnalysis {
        alpha: ALPHA,
        min_effect: 0.1,
        min_samples: 100,
        sequential,
        expected_units_per_day: None,
        metrics: vec![],
    }
}

/// Share of experiments whose verdict is ever `wanted` (any significant verdict when `None`).
fn rate(effect: f64, sequential: Sequential, wanted: Option<Verdict>, seed: u64) -> f64 {
    let spec = MetricSpec::new("m", TestKind::WelchT, Direction::Increase);
    let cfg = config(sequential);
    let noise = Normal::new(0.0, 1.0).expect("normal");
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut hits = 0;
    for _ in 0..EXPERIMENTS {
        let mut m = PerVariant::<Moments>::default();
        for _ in 0..LOOKS {
            for _ in 0..PER_ARM_PER_LOOK {
                let (c, t) = (noise.sample(&mut rng), noise.sample(&mut rng) + effect);
                m.control.add(c);
                m.treatment.add(t);
            }
            let v = experiment::metric(&spec, &cfg, &m, None).verdict;
            let hit = match wanted {
                Some(w) => v == w,
                None => matches!(v, Verdict::TreatmentBetter | Verdict::TreatmentWorse),
            };
            if hit {
                hits += 1;
                break;
            }
        }
    }
    hits as f64 / EXPERIMENTS as f64
}

fn main() {
    let start = std::time::Instant::now();
    println!(
        "{EXPERIMENTS} experiments x {LOOKS} looks, {PER_ARM_PER_LOOK} observations per arm per look, alpha {ALPHA}, Welch t"
    );
    println!(
        "{:<44} {:>18} {:>18}",
        "", "fixed-horizon p", "always-valid p"
    );
    let fp_fixed = rate(0.0, Sequential::FixedHorizon, None, 1);
    let fp_seq = rate(0.0, Sequential::AlwaysValid, None, 1);
    println!(
        "{:<44} {:>18.4} {:>18.4}",
        "A/A false-positive rate (peeking every look)", fp_fixed, fp_seq
    );
    let pw_fixed = rate(
        0.2,
        Sequential::FixedHorizon,
        Some(Verdict::TreatmentBetter),
        2,
    );
    let pw_seq = rate(
        0.2,
        Sequential::AlwaysValid,
        Some(Verdict::TreatmentBetter),
        2,
    );
    println!(
        "{:<44} {:>18.4} {:>18.4}",
        "power at a true effect of 0.2 sd", pw_fixed, pw_seq
    );
    println!("({:.1} s)", start.elapsed().as_secs_f64());
    if fp_seq > ALPHA {
        eprintln!("FAIL: the always-valid false-positive rate {fp_seq} exceeds alpha {ALPHA}");
        std::process::exit(1);
    }
}
