#!/usr/bin/env python3
"""Writes tests/data/assignment_vectors.json from an independent implementation of
docs/assignment.md (Python standard library only: hashlib and a hand-written ChaCha20 block;
the flag grammar and the rule written again here, not imported from the client).

    python3 scripts/gen_assignment_vectors.py > tests/data/assignment_vectors.json

`cases`: the draw, bit for bit. `percentages`, `seeds`: texts and the value the grammar gives
them (null: refused). `rule`: flag sets (by suffix, without the prefix) and a unit, with
whether the new path is on and the A/B variant: the thresholds at p = 0 and 100, percentages
just around a unit's u, and every kind of refused or missing flag.
"""
import hashlib
import json
import math
import random
import re
import struct
from decimal import Decimal

VERSION = 1
MASK = 0xFFFFFFFF


def _rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key: bytes, counter: int = 0, nonce: bytes = bytes(12)) -> bytes:
    """RFC 7539 section 2.3: 20 rounds, 32-bit counter, 96-bit nonce."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key))
    state += [counter] + list(struct.unpack("<3I", nonce))
    working = state[:]
    for _ in range(10):
        _quarter(working, 0, 4, 8, 12); _quarter(working, 1, 5, 9, 13)
        _quarter(working, 2, 6, 10, 14); _quarter(working, 3, 7, 11, 15)
        _quarter(working, 0, 5, 10, 15); _quarter(working, 1, 6, 11, 12)
        _quarter(working, 2, 7, 8, 13); _quarter(working, 3, 4, 9, 14)
    return struct.pack("<16I", *[(w + s) & MASK for w, s in zip(working, state)])


def draw_u64(seed: int, purpose: str, unit: str) -> int:
    p, u = purpose.encode("utf-8"), unit.encode("utf-8")
    msg = (b"rollout-assignment" + bytes([0, VERSION]) + struct.pack(">Q", seed)
           + struct.pack(">I", len(p)) + p + struct.pack(">I", len(u)) + u)
    key = hashlib.sha256(msg).digest()
    return struct.unpack("<Q", chacha20_block(key)[:8])[0]


def draw(seed: int, purpose: str, unit: str) -> float:
    return (draw_u64(seed, purpose, unit) >> 11) * 2.0 ** -53


U64_MAX = 2**64 - 1


def parse_percentage(text):
    """DIGIT+ ["." DIGIT+], exact decimal value in [0, 100]; the nearest binary64."""
    if text is None or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text, re.ASCII):
        return None
    if Decimal(text) > 100:
        return None
    return float(text)


def parse_seed(text):
    """DIGIT+, value at most 2**64 - 1."""
    if text is None or not re.fullmatch(r"[0-9]+", text, re.ASCII):
        return None
    value = int(text)
    return value if value <= U64_MAX else None


def rule(flags, unit):
    """(enabled, variant) under `flags` (suffix -> value)."""
    if flags.get("APPLY_PARAMETERS") != "true" or flags.get("ASSIGNMENT_VERSION") != "1":
        return False, None
    seed = parse_seed(flags.get("SEED"))
    if seed is None:
        return False, None
    mode = flags.get("MODE")
    if mode == "ab_test":
        p = parse_percentage(flags.get("AB_TEST_PERCENTAGE"))
        if p is None:
            return False, None
        treated = draw(seed, "ab", unit) < p / 100  # binary64 division, then comparison
        return treated, "treatment" if treated else "control"
    if mode == "rollout":
        p = parse_percentage(flags.get("ROLLOUT_PERCENTAGE"))
        return p is not None and draw(seed, "rollout", unit) < p / 100, None
    return mode == "full", None


def plain(x):
    """A float's shortest round-trip text without an exponent (what the grammar accepts)."""
    return format(Decimal(repr(x)), "f")


PERCENTAGE_TEXTS = ["0", "100", "100.0", "100.000", "5", "12.5", "0.1", "007", "50.0000",
                    "99.99999999999999999999", "0.00000000000000000001",
                    "1e1", "+10", "-0", "-5", "150", "100.0000001", "101", "1000", " 5", "5 ",
                    ".5", "5.", "", "1_0", "inf", "NaN", "0x10", "\u0665", "\uff11\uff10",
                    "10%", "5,5", "1E1", "10\n"]
SEED_TEXTS = ["0", "42", "0042", str(U64_MAX), "+42", "-1", str(U64_MAX + 1), "4.2e1", "42.0",
              " 42", "42 ", "0x2a", "\u0664\u0662", "", "1_000"]


