//! Assignment: the cross-language vectors, stickiness, independence, uniformity.

use rollout::assignment::{
    self, draw, draw_u64, in_rollout, variant, Variant, PURPOSE_AB, PURPOSE_ROLLOUT,
};
use statrs::distribution::{ChiSquared, ContinuousCDF};

#[derive(serde::Deserialize)]
struct Vectors {
    version: u32,
    cases: Vec<Case>,
    percentages: Vec<Parsed<f64>>,
    seeds: Vec<Parsed<String>>,
    rule: Vec<RuleCase>,
}

/// A flag text and the value the grammar gives it (`None`: refused).
#[derive(serde::Deserialize)]
struct Parsed<T> {
    text: String,
    value: Option<T>,
}

#[derive(serde::Deserialize)]
struct RuleCase {
    why: String,
    flags: std::collections::BTreeMap<String, String>,
    unit: String,
    enabled: bool,
    variant: Option<String>,
}

#[derive(serde::Deserialize)]
struct Case {
    seed: String,
    purpose: String,
    unit: String,
    u64: String,
    u: f64,
}

fn vectors() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/assignment_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The vectors come from the independent Python implementation in
/// `scripts/gen_assignment_vectors.py`; Rust must agree bit for bit.
#[test]
fn vectors_match_the_reference_implementation() {
    let v = vectors();
    assert_eq!(v.version, assignment::ASSIGNMENT_VERSION);
    assert!(v.cases.len() >= 1000);
    assert!(v.cases.iter().any(|c| c.unit.is_empty()));
    assert!(v.cases.iter().any(|c| !c.unit.is_ascii()));
    for c in &v.cases {
        let seed: u64 = c.seed.parse().unwrap();
        assert_eq!(
            draw_u64(seed, &c.purpose, &c.unit).to_string(),
            c.u64,
            "{:?}/{}/{:?}",
            c.seed,
            c.purpose,
            c.unit
        );
        assert_eq!(draw(seed, &c.purpose, &c.unit).to_bits(), c.u.to_bits());
    }
}

fn chi_square_p(observed: &[f64], expected: &[f64]) -> f64 {
    let stat: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum();
    ChiSquared::new((observed.len() - 1) as f64)
        .unwrap()
        .sf(stat)
}

#[test]
fn release_sets_are_nested() {
    let ids: Vec<String> = (0..20_000).map(|i| format!("SYM{i}")).collect();
    let set =
        |pct: f64| -> Vec<&String> { ids.iter().filter(|u| in_rollout(42, u, pct)).collect() };
    let (s5, s25, s50) = (set(5.0), set(25.0), set(50.0));
    assert!(s5.iter().all(|u| s25.contains(u)), "5% ⊄ 25%");
    assert!(s25.iter().all(|u| s50.contains(u)), "25% ⊄ 50%");
    assert_eq!(set(100.0).len(), ids.len());
    assert!((s5.len() as f64 / 20_000.0 - 0.05).abs() < 0.01);
}

/// The A/B split over a million ids matches the configured 10/90 within a chi-square test.
#[test]
fn ab_split_over_a_million_ids() {
    let n = 1_000_000;
    let treated = (0..n)
        .filter(|i| variant(42, &format!("order-{i}"), 10.0) == Variant::Treatment)
        .count() as f64;
    let p = chi_square_p(
        &[treated, n as f64 - treated],
        &[0.1 * n as f64, 0.9 * n as f64],
    );
    assert!(p > 0.001, "split {treated}/{n} is off (p = {p})");
}

/// The A/B group is not the canary group: the two draws are independent, and so are
/// rollouts with different seeds.
#[test]
fn draws_are_independent() {
    let ids: Vec<String> = (0..100_000).map(|i| format!("acct-{i}")).collect();
    let table = |a: &dyn Fn(&str) -> bool, b: &dyn Fn(&str) -> bool| {
        let mut t = [0f64; 4];
        for u in &ids {
            t[(a(u) as usize) * 2 + b(u) as usize] += 1.0;
        }
        // Chi-square test of independence on the 2x2 table (1 degree of freedom).
        let n = ids.len() as f64;
        let rows = [t[0] + t[1], t[2] + t[3]];
        let cols = [t[0] + t[2], t[1] + t[3]];
        let stat: f64 = (0..4)
            .map(|k| {
                let e = rows[k / 2] * cols[k % 2] / n;
                (t[k] - e).powi(2) / e
            })
            .sum();
        ChiSquared::new(1.0).unwrap().sf(stat)
    };
    let ab = |u: &str| draw(42, PURPOSE_AB, u) < 0.5;
    let canary = |u: &str| draw(42, PURPOSE_ROLLOUT, u) < 0.5;
    let other_seed = |u: &str| draw(43, PURPOSE_ROLLOUT, u) < 0.5;
    assert!(table(&ab, &canary) > 0.001);
    assert!(table(&canary, &other_seed) > 0.001);
}

