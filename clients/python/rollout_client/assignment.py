"""Assignment version 1 (docs/assignment.md): which units get the new path.

The Rust controller, the Rust client and this module must agree bit for bit, otherwise a
unit could be in treatment for the controller's analysis and in control in the service
that trades it. `tests/data/assignment_vectors.json` pins the draw and the rule, including
the grammar of the flag values: `parse_percentage` and `parse_seed` accept exactly what the
spec allows (Python's `int`/`float` also accept spaces, `_`, signs and exponents, so a
hand-edited flag like `" 5"` or `"1e1"` would otherwise split the fleet).
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Callable, Optional

ASSIGNMENT_VERSION = 1
"""The only version this module implements; any other `<prefix>ASSIGNMENT_VERSION` is off."""

PURPOSE_AB = "ab"
PURPOSE_ROLLOUT = "rollout"

_DOMAIN = b"rollout-assignment"
_MASK32 = 0xFFFFFFFF
_U64_MAX = (1 << 64) - 1
_CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"

# docs/assignment.md, "Flag values": the only texts the rule reads.
_PERCENTAGE = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)
_SEED = re.compile(r"[0-9]+", re.ASCII)

# Rust's `u64::from_str`: optional '+', ASCII digits, nothing else.
_RUST_U64 = re.compile(r"\+?[0-9]+", re.ASCII)
# Rust's `f64::from_str` for finite decimals (inf/nan are filtered out by the rule anyway).
_RUST_F64 = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _rotl(v: int, c: int) -> int:
    return ((v << c) & _MASK32) | (v >> (32 - c))


def chacha20_block(key: bytes, counter: int = 0, nonce: bytes = bytes(12)) -> bytes:
    """One 64-byte ChaCha20 keystream block (RFC 7539 section 2.3, 20 rounds).

    Written out by hand because the standard library has no ChaCha20 and the client must
    not depend on `cryptography`; only the first block of a fresh key is ever needed.
    """
    if len(key) != 32 or len(nonce) != 12:
        raise ValueError("ChaCha20 needs a 32-byte key and a 12-byte nonce")
    state = list(_CONSTANTS) + list(struct.unpack("<8I", key))
    state += [counter & _MASK32] + list(struct.unpack("<3I", nonce))
    x = state[:]

    def quarter(a: int, b: int, c: int, d: int) -> None:
        x[a] = (x[a] + x[b]) & _MASK32
        x[d] = _rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & _MASK32
        x[b] = _rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & _MASK32
        x[d] = _rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & _MASK32
        x[b] = _rotl(x[b] ^ x[c], 7)

    for _ in range(10):  # 10 double rounds = 20 rounds
        quarter(0, 4, 8, 12)
        quarter(1, 5, 9, 13)
        quarter(2, 6, 10, 14)
        quarter(3, 7, 11, 15)
        quarter(0, 5, 10, 15)
        quarter(1, 6, 11, 12)
        quarter(2, 7, 8, 13)
        quarter(3, 4, 9, 14)
    return struct.pack("<16I", *[(w + s) & _MASK32 for w, s in zip(x, state)])


def _message(seed: int, purpose: str, unit: str) -> bytes:
    if not 0 <= seed <= _U64_MAX:
        raise ValueError(f"seed must be an unsigned 64-bit integer, got {seed}")
    p = purpose.encode("utf-8")
    u = unit.encode("utf-8")  # no normalisation: "é" and "e\u0301" are different units
    return b"".join(
        (
            _DOMAIN,
            bytes((0, ASSIGNMENT_VERSION)),
            struct.pack(">Q", seed),
            struct.pack(">I", len(p)),
            p,
            struct.pack(">I", len(u)),
            u,
        )
    )


def draw_u64(seed: int, purpose: str, unit: str) -> int:
    """The raw 64-bit draw; exposed so tests can compare it bit for bit with the vectors."""
    key = hashlib.sha256(_message(seed, purpose, unit)).digest()
    x: int = struct.unpack("<Q", chacha20_block(key)[:8])[0]
    return x


def draw(seed: int, purpose: str, unit: str) -> float:
    """The unit's sticky number in [0, 1); 53 bits so the float conversion is exact."""
    return (draw_u64(seed, purpose, unit) >> 11) * 2.0**-53