def rule_cases():
    base = {"APPLY_PARAMETERS": "true", "ASSIGNMENT_VERSION": "1", "SEED": "42",
            "MODE": "rollout", "AB_TEST_PERCENTAGE": "0", "ROLLOUT_PERCENTAGE": "0"}
    units = [f"SYM{i}" for i in range(40)]
    out = []

    def add(why, unit, **over):
        flags = {k: v for k, v in {**base, **over}.items() if v is not None}
        enabled, variant = rule(flags, unit)
        out.append({"why": why, "flags": flags, "unit": unit, "enabled": enabled, "variant": variant})

    for unit in units[:10]:
        add("p = 0: nobody", unit, ROLLOUT_PERCENTAGE="0")
        add("p = 100: everybody", unit, ROLLOUT_PERCENTAGE="100")
        add("A/B p = 0: all control", unit, MODE="ab_test", AB_TEST_PERCENTAGE="0")
        add("A/B p = 100: all treatment", unit, MODE="ab_test", AB_TEST_PERCENTAGE="100")
        add("full reads no percentage", unit, MODE="full", ROLLOUT_PERCENTAGE=None)
    # Percentages just around each unit's u: 100u rounded, its neighbours, and the exact
    # decimal of 100u (which the parser rounds). Where `u * 100 < p` would decide otherwise
    # than `u < p / 100`, the case says so.
    for unit in units:
        for mode, purpose, key in (("rollout", "rollout", "ROLLOUT_PERCENTAGE"),
                                   ("ab_test", "ab", "AB_TEST_PERCENTAGE")):
            u = draw(42, purpose, unit)
            x = u * 100
            texts = {plain(x), plain(math.nextafter(x, 0)), plain(math.nextafter(x, 200)),
                     format(Decimal(u) * 100, "f")}
            for t in sorted(texts):
                p = float(t)
                why = "p around 100u"
                if (u * 100 < p) != (u < p / 100):
                    why += "; u * 100 < p would disagree"
                add(why, unit, MODE=mode, **{key: t})
    # Search a little for more units where the two arithmetics disagree.
    found = 0
    for i in range(20000):
        if found >= 8:
            break
        unit = f"edge-{i}"
        u = draw(42, "rollout", unit)
        for x in (u * 100, math.nextafter(u * 100, 0), math.nextafter(u * 100, 200)):
            t = plain(x)
            p = float(t)
            if (u * 100 < p) != (u < p / 100):
                add("u * 100 < p would disagree", unit, ROLLOUT_PERCENTAGE=t)
                found += 1
    # A unit that is on at 50 % in both draws, for the refusals below.
    unit = next(x for x in (f"on-{i}" for i in range(1000))
                if draw(42, "rollout", x) < 0.05 and draw(42, "ab", x) < 0.05)
    add("reference: on", unit, ROLLOUT_PERCENTAGE="10")
    add("reference: treatment", unit, MODE="ab_test", AB_TEST_PERCENTAGE="10")
    for t in PERCENTAGE_TEXTS:
        add("percentage text", unit, ROLLOUT_PERCENTAGE=t)
        add("percentage text", unit, MODE="ab_test", AB_TEST_PERCENTAGE=t)
    for t in SEED_TEXTS:
        add("seed text", unit, SEED=t, ROLLOUT_PERCENTAGE="100")
    for key in base:
        if key != "AB_TEST_PERCENTAGE":
            add(f"{key} missing", unit, **{"ROLLOUT_PERCENTAGE": "100", key: None})
    for t in ["2", "0", "01", "+1", "1.0", " 1", "", "one"]:
        add("unknown assignment version", unit, ROLLOUT_PERCENTAGE="100", ASSIGNMENT_VERSION=t)
        add("unknown assignment version", unit, MODE="full", ASSIGNMENT_VERSION=t)
    for t in ["True", "1", "yes", "", "false"]:
        add("APPLY_PARAMETERS not true", unit, MODE="full", APPLY_PARAMETERS=t)
    for t in ["shadow", "rolled_back", "ROLLOUT", "Full", "", "full "]:
        add("mode", unit, MODE=t, ROLLOUT_PERCENTAGE="100")
    return out


def main():
    # RFC 7539 2.3.2 test vector, to prove the block function before using it.
    key = bytes(range(32))
    block = chacha20_block(key, 1, bytes.fromhex("000000090000004a00000000"))
    assert block[:16].hex() == "10f1e7e4d13b5915500fdd1fa32071c4", block[:16].hex()

    rng = random.Random(20261125)
    seeds = [0, 1, 42, 7, 2**32, 2**63, 2**64 - 1]
    units = ["", "AAPL", "MSFT", "BRK.B", "order-000001", " ", "\u00e9", "Zürich", "日本株",
             "🚀 moon", "a\u0000b", "x" * 300, "ß", "Ελλάδα", "\t\n"]
    cases = []
    for seed in seeds:
        for unit in units:
            for purpose in ("ab", "rollout"):
                cases.append((seed, purpose, unit))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.éü日本🚀"
    while len(cases) < 1200:
        seed = rng.choice(seeds + [rng.getrandbits(64)])
        unit = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        cases.append((seed, rng.choice(["ab", "rollout"]), unit))
    out = {
        "version": VERSION,
        "generator": "python3 scripts/gen_assignment_vectors.py > tests/data/assignment_vectors.json",
        "cases": [
            {"seed": str(s), "purpose": p, "unit": u,
             "u64": str(draw_u64(s, p, u)), "u": draw(s, p, u)}
            for s, p, u in cases
        ],
        "percentages": [{"text": t, "value": parse_percentage(t)} for t in PERCENTAGE_TEXTS],
        "seeds": [{"text": t, "value": None if parse_seed(t) is None else str(parse_seed(t))}
                  for t in SEED_TEXTS],
        "rule": rule_cases(),
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
