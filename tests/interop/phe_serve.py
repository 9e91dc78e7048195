#!/usr/bin/env python3
"""A python-paillier (phe 1.5.0) client of `shroud serve-model`: the code a phe user writes,
with no shroud code. Encrypts records, posts them, decrypts the scores and compares them with
the plaintext score computed from the model file. Standard library + phe only.

usage: phe_serve.py URL MODEL_JSON
"""
import json
import sys
import urllib.error
import urllib.request

import phe
from phe import paillier


def post(url, body):
    req = urllib.request.Request(url + "/v1/score", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def plaintext_score(model, x):
    coef = model["coef"][0] if isinstance(model["coef"][0], list) else model["coef"]
    b = model["intercept"][0] if isinstance(model["intercept"], list) else model["intercept"]
    sc = model.get("scaler") or {"mean": [0.0] * len(coef), "scale": [1.0] * len(coef)}
    return b + sum(c * (v - m) / s for c, v, m, s in zip(coef, x, sc["mean"], sc["scale"]))


def close(got, want, x):
    # the weights and the intercept are fixed point at 16^-11
    bound = 16.0 ** -11 * (1 + sum(abs(v) for v in x)) + 1e-12 * max(1.0, abs(want))
    return abs(got - want) <= bound


def main():
    url, model_path = sys.argv[1], sys.argv[2]
    model = json.load(open(model_path))
    with urllib.request.urlopen(url + "/v1/model", timeout=60) as r:
        meta = json.load(r)
    d = meta["n_features"]
    assert meta["features"] == model["features"], meta
    assert "coef" not in json.dumps(meta)
    rows = [[30.0 + i, 0.7 + 0.13 * i, 95.5 + 3 * i, -0.05 * i, 1234.5678 * (i + 1)][:d]
            for i in range(12)]
    checked = 0
    for bits in (2048, 3072):
        pk, sk = paillier.generate_paillier_keypair(n_length=bits)
        enc = [[pk.encrypt(v) for v in row] for row in rows]
        ser = lambda row: [(str(c.ciphertext()), c.exponent) for c in row]

        # one record, n and g as JSON integers (json.dumps of Python ints)
        status, ans = post(url, {"public_key": {"g": pk.g, "n": pk.n}, "values": ser(enc[0])})
        assert status == 200, ans
        c, e = ans["values"][0]
        got = sk.decrypt(paillier.EncryptedNumber(pk, int(c), int(e)))
        want = plaintext_score(model, rows[0])
        assert close(got, want, rows[0]), (bits, got, want)
        print(f"ok  phe {bits}-bit single record: {got:.12f} (plaintext {want:.12f})")
        checked += 1

        # a batch, n and g as decimal strings
        key = {"g": str(pk.g), "n": str(pk.n)}
        status, ans = post(url, {"public_key": key, "rows": [ser(r) for r in enc[:5]]})
        assert status == 200, ans
        for row, item in zip(rows, ans["rows"]):
            c, e = item["values"][0]
            got = sk.decrypt(paillier.EncryptedNumber(pk, int(c), int(e)))
            assert close(got, plaintext_score(model, row), row), (bits, got)
            checked += 1
        print(f"ok  phe {bits}-bit batch of 5")

        # packed: one raw decryption per pack, slots cut and offset removed
        status, ans = post(url, {"public_key": key, "rows": [ser(r) for r in enc], "pack": True})
        assert status == 200, ans
        p = ans["packed"]
        B, k, e = p["slot_bits"], p["slots"], p["exponent"]
        assert len(p["ciphertexts"]) == -(-len(rows) // k), p
        got = []
        for c in p["ciphertexts"]:
            m = sk.raw_decrypt(int(c))
            for j in range(min(k, len(rows) - len(got))):
                slot = (m >> (j * B)) & ((1 << B) - 1)
                got.append((slot - (1 << (B - 1))) * 16.0 ** e)
        for g, row in zip(got, rows):
            assert close(g, plaintext_score(model, row), row), (bits, g)
            checked += 1
        print(f"ok  phe {bits}-bit packed batch of {len(rows)}: {len(p['ciphertexts'])} "
              f"ciphertexts of {k} slots x {B} bits")

    # a key below the minimum gets a 4xx naming the problem
    small, _ = paillier.generate_paillier_keypair(n_length=1024)
    status, ans = post(url, {"public_key": {"g": small.g, "n": small.n},
                             "values": [(str(small.encrypt(1.0).ciphertext()), 0)] * d})
    assert status == 422 and ans["error"]["code"] == "key_too_small", (status, ans)
    print("ok  a 1024-bit phe key is refused: " + ans["error"]["message"])
    print(f"{checked + 1} passed, 0 failed")


if __name__ == "__main__":
    main()
