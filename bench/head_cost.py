"""Benchmark: what the umap-gmm head costs inside an evaluation, and how much of it is numba's
one-off compilation (paid once per worker process; Ray reuses its worker processes).

In a fresh Python process: import umap, then cluster the same codes with the head three times (the
first call compiles UMAP's numba functions), and k-means once for comparison. Codes: the encoder
output of 2000 Fashion-MNIST validation images is about (2000, 10-64); random Gaussian blobs of that
shape stand in here, as the head's cost depends on the shape, not on the values.

    .venv/bin/python bench/head_cost.py --n 2000 --dim 32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _proc import machine

RESULTS = Path(__file__).parent / "results"

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from evonas.learn.heads import cluster_codes
imported = time.perf_counter() - t0
n, dim = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
centres = rng.normal(size=(10, dim)) * 3
z = (centres[rng.integers(0, 10, n)] + rng.normal(size=(n, dim))).astype(np.float32)
calls = []
for _ in range(3):
    t = time.perf_counter(); cluster_codes(z, 10, "umap-gmm", 0); calls.append(time.perf_counter() - t)
t = time.perf_counter(); cluster_codes(z, 10, "kmeans", 0, 4); km = time.perf_counter() - t
print(json.dumps({"import_s": imported, "umap_gmm_calls_s": calls, "kmeans_s": km}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()
    out = subprocess.run([sys.executable, "-c", PROBE, str(args.n), str(args.dim)], capture_output=True,
                         text=True, check=True, env={"OMP_NUM_THREADS": "1", "HOME": "/tmp"})  # fmt: skip
    row = {"n": args.n, "dim": args.dim, **json.loads(out.stdout.strip().splitlines()[-1])}

    def rounded(v: object) -> object:
        return [round(x, 2) for x in v] if isinstance(v, list) else round(v, 2) if isinstance(v, float) else v

    row = {k: rounded(v) for k, v in row.items()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "head_cost.json").write_text(json.dumps({**machine(), **row}, indent=2) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
