//! What the store maintains for the A/B analysis, per stage entry: the moments of the unit
//! values per metric and variant, and the units exposed per variant.

use serde::Serialize;

use crate::records::PerVariant;
use crate::stats::Moments;

/// A metric's maintained statistics over unit values (one value per unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UnitAggregate {
    /// Moments of the unit values.
    pub moments: PerVariant<Moments>,
    /// The observations behind the units.
    pub observations: PerVariant<u64>,
    /// Units whose value is not zero.
    pub events: PerVariant<u64>,
}

/// Units observed per variant, and units observed in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ExposureCounts {
    pub units: PerVariant<u64>,
    pub multiple: u64,
}