#[test]
fn uniform_in_deciles() {
    let n = 200_000;
    let mut bins = [0f64; 10];
    for i in 0..n {
        bins[(draw(7, PURPOSE_ROLLOUT, &i.to_string()) * 10.0) as usize] += 1.0;
    }
    assert!(
        chi_square_p(&bins, &[n as f64 / 10.0; 10]) > 0.001,
        "{bins:?}"
    );
}

#[test]
fn enabled_for_follows_the_flags() {
    let flags = |mode: &'static str, ab: &'static str, pct: &'static str| {
        move |suffix: &str| -> Option<String> {
            Some(
                match suffix {
                    "MODE" => mode,
                    "APPLY_PARAMETERS" => {
                        if mode == "shadow" {
                            "false"
                        } else {
                            "true"
                        }
                    }
                    "AB_TEST_PERCENTAGE" => ab,
                    "ROLLOUT_PERCENTAGE" => pct,
                    "SEED" => "42",
                    "ASSIGNMENT_VERSION" => "1",
                    _ => return None,
                }
                .to_owned(),
            )
        }
    };
    let ids: Vec<String> = (0..2000).map(|i| format!("u{i}")).collect();
    let on = |f: &dyn Fn(&str) -> Option<String>| {
        ids.iter().filter(|u| assignment::enabled_for(f, u)).count()
    };
    assert_eq!(on(&flags("shadow", "0", "0")), 0);
    assert_eq!(on(&flags("full", "0", "100")), 2000);
    let treated = on(&flags("ab_test", "10", "0"));
    assert_eq!(
        treated,
        ids.iter()
            .filter(|u| variant(42, u, 10.0) == Variant::Treatment)
            .count()
    );
    assert_eq!(
        on(&flags("rollout", "0", "25")),
        ids.iter().filter(|u| in_rollout(42, u, 25.0)).count()
    );
    assert_eq!(on(&|_: &str| None), 0, "no flags: off");
}

/// The grammar of the flag values, as the vectors state it.
#[test]
fn flag_grammar_vectors() {
    let v = vectors();
    assert!(v.percentages.iter().any(|p| p.value.is_none()));
    for p in &v.percentages {
        let got = assignment::parse_percentage(&p.text).ok();
        assert_eq!(
            got.map(f64::to_bits),
            p.value.map(f64::to_bits),
            "{:?}",
            p.text
        );
    }
    for s in &v.seeds {
        let got = assignment::parse_seed(&s.text).ok().map(|s| s.to_string());
        assert_eq!(got, s.value, "{:?}", s.text);
    }
    for text in ["1e1", "+10", "150"] {
        assert!(
            v.percentages
                .iter()
                .any(|p| p.text == text && p.value.is_none()),
            "the vectors refuse {text}"
        );
    }
}

/// The rule over flag sets: p = 0 and 100, percentages just around a unit's u (including
/// where `u * 100 < p` would decide otherwise than `u < p / 100`), refused and missing flags.
#[test]
fn rule_vectors() {
    let v = vectors();
    assert!(v.rule.len() > 400);
    assert!(v
        .rule
        .iter()
        .any(|c| c.why.contains("would disagree") && c.enabled));
    assert!(v
        .rule
        .iter()
        .any(|c| c.why.contains("would disagree") && !c.enabled));
    for c in &v.rule {
        let flag = |s: &str| c.flags.get(s).cloned();
        let rule = assignment::Rule::read(flag);
        let what = format!("{} / {:?} / {:?}", c.why, c.unit, c.flags);
        assert_eq!(assignment::enabled_for(flag, &c.unit), c.enabled, "{what}");
        assert_eq!(
            rule.as_ref().is_ok_and(|r| r.enabled(&c.unit)),
            c.enabled,
            "{what}"
        );
        let variant = rule.ok().and_then(|r| r.variant(&c.unit));
        assert_eq!(variant.map(Variant::as_str), c.variant.as_deref(), "{what}");
    }
}
