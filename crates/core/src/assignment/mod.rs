//! Seeded, sticky assignment of units to the new path. Specified byte for byte in
//! `docs/assignment.md`; `tests/data/assignment_vectors.json` pins it across languages.
//! [`grammar`] says which flag values are readable, [`rule`] applies the flags to a unit.

mod grammar;
mod rule;

pub use grammar::{parse_percentage, parse_seed, Refused};
pub use rule::{seed, version_supported, Off, Rule};

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// The algorithm's version, written as the `ASSIGNMENT_VERSION` flag. Any change to
/// `draw` is a new version.
pub const ASSIGNMENT_VERSION: u32 = 1;

/// The draw that splits A/B control from treatment.
pub const PURPOSE_AB: &str = "ab";
/// The draw that decides whether a unit is inside the release percentage.
pub const PURPOSE_ROLLOUT: &str = "rollout";

const DOMAIN: &[u8] = b"rollout-assignment";

/// The unit's number in [0, 1) for `purpose` under `seed`.
pub fn draw(seed: u64, purpose: &str, unit: &str) -> f64 {
    let x = draw_u64(seed, purpose, unit);
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The raw 64-bit draw behind [`draw`].
pub fn draw_u64(seed: u64, purpose: &str, unit: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update([0u8, ASSIGNMENT_VERSION as u8]);
    h.update(seed.to_be_bytes());
    for part in [purpose, unit] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    }
    let key: [u8; 32] = h.finalize().into();
    ChaCha20Rng::from_seed(key).next_u64()
}

/// The A/B variant of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Control,
    Treatment,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Control => "control",
            Variant::Treatment => "treatment",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "control" => Some(Variant::Control),
            "treatment" => Some(Variant::Treatment),
            _ => None,
        }
    }
}

/// Treatment when the unit's A/B draw is below `treatment_percentage` / 100, compared in
/// binary64 (`u < p / 100`, the division correctly rounded). Callers reading a flag parse it
/// with [`parse_percentage`] first.
pub fn variant(seed: u64, unit: &str, treatment_percentage: f64) -> Variant {
    if draw(seed, PURPOSE_AB, unit) < treatment_percentage / 100.0 {
        Variant::Treatment
    } else {
        Variant::Control
    }
}

/// Whether the unit is inside a release of `percentage`; monotone in `percentage`.
pub fn in_rollout(seed: u64, unit: &str, percentage: f64) -> bool {
    draw(seed, PURPOSE_ROLLOUT, unit) < percentage / 100.0
}

/// The rule a service applies to a rollout's flags: is the new path on for `unit`?
/// `flag(suffix)` returns the value of `<prefix><suffix>`. Missing, unreadable (outside the
/// grammar of `docs/assignment.md`) or unknown-version flags mean off, the safe default.
/// To decide many units, read the flags once with [`Rule::read`].
pub fn enabled_for(flag: impl Fn(&str) -> Option<String>, unit: &str) -> bool {
    Rule::read(flag).is_ok_and(|r| r.enabled(unit))
}
