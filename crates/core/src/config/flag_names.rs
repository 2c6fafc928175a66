//! The names of the flags every rollout writes, after its `flag_prefix`.

/// The flags every rollout writes, after its `flag_prefix`.
pub const STANDARD_SUFFIXES: &[&str] = &[
    "MODE",
    "STATUS",
    "DATA_COLLECTION",
    "APPLY_PARAMETERS",
    "AB_TEST_ENABLED",
    "AB_TEST_PERCENTAGE",
    "ROLLOUT_PERCENTAGE",
    "SEED",
    "ASSIGNMENT_VERSION",
    // Written only by rollouts with an `analysis:` block, but reserved for every rollout.
    "WEIGHTS",
    "CONSERVATIVE_WEIGHTS",
];

/// Standard flags that `on_rollback` may override.
pub const OVERRIDABLE_ON_ROLLBACK: &[&str] = &["DATA_COLLECTION"];
