"""Time to build a 10-run PDF report (target: under 5 s on the 2-core build machine).

The runs are inserted into a temporary store with realistic statistics and 2,000 raw
samples each; the time covers reading them, laying out every page and writing the file.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
from report_runs import MIB, add_run

from engines.report.build import ReportRequest, write_report
from engines.store.db import Store


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.sqlite") as store:
        ids = tuple(
            add_run(
                store,
                f"resnet18 variant {n}",
                runtime=("onnxruntime", "litert")[n % 2],
                device=("local", "pi5")[n // 5],
                p50_ms=4.0 + n,
                size_bytes=(44 - 3 * n) * MIB,
                top1=0.70 - 0.002 * n,
                seed=n + 1,
                count=2000,
            )
            for n in range(10)
        )
        times, pages = [], 0
        for attempt in range(3):
            start = time.perf_counter()
            final = write_report(
                ReportRequest(run_ids=ids, out=Path(folder) / f"r{attempt}.pdf"), store
            )
            times.append(time.perf_counter() - start)
            pages = final["pages"]
    print(
        f"report of 10 runs ({pages} pages, 2000 samples each): "
        f"median {statistics.median(times):.2f} s"
        f" (min {min(times):.2f} s, 3 builds; target < 5 s)"
    )


if __name__ == "__main__":
    main()
