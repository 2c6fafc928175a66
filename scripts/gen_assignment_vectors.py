#!/usr/bin/env python3
"""Writes tests/data/assignment_vectors.json from an independent implementation of
docs/assignment.md (Python standard library only: hashlib and a hand-written ChaCha20 block).

    python3 scripts/gen_assignment_vectors.py > tests/data/assignment_vectors.json
"""
import hashlib
import json
import random
import struct

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
        "generator": "python3 scripts/gen_assignment_vectors.py",
        "cases": [
            {"seed": str(s), "purpose": p, "unit": u,
             "u64": str(draw_u64(s, p, u)), "u": draw(s, p, u)}
            for s, p, u in cases
        ],
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
