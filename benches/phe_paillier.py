#!/usr/bin/env python3
"""python-paillier (phe 1.5.0, with gmpy2 when installed) timed on the operations that
`shroud bench paillier --with-phe` times, so the two run side by side on one machine.

Prints one JSON object per key size: median milliseconds over about one second of runs
(at least 11) for standard encryption (`public_key.encrypt`, which draws r and computes
r^n mod n^2), decryption (`private_key.decrypt`, CRT) and multiplication of a ciphertext by
a 64-bit integer (`ciphertext * k`). Variable time (GMP): the peer, not a reference for
constant-time code. Usage: python3 benches/phe_paillier.py 2048 3072 4096
"""
import json
import random
import statistics
import sys
import time

import phe
from phe import paillier


def median_ms(fn, budget_s=1.0):
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    runs = max(11, min(2001, int(budget_s / max(first, 1e-7))))
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [2048]
    try:
        import gmpy2  # noqa: F401
        backend = "gmpy2"
    except ImportError:
        backend = "pure python"
    for bits in sizes:
        pk, sk = paillier.generate_paillier_keypair(n_length=bits)
        m = random.getrandbits(63)
        c = pk.encrypt(m)
        k = random.getrandbits(63)
        row = {
            "bits": bits,
            "phe": phe.__version__,
            "backend": backend,
            "encrypt_ms": median_ms(lambda: pk.encrypt(m)),
            "decrypt_ms": median_ms(lambda: sk.decrypt(c)),
            "mul_scalar64_ms": median_ms(lambda: c * k),
        }
        assert sk.decrypt(c * k) == m * k
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
