//! A/A and A/B simulation of the A/B stage's designs, judged by the product's own analysis
//! (`AbPlan::analyze`, with its memory carried from tick to tick as the daemon does).
//!
//! The repository plan's horizon (rollout.yaml): 10 % treatment, 14 days, 200 units a day,
//! alpha 0.01, min_effect 0.1, min_samples 100, 14 looks (one per day). The analysis runs
//! four times a day (the daemon runs it at every tick; only looks can change a verdict).
//! Side by side: the group-sequential design, the mixture SPRT tuned for the planned sample,
//! and one fixed-horizon look at the end. Then: clustered units (40 observations per unit,
//! intra-unit correlation 0.3, analysed on unit means), proportions (5 % events, 10 %
//! treatment, 8 looks), and the sequential SRM test over 10,000 looks of healthy
//! experiments.
//!
//!     cargo bench --bench aa_simulation            # EXPERIMENTS=1000 by default
//!     ROLLOUT_AA_EXPERIMENTS=4000 cargo bench --bench aa_simulation

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use rollout::config::{parse, TestKind};
use rollout::experiment::{
    self, AbPlan, AnalysisMemory, Design, Exposure, MetricData, StageClock, Verdict,
};
use rollout::stats::Moments;
use rollout::store::PerVariant;

const ALPHA: f64 = 0.01;
const DAYS: i64 = 14;
const UNITS_PER_DAY: u64 = 200;
const TICKS_PER_DAY: u64 = 4;