def parse_percentage(text: Optional[str]) -> Optional[float]:
    """`DIGIT+ ["." DIGIT+]` whose exact decimal value is in [0, 100], as the nearest binary64
    (Python's `float` rounds correctly, like Rust's parser); None for anything else."""
    m = _PERCENTAGE.fullmatch(text) if text is not None else None
    if m is None:
        return None
    digits = m.group(1).lstrip("0")
    if len(digits) > 3:  # also keeps `int` below Python's limit on digits
        return None
    whole = int(digits or "0")
    fraction_zero = m.group(2) is None or not m.group(2).strip("0")
    if whole > 100 or (whole == 100 and not fraction_zero):
        return None
    return float(text)


def parse_seed(text: Optional[str]) -> Optional[int]:
    """`DIGIT+` whose value fits an unsigned 64-bit integer; None for anything else."""
    if text is None or not _SEED.fullmatch(text) or len(text.lstrip("0")) > 20:
        return None
    value = int(text)
    return value if value <= _U64_MAX else None


def parse_u64(text: Optional[str]) -> Optional[int]:
    """Parse like Rust's `u64::from_str` (for general flags; the rule uses `parse_seed`)."""
    if text is None or not _RUST_U64.fullmatch(text):
        return None
    value = int(text)
    return value if value <= _U64_MAX else None


def parse_finite_f64(text: Optional[str]) -> Optional[float]:
    """Parse like Rust's `f64::from_str` and keep only finite values (for general flags; the
    rule uses `parse_percentage`)."""
    if text is None or not _RUST_F64.fullmatch(text):
        return None
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else None


Draw = Callable[[int, str, str], float]
"""`draw` or a memoised wrapper of it (the client caches draws: they never change)."""


def in_treatment(seed: int, unit: str, treatment_percentage: float, draw_fn: Draw = draw) -> bool:
    """A/B split; uses its own purpose so the A/B group is not the canary group."""
    return draw_fn(seed, PURPOSE_AB, unit) < treatment_percentage / 100.0


def in_rollout(seed: int, unit: str, percentage: float, draw_fn: Draw = draw) -> bool:
    """Release membership; monotone in `percentage` because the draw never changes."""
    return draw_fn(seed, PURPOSE_ROLLOUT, unit) < percentage / 100.0


Lookup = Callable[[str], Optional[str]]
"""`lookup(suffix)` returns the value of `<prefix><suffix>` or None when it is absent."""


def _seed_if_applicable(flag: Lookup) -> Optional[int]:
    """The seed when the flags allow any unit on at all; None means off for every unit."""
    if flag("APPLY_PARAMETERS") != "true":
        return None
    if flag("ASSIGNMENT_VERSION") != str(ASSIGNMENT_VERSION):
        return None  # missing, or a version this module does not implement: never guess
    return parse_seed(flag("SEED"))


def enabled_for(flag: Lookup, unit: str, draw_fn: Draw = draw) -> bool:
    """The rule of docs/assignment.md; every doubt resolves to off, the safe side."""
    seed = _seed_if_applicable(flag)
    if seed is None:
        return False
    mode = flag("MODE")
    if mode == "ab_test":
        p = parse_percentage(flag("AB_TEST_PERCENTAGE"))
        return p is not None and in_treatment(seed, unit, p, draw_fn)
    if mode == "rollout":
        p = parse_percentage(flag("ROLLOUT_PERCENTAGE"))
        return p is not None and in_rollout(seed, unit, p, draw_fn)
    return mode == "full"


def variant(flag: Lookup, unit: str, draw_fn: Draw = draw) -> Optional[str]:
    """`"treatment"`/`"control"` while an A/B test runs, None otherwise.

    None outside `ab_test` (or with unreadable flags) so that services do not log
    observations into an experiment that is not running; `"treatment"` exactly when
    `enabled_for` is true in `ab_test` mode.
    """
    seed = _seed_if_applicable(flag)
    if seed is None or flag("MODE") != "ab_test":
        return None
    p = parse_percentage(flag("AB_TEST_PERCENTAGE"))
    if p is None:
        return None
    return "treatment" if in_treatment(seed, unit, p, draw_fn) else "control"
