"""python -m bench [cluster_checks options]: run the benchmarks against the lab."""
from __future__ import annotations

import sys

from bench import cluster_checks

if __name__ == "__main__":
    sys.exit(cluster_checks.main(sys.argv[1:]))
