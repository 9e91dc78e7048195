# Side-by-side reference for `shroud bench psi`: OpenMined PSI 2.0.6 (pip install
# openmined.psi==2.0.6) on the same N x N sets. Usage: python3 openmined_psi.py 100000 gcs|raw intersection
# OpenMined PSI 2.0.6 on N x N with half shared, one thread, as the issue describes.
import sys, time
import private_set_intersection.python as psi
n = int(sys.argv[1]); ds = sys.argv[2]; reveal = sys.argv[3] == "intersection"
fpr = 1e-9
server_items = ["patient-%09d" % i for i in range(n // 2)] + ["server-only-%09d" % i for i in range(n - n // 2)]
client_items = ["patient-%09d" % i for i in range(n // 2)] + ["client-only-%09d" % i for i in range(n - n // 2)]
structure = {"raw": psi.DataStructure.RAW, "gcs": psi.DataStructure.GCS, "bloom": psi.DataStructure.BLOOM_FILTER}[ds]
t0 = time.time()
c = psi.client.CreateWithNewKey(reveal)
s = psi.server.CreateWithNewKey(reveal)
req = c.CreateRequest(client_items)
t1 = time.time()
setup = s.CreateSetupMessage(fpr, len(client_items), server_items, structure)
t2 = time.time()
resp = s.ProcessRequest(req)
t3 = time.time()
if reveal:
    out = len(c.GetIntersection(setup, resp))
else:
    out = c.GetIntersectionSize(setup, resp)
t4 = time.time()
print({"ds": ds, "n": n, "size": out, "client_request_s": t1-t0, "server_setup_s": t2-t1, "server_process_s": t3-t2, "client_finish_s": t4-t3, "total_s": t4-t0,
       "request_bytes": req.ByteSize(), "setup_bytes": setup.ByteSize(), "response_bytes": resp.ByteSize()})
