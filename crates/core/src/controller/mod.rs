//! The rollout state machine. Pure: it takes `now` and returns decisions and transitions;
//! the daemon, the CLI and the store are adapters around it.

mod compat;
mod decide;
pub mod flags;
mod manual;
mod state;

pub use compat::incompatibilities;
pub use decide::{decide, enters_stage, sync, transition, AbVerdict, Decision, Signals};
pub use manual::{manual, ManualAction, NotAllowed};
pub use state::{Action, Phase, RolloutState, StateParts, Status, Transition};

#[cfg(test)]
mod tests;
