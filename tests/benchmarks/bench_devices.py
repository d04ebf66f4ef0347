"""Remote-run overhead on the loopback SSH device (`make bench`).

The same spec runs locally and on an SSH device whose sshd listens on 127.0.0.1, so any
difference is the cost of the remote path: uploads, the connection, the event stream.
Local and remote jobs are interleaved (local, remote, local, remote, ...) so machine drift
hits both. Prints:

1. the median of the per-round p50 ratios remote / local (target: within 3%);
2. wall time per job, local vs remote with the shared connection (ControlMaster) warm,
   and the extra wall time per remote job;
3. the first remote job (agent and model upload, new connection) for reference;
4. one remote command through the shared connection vs a fresh handshake.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]
THREADS = 2
ROUNDS = 5


def job(request, store, device) -> tuple[float, float]:
    """(p50 ms, wall seconds) of one profile job."""
    from engines.bench.profile import profile

    t0 = time.perf_counter()
    result = None
    for event in profile(request, store, device):
        if event["type"] == "result":
            result = event
        elif event["type"] == "error":
            raise SystemExit(f"{device.name}: {event['message']}\n{event.get('details', '')}")
    assert result is not None
    return result["statistics"]["p50_ms"], time.perf_counter() - t0


def command_s(argv: list[str], repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from bench_harness import mobilenet_onnx
    from support.sshd import SshServer

    from engines.bench.profile import ProfileRequest
    from engines.bench.spec import RunPolicy
    from engines.devices.host_keys import accept, scan
    from engines.devices.local import LocalDevice
    from engines.devices.ssh import SshDevice, ssh_argv
    from engines.store.db import Store

    model = mobilenet_onnx()  # cached in the user data dir, like bench_harness
    work = Path(tempfile.mkdtemp(prefix="edgebench-bench-devices-"))
    os.environ["EDGEBENCH_HOME"] = str(work / "home")  # known_hosts and runs stay here
    server = SshServer.create(work / "sshd").start()
    remote = SshDevice(server.profile(work / "device cache", name="loopback"))
    accept(scan(remote.connection))
    local = LocalDevice()
    policy = RunPolicy(warmup_runs=20, warmup_min_s=1.0, min_runs=300, min_s=3.0)
    request = ProfileRequest(str(model), "onnxruntime", threads=THREADS, policy=policy)
    try:
        with Store(work / "runs.sqlite") as store:
            _, first_remote_s = job(request, store, remote)
            ratios, local_walls, remote_walls = [], [], []
            for _ in range(ROUNDS):
                local_p50, local_wall = job(request, store, local)
                remote_p50, remote_wall = job(request, store, remote)
                ratios.append(remote_p50 / local_p50)
                local_walls.append(local_wall)
                remote_walls.append(remote_wall)
                print(
                    f"  round: local p50 {local_p50:.3f} ms, remote p50 {remote_p50:.3f} ms, "
                    f"ratio {remote_p50 / local_p50:.3f}; wall {local_wall:.2f} s vs "
                    f"{remote_wall:.2f} s"
                )
        reused = command_s([*ssh_argv(remote.connection), "true"])
        fresh_argv = [*ssh_argv(remote.connection)]
        fresh_argv[fresh_argv.index("ControlMaster=auto")] = "ControlMaster=no"
        fresh_argv[
            fresh_argv.index(next(a for a in fresh_argv if a.startswith("ControlPath=")))
        ] = "ControlPath=none"
        fresh = command_s([*fresh_argv, "true"])
    finally:
        remote.close()
        server.stop()

    median_ratio = statistics.median(ratios)
    extra_s = statistics.median(remote_walls) - statistics.median(local_walls)
    print(f"mobilenet_v2 224 ONNX, onnxruntime, {THREADS} threads, {ROUNDS} interleaved rounds,")
    print(f"each job: {policy.min_runs} runs / {policy.min_s:g} s minimum")
    print(
        f"1. p50 remote / local (median of rounds): {median_ratio:.3f} "
        f"({(median_ratio - 1) * 100:+.1f}%; target within 3%): "
        + ("within target" if abs(median_ratio - 1) <= 0.03 else "OUTSIDE target")
    )
    print(
        f"2. wall per job: local {statistics.median(local_walls):.2f} s, remote "
        f"{statistics.median(remote_walls):.2f} s with the connection reused: "
        f"{extra_s:+.2f} s extra per remote job"
    )
    print(f"3. first remote job (new connection, agent + model upload): {first_remote_s:.2f} s")
    print(
        f"4. one remote command: {reused * 1000:.0f} ms through the shared connection, "
        f"{fresh * 1000:.0f} ms with a fresh handshake ({fresh / reused:.1f}x)"
    )


if __name__ == "__main__":
    main()