fn experiments() -> usize {
    std::env::var("ROLLOUT_AA_EXPERIMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// The repository plan's A/B stage, with `test`, `looks` and the design chosen.
fn ab_plan(test: TestKind, looks: u32, design: Design) -> AbPlan {
    let yaml = format!(
        r#"
rollouts:
  - name: sim
    flag_prefix: SIM_
    seed: 1
    stages:
      - ab_test:
          percentage: 10
          duration: {DAYS}d
          alpha: {ALPHA}
          min_effect: 0.1
          min_samples: 100
          sequential: {}
          looks: {looks}
          expected_units_per_day: {UNITS_PER_DAY}
          metrics: [ {{ name: m, test: {}, direction: increase }} ]
      - full: {{}}
"#,
        design != Design::FixedHorizon,
        test.as_str()
    );
    let cfg = parse("sim.yaml", &yaml).expect("valid config").config;
    let mut plan = experiment::plan(&cfg.rollouts[0], None).expect("an A/B stage");
    plan.design = design;
    plan
}

/// How a unit's value is drawn.
#[derive(Clone, Copy)]
enum Shape {
    /// One N(effect, 1) value per treatment unit.
    Normal,
    /// 40 observations per unit, intra-unit correlation 0.3: unit mean of
    /// √0.3·u + √0.7·e_i with u, e_i standard normal.
    Clustered,
    /// 0/1 with probability `p` (plus the effect in treatment).
    Proportion(f64),
}

struct Sim {
    moments: PerVariant<Moments>,
    events: PerVariant<u64>,
    units: PerVariant<u64>,
}

fn draw(shape: Shape, effect: f64, rng: &mut ChaCha20Rng) -> f64 {
    let z = Normal::new(0.0, 1.0).expect("normal");
    match shape {
        Shape::Normal => z.sample(rng) + effect,
        Shape::Clustered => {
            let u = z.sample(rng) * 0.3f64.sqrt();
            let mean_e: f64 = (0..40).map(|_| z.sample(rng)).sum::<f64>() / 40.0;
            u + 0.7f64.sqrt() * mean_e + effect
        }
        Shape::Proportion(p) => f64::from(rng.random::<f64>() < p + effect),
    }
}

/// Whether one experiment ever reaches `wanted` (any significant verdict when `None`).
fn run(
    plan: &AbPlan,
    shape: Shape,
    effect: f64,
    wanted: Option<Verdict>,
    rng: &mut ChaCha20Rng,
) -> bool {
    let start = DateTime::<Utc>::UNIX_EPOCH;
    let mut sim = Sim {
        moments: PerVariant::default(),
        events: PerVariant::default(),
        units: PerVariant::default(),
    };
    let mut memory = AnalysisMemory::default();
    let per_tick = UNITS_PER_DAY / TICKS_PER_DAY;
    let share = plan.percentage.get() / 100.0;
    for tick in 1..=(DAYS as u64 * TICKS_PER_DAY) {
        for _ in 0..per_tick {
            let treated = rng.random::<f64>() < share;
            let v = draw(shape, if treated { effect } else { 0.0 }, rng);
            let (m, e, u) = if treated {
                (
                    &mut sim.moments.treatment,
                    &mut sim.events.treatment,
                    &mut sim.units.treatment,
                )
            } else {
                (
                    &mut sim.moments.control,
                    &mut sim.events.control,
                    &mut sim.units.control,
                )
            };
            m.add(v);
            *e += u64::from(v != 0.0);
            *u += 1;
        }
        let data = [MetricData {
            moments: sim.moments,
            observations: sim.units,
            events: sim.events,
            ranks: None,
        }];
        let exposure = Exposure {
            units: sim.units,
            multiple_exposures: 0,
        };
        let elapsed = Duration::minutes((tick * 24 * 60 / TICKS_PER_DAY) as i64);
        let clock = StageClock {
            elapsed,
            duration: Duration::days(DAYS),
        };
        let (a, next) = plan.analyze("sim", &data, &exposure, &clock, &memory, start + elapsed);
        memory = next;
        let v = a.verdict;
        let hit = match wanted {
            Some(w) => v == w,
            None => matches!(v, Verdict::TreatmentBetter | Verdict::TreatmentWorse),
        };
        if hit {
            return true;
        }
    }
    false
}

/// Share of experiments that reach the verdict, over two threads.
fn rate(plan: &AbPlan, shape: Shape, effect: f64, wanted: Option<Verdict>, seed: u64) -> f64 {
    let n = experiments();
    let hits: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|w| {
                s.spawn(move || {
                    let mut rng = ChaCha20Rng::seed_from_u64(seed * 1_000 + w);
                    (0..n / 2)
                        .filter(|_| run(plan, shape, effect, wanted, &mut rng))
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker")).sum()
    });
    hits as f64 / (2 * (n / 2)) as f64
}

/// Share of healthy experiments (10 % treatment, 5 units per look) the sequential SRM test
/// flags within 10,000 looks.
fn srm_false_rollbacks(runs: usize, seed: u64) -> f64 {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let pct = rollout::config::domain::Percentage::new(10.0).expect("percentage");
    let mut flagged = 0;
    for _ in 0..runs {
        let mut units = PerVariant::<u64>::default();
        let mut min_p = None;
        for _ in 0..10_000 {
            for _ in 0..5 {
                if rng.random::<f64>() < 0.1 {
                    units.treatment += 1;
                } else {
                    units.control += 1;
                }
            }
            let s = experiment::srm(&units, pct, min_p);
            min_p = s.p_value;
            if s.mismatch {
                flagged += 1;
                break;
            }
        }
    }
    flagged as f64 / runs as f64
}

/// A table row: label, the three designs' plans, the data's shape, the true effect, and the
/// verdict counted (any significant one when `None`).
type Row<'a> = (&'a str, &'a [AbPlan], Shape, f64, Option<Verdict>);

fn main() {
    let start = std::time::Instant::now();
    let n = experiments();
    println!(
        "{n} experiments per cell; repository plan: 10 % treatment, {DAYS} d, {UNITS_PER_DAY} units/day \
         (~280 treatment / 2,520 control units), alpha {ALPHA}, min_effect 0.1, analysed {TICKS_PER_DAY}x a day"
    );
    let designs = [
        ("group-sequential (14 looks)", Design::GroupSequential),
        ("mixture SPRT (tuned)", Design::AlwaysValid),
        ("fixed horizon (1 look)", Design::FixedHorizon),
    ];
    println!(
        "{:<44} {:>28} {:>22} {:>22}",
        "", designs[0].0, designs[1].0, designs[2].0
    );
    let welch: Vec<AbPlan> = designs
        .iter()
        .map(|(_, d)| ab_plan(TestKind::WelchT, 14, *d))
        .collect();
    let props: Vec<AbPlan> = designs
        .iter()
        .map(|(_, d)| ab_plan(TestKind::TwoProportionZ, 8, *d))
        .collect();
    let rows: Vec<Row> = vec![
        (
            "A/A false positives (Welch, unit values)",
            &welch,
            Shape::Normal,
            0.0,
            None,
        ),
        (
            "power at d = 0.1 (treatment_better)",
            &welch,
            Shape::Normal,
            0.1,
            Some(Verdict::TreatmentBetter),
        ),
        (
            "power at d = 0.2 (treatment_better)",
            &welch,
            Shape::Normal,
            0.2,
            Some(Verdict::TreatmentBetter),
        ),
        (
            "A/A clustered: 40 obs/unit, ICC 0.3",
            &welch,
            Shape::Clustered,
            0.0,
            None,
        ),
        (
            "A/A proportions: 5 % events, 8 looks",
            &props,
            Shape::Proportion(0.05),
            0.0,
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (i, (label, plans, shape, effect, wanted)) in rows.iter().enumerate() {
        let r: Vec<f64> = plans
            .iter()
            .enumerate()
            .map(|(j, p)| rate(p, *shape, *effect, *wanted, 10 * i as u64 + j as u64 + 1))
            .collect();
        println!("{:<44} {:>28.4} {:>22.4} {:>22.4}", label, r[0], r[1], r[2]);
        // A/A rows: above alpha by more than 3 binomial SEs is a failure.
        let se = (ALPHA * (1.0 - ALPHA) / n as f64).sqrt();
        if *effect == 0.0 {
            for (k, v) in r.iter().enumerate() {
                if *v > ALPHA + 3.0 * se {
                    failures.push(format!("{label}: {} {v} > alpha {ALPHA}", designs[k].0));
                }
            }
        }
        if *effect == 0.2 && r[0] < 0.55 {
            failures.push(format!(
                "power at d = 0.2 of the group-sequential design {} < 0.55",
                r[0]
            ));
        }
    }
    let srm_runs = 2_000;
    let srm = srm_false_rollbacks(srm_runs, 99);
    println!(
        "SRM false rollbacks, healthy 10 % split, 10,000 looks of 5 units ({srm_runs} runs, alpha 0.001): {srm:.4}"
    );
    println!("({:.1} s)", start.elapsed().as_secs_f64());
    if !failures.is_empty() {
        for f in failures {
            eprintln!("FAIL: {f}");
        }
        std::process::exit(1);
    }
}
