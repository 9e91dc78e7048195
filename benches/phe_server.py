#!/usr/bin/env python3
"""The minimal encrypted-scoring server a python-paillier (phe 1.5.0) user writes today: the
hand-written loop (multiply each EncryptedNumber by its weight, sum, add the intercept) behind
http.server, one request at a time (the GIL: one core). It speaks the same JSON as
`shroud serve-model` for unpacked requests, so `shroud bench serve --with-phe` drives both with
the same bodies. No limits, no validation: the baseline, not a service.

usage: phe_server.py PORT MODEL_JSON
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from phe import paillier

model = json.load(open(sys.argv[2]))
coef = model["coef"][0] if isinstance(model["coef"][0], list) else model["coef"]
b = model["intercept"][0] if isinstance(model["intercept"], list) else model["intercept"]
sc = model.get("scaler") or {"mean": [0.0] * len(coef), "scale": [1.0] * len(coef)}
W = [c / s for c, s in zip(coef, sc["scale"])]
B = b - sum(w * m for w, m in zip(W, sc["mean"]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        pk = paillier.PaillierPublicKey(n=int(body["public_key"]["n"]))
        rows = body["rows"] if "rows" in body else [body["values"]]
        out = []
        for row in rows:
            enc = [paillier.EncryptedNumber(pk, int(c), int(e)) for c, e in row]
            s = enc[0] * W[0]
            for x, w in zip(enc[1:], W[1:]):
                s = s + x * w
            s = s + B
            # ciphertext() obfuscates (rerandomizes) before it leaves, as phe does by default
            out.append({"values": [[str(s.ciphertext()), s.exponent]]})
        answer = json.dumps({"rows": out} if "rows" in body else out[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
