"""Assignment v1 against the shared vectors and the rule of docs/assignment.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest

from rollout_client import assignment
from rollout_client.assignment import (
    chacha20_block,
    draw,
    draw_u64,
    parse_finite_f64,
    parse_percentage,
    parse_seed,
    parse_u64,
)

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "data" / "assignment_vectors.json"


def load_vectors() -> dict:
    with VECTORS.open(encoding="utf-8") as f:
        return json.load(f)


def test_vector_file_shape() -> None:
    data = load_vectors()
    assert data["version"] == assignment.ASSIGNMENT_VERSION == 1
    assert len(data["cases"]) >= 1200
    case = data["cases"][0]
    assert set(case) == {"seed", "purpose", "unit", "u64", "u"}
    assert isinstance(case["seed"], str) and isinstance(case["u64"], str)  # u64 does not fit a JSON double


def test_every_vector_bit_for_bit() -> None:
    failures = []
    for i, case in enumerate(load_vectors()["cases"]):
        seed, expected = int(case["seed"]), int(case["u64"])
        got = draw_u64(seed, case["purpose"], case["unit"])
        if got != expected or draw(seed, case["purpose"], case["unit"]) != case["u"]:
            failures.append((i, case["seed"], case["purpose"], case["unit"], expected, got))
    assert not failures, f"{len(failures)} mismatches, first: {failures[:3]}"


def test_chacha20_rfc7539_block() -> None:
    # RFC 7539 section 2.3.2
    block = chacha20_block(bytes(range(32)), 1, bytes.fromhex("000000090000004a00000000"))
    assert block.hex() == (
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    )


def test_u_is_53_bits_in_unit_interval() -> None:
    for unit in ["", "AAPL", "x" * 1000]:
        u = draw(2**64 - 1, "rollout", unit)
        assert 0.0 <= u < 1.0
        assert u * 2**53 == int(u * 2**53)


def test_seed_out_of_range_rejected() -> None:
    with pytest.raises(ValueError):
        draw_u64(2**64, "ab", "x")
    with pytest.raises(ValueError):
        draw_u64(-1, "ab", "x")


def test_monotone_in_percentage() -> None:
    units = [f"SYM{i}" for i in range(2000)]
    at5 = {u for u in units if assignment.in_rollout(42, u, 5)}
    at25 = {u for u in units if assignment.in_rollout(42, u, 25)}
    at50 = {u for u in units if assignment.in_rollout(42, u, 50)}
    assert at5 and at5 <= at25 <= at50
    assert 0.02 < len(at5) / len(units) < 0.08
    assert 0.20 < len(at25) / len(units) < 0.30


def test_ab_and_rollout_draws_independent() -> None:
    units = [f"u{i}" for i in range(4000)]
    ab = {u for u in units if assignment.in_treatment(42, u, 10)}
    ro = {u for u in units if assignment.in_rollout(42, u, 10)}
    # Independent 10 % draws overlap on about 1 %, identical ones on 10 %.
    assert len(ab & ro) < 0.03 * len(units)


def test_rust_compatible_number_parsing() -> None:
    assert parse_u64("42") == 42 and parse_u64("+42") == 42
    assert parse_u64(str(2**64 - 1)) == 2**64 - 1
    for bad in [None, "", " 42", "42 ", "4_2", "-1", str(2**64), "0x2a", "٤٢"]:
        assert parse_u64(bad) is None, bad
    assert parse_finite_f64("5") == 5.0 and parse_finite_f64("0.5") == 0.5
    assert parse_finite_f64(".5") == 0.5 and parse_finite_f64("5.") == 5.0
    assert parse_finite_f64("1e1") == 10.0 and parse_finite_f64("-0") == 0.0
    for bad in [None, "", " 5", "5 ", "1_0", "inf", "NaN", "1e400", ".", "five", "٥"]:
        assert parse_finite_f64(bad) is None, bad


def flags(mode: str, **over: str) -> Dict[str, str]:
    base = {
        "MODE": mode, "APPLY_PARAMETERS": "true", "SEED": "42", "ASSIGNMENT_VERSION": "1",
        "AB_TEST_PERCENTAGE": "0", "ROLLOUT_PERCENTAGE": "0",
    }
    base.update(over)
    return base


UNITS = [f"SYM{i}" for i in range(500)]


def test_rule_per_mode() -> None:
    for unit in UNITS[:50]:
        assert not assignment.enabled_for(flags("shadow", APPLY_PARAMETERS="false").get, unit)
        assert not assignment.enabled_for(flags("shadow").get, unit)  # MODE decides, not APPLY alone
        assert not assignment.enabled_for(flags("rolled_back").get, unit)
        assert assignment.enabled_for(flags("full", ROLLOUT_PERCENTAGE="100").get, unit)
        assert not assignment.enabled_for(flags("full", APPLY_PARAMETERS="false").get, unit)
        ab = flags("ab_test", AB_TEST_PERCENTAGE="10")
        assert assignment.enabled_for(ab.get, unit) == (draw(42, "ab", unit) < 0.10)
        assert assignment.variant(ab.get, unit) == ("treatment" if draw(42, "ab", unit) < 0.10 else "control")
        ro = flags("rollout", ROLLOUT_PERCENTAGE="25")
        assert assignment.enabled_for(ro.get, unit) == (draw(42, "rollout", unit) < 0.25)
        assert assignment.variant(ro.get, unit) is None


def test_rule_safe_defaults() -> None:
    unit = next(u for u in UNITS if draw(42, "rollout", u) < 0.5)
    good = flags("rollout", ROLLOUT_PERCENTAGE="50")
    assert assignment.enabled_for(good.get, unit)
    for key in good:
        missing = dict(good)
        del missing[key]
        if key == "AB_TEST_PERCENTAGE":
            continue  # not read in rollout mode
        assert not assignment.enabled_for(missing.get, unit), key
    for key, bad in [("SEED", "-1"), ("SEED", "x"), ("SEED", "+42"), ("ROLLOUT_PERCENTAGE", "lots"),
                     ("ROLLOUT_PERCENTAGE", "NaN"), ("ROLLOUT_PERCENTAGE", "1e2"),
                     ("ROLLOUT_PERCENTAGE", "+50"), ("ROLLOUT_PERCENTAGE", "150"),
                     ("ASSIGNMENT_VERSION", "2"), ("ASSIGNMENT_VERSION", "+1"),
                     ("ASSIGNMENT_VERSION", "01"), ("ASSIGNMENT_VERSION", "one"),
                     ("APPLY_PARAMETERS", "True"), ("MODE", "ROLLOUT")]:
        assert not assignment.enabled_for({**good, key: bad}.get, unit), (key, bad)


def test_flag_grammar_vectors() -> None:
    data = load_vectors()
    for case in data["percentages"]:
        assert parse_percentage(case["text"]) == case["value"], case
    for case in data["seeds"]:
        got = parse_seed(case["text"])
        assert (None if got is None else str(got)) == case["value"], case
    refused = {c["text"] for c in data["percentages"] if c["value"] is None}
    assert {"1e1", "+10", "150"} <= refused


def test_grammar_refuses_huge_texts_without_raising() -> None:
    assert parse_seed("9" * 5000) is None
    assert parse_percentage("1" * 5000) is None
    assert parse_seed("0" * 100 + "7") == 7


def test_rule_vectors() -> None:
    cases = load_vectors()["rule"]
    assert any("would disagree" in c["why"] for c in cases)
    failures = []
    for c in cases:
        flag = c["flags"].get
        got = (assignment.enabled_for(flag, c["unit"]), assignment.variant(flag, c["unit"]))
        if got != (c["enabled"], c["variant"]):
            failures.append((c, got))
    assert not failures, f"{len(failures)} mismatches, first: {failures[:2]}"
