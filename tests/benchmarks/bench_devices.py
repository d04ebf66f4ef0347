"""Remote-run overhead on the loopback SSH device (`make bench`).

The same spec runs locally and on an SSH device whose sshd listens on 127.0.0.1, so any
difference is the cost of the remote path: uploads, the connection, the event stream.
Local and remote jobs are interleaved (local, remote, local, remote, ...) so machine drift
hits both. On loopback the "device" shares this machine's cores with the ssh client and
server that carry its events, which a real board does not: so the ratio is measured with
1 thread (a core left for the transport, as on a real device) and with 2 (every core
busy, the transport competing with the model). Prints, for each:

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
THREAD_COUNTS = (1, 2)
ROUNDS = 9


def job(request, store, device) -> tuple[float, float]:
    """(p50 ms, wall seconds) of one profile job."""
    from engines.pipeline.profile import profile

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


def compare(threads: int, remote, model: Path, store) -> dict:
    """Interleaved rounds of the same job on this machine and on the loopback device."""
    from engines.devices.local import LocalDevice
    from engines.floor.spec import RunPolicy
    from engines.pipeline.profile import ProfileRequest

    local = LocalDevice()
    policy = RunPolicy(warmup_runs=20, warmup_min_s=0.5, min_runs=200, min_s=2.0)
    request = ProfileRequest(str(model), "onnxruntime", threads=threads, policy=policy)
    ratios, local_walls, remote_walls = [], [], []
    for _ in range(ROUNDS):
        local_p50, local_wall = job(request, store, local)
        remote_p50, remote_wall = job(request, store, remote)
        ratios.append(remote_p50 / local_p50)
        local_walls.append(local_wall)
        remote_walls.append(remote_wall)
        print(
            f"  {threads} thread(s): local p50 {local_p50:.3f} ms, remote {remote_p50:.3f} ms, "
            f"ratio {remote_p50 / local_p50:.3f}; wall {local_wall:.2f} s vs {remote_wall:.2f} s"
        )
    return {
        "ratio": statistics.median(ratios),
        "local_wall": statistics.median(local_walls),
        "remote_wall": statistics.median(remote_walls),
        "policy": policy,
    }


def main() -> None:
    from bench_harness import mobilenet_onnx
    from support.sshd import SshServer

    from engines.devices.host_keys import accept, scan
    from engines.devices.ssh import SshDevice, ssh_argv
    from engines.pipeline.profile import ProfileRequest
    from engines.store.db import Store

    model = mobilenet_onnx()  # cached in the user data dir, like bench_harness
    work = Path(tempfile.mkdtemp(prefix="edgebench-bench-devices-"))
    os.environ["EDGEBENCH_HOME"] = str(work / "home")  # known_hosts and runs stay here
    server = SshServer.create(work / "sshd").start()
    remote = SshDevice(server.profile(work / "device cache", name="loopback"))
    accept(scan(remote.connection))
    try:
        with Store(work / "runs.sqlite") as store:
            first = ProfileRequest(str(model), "onnxruntime", threads=1)
            _, first_remote_s = job(first, store, remote)
            results = {threads: compare(threads, remote, model, store) for threads in THREAD_COUNTS}
        reused = command_s([*ssh_argv(remote.connection), "true"])
        fresh_argv = [*ssh_argv(remote.connection)]
        fresh_argv[fresh_argv.index("ControlMaster=auto")] = "ControlMaster=no"
        control = next(a for a in fresh_argv if a.startswith("ControlPath="))
        fresh_argv[fresh_argv.index(control)] = "ControlPath=none"
        fresh = command_s([*fresh_argv, "true"])
    finally:
        remote.close()
        server.stop()

    policy = results[THREAD_COUNTS[0]]["policy"]
    print(f"mobilenet_v2 224 ONNX on onnxruntime, {ROUNDS} interleaved rounds per thread count,")
    print(
        f"each job {policy.min_runs} runs / {policy.min_s:g} s minimum; device = sshd on 127.0.0.1"
    )
    for threads, r in results.items():
        ratio = r["ratio"]
        verdict = "within target" if abs(ratio - 1) <= 0.03 else "OUTSIDE target"
        print(
            f"{threads} thread(s): 1. p50 remote / local {ratio:.3f} ({(ratio - 1) * 100:+.1f}%, "
            f"target within 3%: {verdict}); 2. wall per job {r['local_wall']:.2f} s local, "
            f"{r['remote_wall']:.2f} s remote: {r['remote_wall'] - r['local_wall']:+.2f} s extra"
        )
    print(f"3. first remote job (new connection, agent + model upload): {first_remote_s:.2f} s")
    print(
        f"4. one remote command: {reused * 1000:.0f} ms through the shared connection, "
        f"{fresh * 1000:.0f} ms with a fresh handshake ({fresh / reused:.1f}x); both include "
        "the device's login shell start-up"
    )


if __name__ == "__main__":
    main()
