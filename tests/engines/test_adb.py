"""ADB devices, tested without a phone.

No Android device is attached where these tests run, so the `adb` binary is faked: a
runner that records each argv and answers from recorded output (tests/support/adb/, see
its README for where each recording comes from), and for the python mode a small fake
`adb` program that runs the device's shell line on this machine. What is tested is ours:
parsing of real `benchmark_model`, `getprop` and `adb devices -l` output (figures exact),
command building and quoting, push verification, exit sentinels and the events a run
yields. How a real phone's adbd behaves is not tested here.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engines.devices import android
from engines.devices import benchmark_model as bm
from engines.devices.adb import (
    EXIT_MARK,
    AdbCancelled,
    AdbConnectionLost,
    AdbDevice,
    AdbError,
    adb_argv,
    list_devices,
    parse_exit_sentinel,
    remote_name,
    shell_argv,
    subprocess_runner,
    with_exit_sentinel,
)
from engines.devices.base import PhaseBudgets
from engines.devices.benchmark_model_device import BenchmarkModelDevice
from engines.devices.profile import AdbConnection, DeviceProfile
from engines.devices.remote import shell_command
from engines.floor.errors import BadInput
from engines.floor.events import parse_event
from engines.floor.spec import BenchSpec, ModelRef, RunPolicy

RECORDED = Path(__file__).resolve().parents[1] / "support" / "adb"
ODD = '/data/local/tmp/my dir/it\'s "here" $HOME `x`'


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def _valid(events: list[dict]) -> list[dict]:
    """Every event is schema-valid and the last one is the only result/error."""
    import json

    for event in events:
        parse_event(json.dumps(event).encode())
    finals = [e for e in events if e["type"] in ("result", "error")]
    assert len(finals) == 1 and events[-1] is finals[0], events
    return events


# --- benchmark_model output ----------------------------------------------------------


def test_parse_tflite_2_8_output_without_percentiles():
    out = bm.parse_output(recorded("benchmark_model_v2_8.txt"))
    assert out.warmup is not None and out.measured is not None
    assert (out.warmup.count, out.warmup.all_same, out.warmup.get("first")) == (1, True, 3512391)
    assert out.measured.count == 50
    assert out.measured.values == {
        "first": 2990275,
        "curr": 2913402,
        "min": 2727568,
        "max": 3189954,
        "avg": 2.95034e06,
        "std": 109798,
    }
    assert (out.init_us, out.first_us, out.warmup_avg_us, out.inference_avg_us) == (
        17187,
        3512391,
        3.51239e06,
        2.95034e06,
    )
    assert out.session_ms == 17.187
    assert (out.memory_init_mb, out.memory_overall_mb, out.peak_memory_mb) == (
        4.21094,
        46.0859,
        None,
    )
    assert out.model_size_mb == 16.9008
    assert out.errors == [] and not out.has_percentiles

    stats = bm.statistics(out)
    assert stats["count"] == 50
    assert stats["mean_ms"] == pytest.approx(2950.34)
    assert stats["std_ms"] == pytest.approx(109.798)
    assert stats["min_ms"] == pytest.approx(2727.568)
    assert stats["max_ms"] == pytest.approx(3189.954)
    assert stats["first_measured_ms"] == pytest.approx(2990.275)
    assert stats["last_measured_ms"] == pytest.approx(2913.402)
    assert stats["cv"] == pytest.approx(109798 / 2.95034e06)
    for key in ("p5_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "median_ci95_ms"):
        assert stats[key] is None
    assert "not reported" in stats["percentile_method"]


def test_parse_android_output_with_percentiles():
    out = bm.parse_output(recorded("benchmark_model_android_aarch64.txt"))
    assert out.goals == [5, 1000]
    assert out.warmup is not None and out.warmup.count == 9
    assert out.warmup.values["median"] == 51962
    stats = bm.statistics(out)
    assert stats["count"] == 1000
    assert stats["mean_ms"] == pytest.approx(63.7432)
    assert stats["std_ms"] == pytest.approx(60.716)
    assert (stats["min_ms"], stats["max_ms"]) == (pytest.approx(49.088), pytest.approx(686.105))
    assert stats["p5_ms"] == pytest.approx(49.620)
    assert stats["p50_ms"] == pytest.approx(51.891)
    assert stats["p95_ms"] == pytest.approx(68.628)
    assert stats["p90_ms"] is None and stats["p99_ms"] is None
    assert "benchmark_model's own p5/median/p95" in stats["percentile_method"]
    assert stats["throughput_per_s"] == pytest.approx(1000 / 63.7432)
    # CV = 0.95: the tool saw an outlier of 686 ms; our warning says so.
    assert any(w.startswith("CV is") for w in stats["warnings"])
    assert (out.init_us, out.first_us) == (119515, 87112)
    assert (out.memory_init_mb, out.memory_overall_mb) == (55.4961, 55.4961)


def test_memory_lines_old_and_new_wording_and_periodic_peak():
    old = bm.parse_output(recorded("benchmark_model_v2_3_peak.txt"))
    assert (old.memory_init_mb, old.memory_overall_mb) == (4.92969, 138.809)
    assert old.warmup is None and old.measured is not None and old.measured.count == 50
    peak = bm.parse_output(recorded("benchmark_model_peak_memory.txt"))
    assert (peak.memory_init_mb, peak.memory_overall_mb, peak.peak_memory_mb) == (
        2.43359,
        8.67578,
        93.2383,
    )
    assert peak.measured is not None and peak.measured.count == 1061
    # MB printed as KB/1024 with six digits: back to whole KiB.
    assert bm.mb_to_bytes(4.21094) == 4312 * 1024
    assert bm.mb_to_bytes(46.0859) == 47192 * 1024
    assert bm.mb_to_bytes(93.2383) == 95476 * 1024
    assert bm.mb_to_bytes(None) is None


def test_stats_line_forms():
    same = bm.parse_stats_line("count=50 curr=1234(all same)")
    assert same is not None and same.all_same and same.get("avg") == 1234 and same.get("std") == 0
    single = bm.parse_stats_line("INFO: count=1 curr=1357602 p5=1357602 median=1357602 p95=1357602")
    assert single is not None and single.count == 1 and single.get("median") == 1357602
    assert bm.parse_stats_line("Timings (microseconds): count=50 first=1 curr=2") is None
    assert bm.parse_stats_line("Memory (bytes): count=0") is None
    assert bm.parse_stats_line("count=oops") is None


def test_failed_run_output():
    out = bm.parse_output(recorded("benchmark_model_failed.txt"))
    assert out.measured is None
    assert out.errors[-1] == "Benchmarking failed."
    message = bm.failure_message(out, 1)
    assert message == "benchmark_model failed (exit code 1): Failed to allocate tensors!"
    with pytest.raises(bm.OutputError):
        bm.statistics(out)


def test_flags_follow_the_run_policy():
    policy = RunPolicy(warmup_runs=0, warmup_min_s=0.25, min_runs=80, min_s=3, max_s=60)
    spec = BenchSpec(ModelRef("m.tflite", "tflite"), "litert", policy=policy)
    assert bm.flags(spec, "/d/model.tflite", 4) == [
        "--graph=/d/model.tflite",
        "--num_threads=4",
        "--num_runs=80",
        "--min_secs=3",
        "--max_secs=60",
        "--warmup_runs=1",
        "--warmup_min_secs=0.25",
    ]
    assert "--num_threads" not in " ".join(bm.flags(spec, "/d/m.tflite", None))


# --- getprop, adb devices -l, info -----------------------------------------------------


def test_getprop_multiline_brackets_and_empty_values():
    props = android.parse_getprop(recorded("getprop_emulator_api34.txt"))
    assert props["ro.build.version.sdk"] == "34"
    assert props["ro.product.cpu.abi"] == "x86_64"
    assert props["persist.sys.boot.reason.history"] == (
        "reboot,1732006385\nreboot,factory_reset,1731934106\nreboot,1731933991"
    )
    assert props["persist.sys.boot.reason"] == "" and props["ro.board.platform"] == ""
    assert len(props) == recorded("getprop_emulator_api34.txt").count("]: [")
    other = android.parse_getprop(recorded("getprop_brackets.txt").replace("\n", "\r\n"))
    assert other["ro.build.description"] == "aristotle-user 14 UKQ1.230804.001 [release-keys]"
    assert other["persist.vide"] == "" and other["ro.product.manufacturer"] == "Xiaomi"
    assert android.parse_getprop("no props here\n") == {}


def test_adb_devices_list_and_transports():
    devices = android.parse_devices(recorded("adb_devices_l.txt"))
    table = {d.serial: (d.state, d.transport, d.model, d.unencrypted_tcp) for d in devices}
    assert table == {
        "emulator-5556": ("device", "emulator", "Android_SDK_built_for_x86_64", False),
        "0a388e93": ("device", "usb", "Nexus_7", False),
        "R3CR90XXXXXX": ("unauthorized", "usb", "", False),
        "192.168.1.50:5555": ("device", "tcpip", "SM_A528N", True),
        "adb-10AE942CBM001DJ-E5Zu7M (2)._adb-tls-connect._tcp": ("device", "tls", "V2339FA", False),
        "192.168.1.77:5555": ("offline", "tcpip", "", True),
    }
    usb = next(d for d in devices if d.serial == "0a388e93")
    assert (usb.usb, usb.transport_id, usb.device, usb.product) == ("1-1", 1, "flo", "razor")
    assert android.classify_serial("[fe80::1]:5555") == "tcpip"
    assert android.classify_serial("adb-XYZ._adb._tcp") == "mdns"
    perm = android.parse_devices(
        "List of devices attached\n0123456789ABCDEF       no permissions (user in plugdev "
        "group; are your udev rules wrong?); see [http://developer.android.com/tools/"
        "device.html] usb:1-1 transport_id:7\n"
    )
    assert [(d.serial, d.state, d.usb) for d in perm] == [
        ("0123456789ABCDEF", "no permissions", "1-1")
    ]


def test_list_devices_through_the_runner():
    calls = []

    def runner(argv, timeout_s):
        calls.append(argv)
        return 0, recorded("adb_devices_l.txt"), ""

    devices = list_devices("/opt/platform tools/adb", runner)
    assert calls == [["/opt/platform tools/adb", "devices", "-l"]]
    assert len(devices) == 6

    def failing(argv, timeout_s):
        return 1, "", "adb: cannot connect to daemon\n"

    with pytest.raises(AdbError, match="cannot connect to daemon"):
        list_devices("adb", failing)


def test_info_sections_parse_to_facts():
    code, output = parse_exit_sentinel(recorded("info_script_output.txt"))
    assert code == 0
    facts = android.android_info(android.split_sections(output))
    assert facts["os"] == "Android 14 (API 34)"
    assert facts["api_level"] == 34
    assert facts["abi"] == "x86_64"
    assert facts["abi_list"] == ["x86_64", "arm64-v8a"]
    assert facts["machine"] == "aarch64"
    assert facts["hostname"] == "localhost"
    assert facts["kernel"].startswith("6.1.23-android14")
    assert facts["cpu_model"] == "AOSP ranchu"
    assert facts["logical_cores"] == 8
    assert facts["ram_bytes"] == 8049404 * 1024
    assert facts["manufacturer"] == "Google"
    assert facts["model"] == "sdk_gphone64_x86_64"
    assert facts["board"] == "goldfish_x86_64"
    assert facts["isa_flags"] == ["asimd", "asimddp", "fphp"]
    assert facts["cpu_governor"] == "schedutil"
    assert facts["cpu_temperature_c"] == 47.8  # hottest cpu zone, not the battery


def test_cpu_model_falls_back_to_cpuinfo_hardware():
    sections = {"cpuinfo": "processor\t: 0\nHardware\t: Qualcomm Technologies, Inc SM8150\n"}
    facts = android.android_info(sections)
    assert facts["cpu_model"] == "Qualcomm Technologies, Inc SM8150"
    assert facts["logical_cores"] == 1 and facts["os"] is None


# --- command building and sentinels ---------------------------------------------------


def test_adb_argv_keeps_odd_serials_as_one_argument():
    serial = "adb-10AE942CBM001DJ-E5Zu7M (2)._adb-tls-connect._tcp"
    c = AdbConnection(serial=serial, adb="/opt/my sdk/adb")
    assert adb_argv(c, "push", "a b", "c") == ["/opt/my sdk/adb", "-s", serial, "push", "a b", "c"]
    assert adb_argv(AdbConnection(), "devices") == ["adb", "devices"]
    quoted = AdbConnection(serial="we\"ird 'one'")
    assert adb_argv(quoted, "shell", "x")[:3] == ["adb", "-s", "we\"ird 'one'"]


def test_shell_lines_quote_every_word_in_a_real_shell(tmp_path):
    line = shell_command(["printf", "%s\\n", ODD, "--graph=" + ODD])
    argv = shell_argv(AdbConnection(serial="S"), line)
    assert argv[:4] == ["adb", "-s", "S", "shell"] and len(argv) == 5
    assert argv[4] == line + f"; echo {EXIT_MARK}$?"
    assert shlex.split(line) == ["printf", "%s\\n", ODD, "--graph=" + ODD]
    # The device's shell sees exactly our words, and the sentinel reports the status.
    done = subprocess.run(["sh", "-c", argv[4]], capture_output=True, text=True, check=True)
    code, output = parse_exit_sentinel(done.stdout)
    assert (code, output.split("\n")) == (0, [ODD, "--graph=" + ODD])
    failed = subprocess.run(
        ["sh", "-c", with_exit_sentinel("sh -c 'exit 3'")], capture_output=True, text=True
    )
    assert parse_exit_sentinel(failed.stdout) == (3, "")


def test_sentinel_parsing():
    assert parse_exit_sentinel(f"a\nb\n{EXIT_MARK}0\n") == (0, "a\nb")
    assert parse_exit_sentinel(f"out\r\n{EXIT_MARK}127\r\n\r\n") == (127, "out")
    # A sentinel-looking line in the middle of the output is not the end of it.
    with pytest.raises(AdbConnectionLost, match="connection to the device was lost"):
        parse_exit_sentinel(f"{EXIT_MARK}0\nmore output, then the link dropped\n")
    with pytest.raises(AdbConnectionLost):
        parse_exit_sentinel("")


def test_remote_names_are_hash_based_only():
    sha = "ab" * 32
    assert remote_name(ODD, "model", sha, ".tflite") == f"{ODD}/model-{sha[:32]}.tflite"
    with pytest.raises(ValueError):
        remote_name("/w", "model", "../../etc/passwd", "")
    with pytest.raises(ValueError):
        remote_name("/w", "model", sha, ".tflite; rm -rf /")


# --- a fake adb: records argv, keeps a device file system in a dict --------------------


class FakeAdb:
    """Answers adb argv the way a device would, from recorded output."""

    def __init__(self, benchmark_output: str = "", corrupt_push: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.files: dict[str, str] = {}  # device path -> sha256
        self.benchmark_output = benchmark_output
        self.benchmark_status = 0
        self.corrupt_push = corrupt_push
        self.drop_benchmark = False

    def __call__(self, argv: list[str], timeout_s: float) -> tuple[int, str, str]:
        self.calls.append(argv)
        args = argv[3:] if argv[1:2] == ["-s"] else argv[1:]
        if args[0] == "devices":
            return 0, recorded("adb_devices_l.txt"), ""
        if args[0] == "push":
            local, remote = args[1], args[2]
            digest = hashlib.sha256(Path(local).read_bytes()).hexdigest()
            self.files[remote] = ("0" * 64) if self.corrupt_push else digest
            return 0, f"{local}: 1 file pushed, 0 skipped.\n", ""
        assert args[0] == "shell" and len(args) == 2
        line = args[1]
        assert line.endswith(f"; echo {EXIT_MARK}$?")
        line = line[: -len(f"; echo {EXIT_MARK}$?")]
        if line.endswith(" 2>&1"):
            line = line[: -len(" 2>&1")]
        words = shlex.split(line)
        status, out = self.shell(words)
        if status is None:
            return 255, out, "error: closed\n"
        return 0, f"{out}{EXIT_MARK}{status}\n", ""

    def shell(self, words: list[str]) -> tuple[int | None, str]:
        if words[:2] == ["sh", "-c"] and words[2] == android.INFO_SCRIPT:
            return 0, parse_exit_sentinel(recorded("info_script_output.txt"))[1] + "\n"
        if words[:2] == ["mkdir", "-p"]:
            return 0, ""
        if words[0] == "sha256sum":
            path = words[1]
            if path in self.files:
                return 0, f"{self.files[path]}  {path}\n"
            return 1, f"sha256sum: {path}: No such file or directory\n"
        if words[:2] == ["mv", "-f"]:
            self.files[words[3]] = self.files.pop(words[2])
            return 0, ""
        if words[:2] == ["rm", "-f"]:
            self.files.pop(words[2], None)
            return 0, ""
        if any(w.startswith("--graph=") for w in words):
            if self.drop_benchmark:
                return None, self.benchmark_output[:200]
            return self.benchmark_status, self.benchmark_output
        raise AssertionError(f"unexpected device command {words}")

    def commands(self) -> list[list[str]]:
        """The device commands run, as words (sentinels stripped), and adb pushes."""
        out = []
        for argv in self.calls:
            args = argv[3:] if argv[1:2] == ["-s"] else argv[1:]
            if args[0] == "shell":
                body = args[1][: -len(f"; echo {EXIT_MARK}$?")].removesuffix(" 2>&1")
                out.append(shlex.split(body))
            else:
                out.append(args)
        return out


def _profile(serial: str = "0a388e93", mode: str = "benchmark_model", **conn) -> DeviceProfile:
    connection = AdbConnection(serial=serial, mode=mode, **conn)
    return DeviceProfile(name="phone", kind="adb", connection=connection)


def _tool(profile: DeviceProfile, runner: Any = None) -> BenchmarkModelDevice:
    """A benchmark_model device answered by `runner` (a FakeAdb) instead of a phone."""
    return BenchmarkModelDevice(profile, runner=runner)


def _model(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "odd name's model.tflite"
    path.write_bytes(b"TFL3" + bytes(range(200)))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_verifies_then_renames_and_reuses(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb()
    device = _tool(_profile(work_dir=ODD), runner=fake)
    final = device.push(model, "model", ".tflite")
    assert final == f"{ODD}/model-{sha[:32]}.tflite"
    commands = fake.commands()
    tmp = commands[2][2]
    assert tmp.startswith(f"{ODD}/.tmp-model-{sha[:16]}-")
    assert commands == [
        ["mkdir", "-p", ODD],
        ["sha256sum", final],
        ["push", str(model.resolve()), tmp],
        ["sha256sum", tmp],
        ["mv", "-f", tmp, final],
    ]
    assert fake.files == {final: sha}
    assert all(c[1:3] == ["-s", "0a388e93"] for c in fake.calls)

    fake.calls.clear()
    assert device.push(model, "model", ".tflite") == final
    assert fake.commands() == [["mkdir", "-p", ODD], ["sha256sum", final]]  # reused


def test_push_hash_mismatch_is_a_clear_error_and_nothing_is_renamed(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(corrupt_push=True)
    device = _tool(_profile(), runner=fake)
    with pytest.raises(AdbError, match="failed verification") as caught:
        device.push(model, "model", ".tflite")
    assert sha in caught.value.message and "nothing was renamed" in caught.value.message
    commands = fake.commands()
    assert not any(c[:2] == ["mv", "-f"] for c in commands)
    assert commands[-1][:2] == ["rm", "-f"]  # the temporary file is removed
    assert fake.files == {}


def test_push_failure_reports_adb_s_reason(tmp_path):
    model, _ = _model(tmp_path)

    def runner(argv, timeout_s):
        if "push" in argv:
            return 1, "", "adb: error: failed to copy: remote No space left on device\n"
        return FakeAdb()(argv, timeout_s)

    device = _tool(_profile(), runner=runner)
    with pytest.raises(AdbError, match="No space left on device"):
        device.push(model, "model", ".tflite")


def test_missing_sentinel_is_a_lost_connection():
    def runner(argv, timeout_s):
        return 0, "half an answ", ""

    with pytest.raises(AdbConnectionLost):
        _tool(_profile(), runner=runner).shell("true")

    def gone(argv, timeout_s):
        return 1, "", "error: device '0a388e93' not found\n"

    with pytest.raises(AdbError, match="not found: check `adb devices`"):
        _tool(_profile(), runner=gone).shell("true")


def test_info_in_one_shell_call_and_tcpip_warning():
    fake = FakeAdb()
    facts = _tool(_profile(serial="192.168.1.50:5555"), runner=fake).info()
    assert len(fake.calls) == 1 and fake.commands()[0][:2] == ["sh", "-c"]
    assert facts["os"] == "Android 14 (API 34)" and facts["transport"] == "tcpip"
    assert facts["kind"] == "benchmark_model" and facts["serial"] == "192.168.1.50:5555"
    assert len(facts["warnings"]) == 1 and "not encrypted" in facts["warnings"][0]
    usb = _tool(_profile(), runner=FakeAdb()).info()
    assert usb["warnings"] == [] and usb["transport"] == "usb"
    tls = BenchmarkModelDevice(
        _profile(serial="adb-X-Y._adb-tls-connect._tcp"), runner=FakeAdb()
    ).info()
    assert tls["warnings"] == [] and tls["transport"] == "tls"


# --- benchmark_model runs end to end through the fake ---------------------------------

POLICY = RunPolicy(warmup_runs=5, warmup_min_s=0.5, min_runs=1000, min_s=1, max_s=150)


def _bm_spec(model: Path, sha: str, **extra) -> BenchSpec:
    return BenchSpec(
        ModelRef(str(model), "tflite", sha), "litert", threads=4, policy=POLICY, **extra
    )


def test_benchmark_model_run_yields_schema_valid_events(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(recorded("benchmark_model_android_aarch64.txt"))
    device = BenchmarkModelDevice(
        _profile(serial="192.168.1.50:5555", benchmark_model=ODD), runner=fake
    )
    events = _valid(list(device.run(_bm_spec(model, sha))))
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases == ["verify", "measure", "finish"]
    warnings = [e for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert len(warnings) == 1 and "not encrypted" in warnings[0]["message"]

    final = f"/data/local/tmp/edgebench/model-{sha[:32]}.tflite"
    run = next(c for c in fake.commands() if c[0] == ODD)
    assert run == [
        ODD,
        f"--graph={final}",
        "--num_threads=4",
        "--num_runs=1000",
        "--min_secs=1",
        "--max_secs=150",
        "--warmup_runs=5",
        "--warmup_min_secs=0.5",
    ]

    result = events[-1]
    assert result["type"] == "result"
    assert result["load_ms"] == pytest.approx(119.515)
    assert result["first_ms"] == pytest.approx(87.112)
    assert result["warmup"] == {"runs": 9, "mean_ms": pytest.approx(58.1474)}
    stats = result["statistics"]
    assert stats["count"] == 1000 and stats["p50_ms"] == pytest.approx(51.891)
    assert stats["p99_ms"] is None and stats["source"] == "benchmark_model"
    assert result["samples"] == bm.SAMPLES_NOTE
    memory = result["memory"]
    assert memory["peak_rss_delta_bytes"] == 56828 * 1024
    assert memory["load_peak_rss_delta_bytes"] == 56828 * 1024
    assert memory["peak_rss_bytes"] is None and memory["rss_before_load_bytes"] is None
    assert memory["model_file_bytes"] == model.stat().st_size
    assert "APPROXIMATE" in memory["method"] and "ru_maxrss" in memory["method"]
    env = result["environment"]
    assert env["runtime"] == "benchmark_model" and env["threads"] == 4
    assert env["os"] == "Android 14 (API 34)" and env["model_sha256"] == sha
    assert result["runtime_options"]["flags"] == run[1:]
    assert result["benchmark_model"]["measured"]["count"] == 1000


def test_benchmark_model_old_output_and_batch_note(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(recorded("benchmark_model_v2_8.txt"))
    events = _valid(list(_tool(_profile(), runner=fake).run(_bm_spec(model, sha, batch=8))))
    result = events[-1]
    assert result["warmup"] == {"runs": 1, "mean_ms": pytest.approx(3512.39)}
    assert result["statistics"]["p50_ms"] is None
    assert result["statistics"]["batch"] == 1
    assert any("batch 8 was not applied" in w for w in result["statistics"]["warnings"])
    assert result["memory"]["peak_rss_delta_bytes"] == 47192 * 1024


def test_benchmark_model_failure_is_an_error_with_the_output_tail(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(recorded("benchmark_model_failed.txt"))
    fake.benchmark_status = 1
    events = _valid(list(_tool(_profile(), runner=fake).run(_bm_spec(model, sha))))
    error = events[-1]
    assert error["error_type"] == "runtime_error" and error["exit_code"] == 1
    assert error["message"] == "benchmark_model failed (exit code 1): Failed to allocate tensors!"
    assert "BATCH_MATMUL" in error["details"]


def test_benchmark_model_unreadable_output_and_missing_binary(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb("Segmentation fault\n")
    events = _valid(list(_tool(_profile(), runner=fake).run(_bm_spec(model, sha))))
    assert events[-1]["error_type"] == "protocol"
    assert "Segmentation fault" in events[-1]["details"]
    missing = FakeAdb("/system/bin/sh: /data/local/tmp/benchmark_model: not found\n")
    missing.benchmark_status = 127
    events = _valid(list(_tool(_profile(), runner=missing).run(_bm_spec(model, sha))))
    assert events[-1]["message"].endswith("is /data/local/tmp/benchmark_model there?")


def test_benchmark_model_connection_drop_mid_run(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(recorded("benchmark_model_android_aarch64.txt"))
    fake.drop_benchmark = True
    events = _valid(list(_tool(_profile(), runner=fake).run(_bm_spec(model, sha))))
    assert events[-1]["error_type"] in ("connection_lost", "unreachable")
    assert events[-1]["phase"] == "measure"


def test_benchmark_model_cancel_during_the_run(tmp_path):
    model, sha = _model(tmp_path)
    fake = FakeAdb(recorded("benchmark_model_android_aarch64.txt"))

    def runner(argv, timeout_s):
        if any("--graph=" in a for a in argv):
            raise AdbCancelled("cancelled while adb was running")
        return fake(argv, timeout_s)

    events = _valid(list(_tool(_profile(), runner=runner).run(_bm_spec(model, sha))))
    assert (events[-1]["error_type"], events[-1]["phase"]) == ("cancelled", "measure")


def test_default_runner_stops_adb_on_cancel_and_timeout():
    import threading
    import time

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(AdbCancelled):
        subprocess_runner(["sleep", "30"], 60, cancel)
    with pytest.raises(AdbError, match=r"did not finish within 0\.3 s"):
        subprocess_runner(["sleep", "30"], 0.3)
    assert time.monotonic() - t0 < 5
    assert subprocess_runner(["sh", "-c", "echo out; echo err >&2; exit 4"], 10) == (
        4,
        "out\n",
        "err\n",
    )
    with pytest.raises(AdbError, match="adb was not found"):
        subprocess_runner(["/no/such/adb", "devices"], 10)


def test_each_adb_mode_is_its_own_device_kind():
    from engines.devices.agent_device import AgentDevice
    from engines.devices.profile import open_device

    agent = open_device(_profile(mode="python"))
    tool = open_device(_profile(mode="benchmark_model"))
    assert (type(agent), agent.kind) == (AdbDevice, "adb") and isinstance(agent, AgentDevice)
    assert (type(tool), tool.kind) == (BenchmarkModelDevice, "benchmark_model")
    with pytest.raises(BadInput, match="benchmark_model"):
        AdbDevice(_profile(mode="benchmark_model"))
    with pytest.raises(BadInput, match="runs the agent"):
        _tool(_profile(mode="python"))


def test_benchmark_model_refuses_what_it_cannot_do(tmp_path):
    model, sha = _model(tmp_path)
    device = _tool(_profile(), runner=FakeAdb())
    onnx = BenchSpec(ModelRef(str(model), "onnx", sha), "onnxruntime")
    assert _valid(list(device.run(onnx)))[-1]["error_type"] == "bad_input"
    accuracy_only = _bm_spec(model, sha, measure=False)
    assert _valid(list(device.run(accuracy_only)))[-1]["error_type"] == "bad_input"


# --- python mode: the real agent through a fake adb program ---------------------------

FAKE_ADB = """#!{python}
import os, shutil, sys
args = sys.argv[1:]
if args[:1] == ["-s"]:
    args = args[2:]
if args[0] == "push":
    shutil.copyfile(args[1], args[2])
    print(args[1] + ": 1 file pushed")
    sys.exit(0)
if args[0] == "shell":
    line = " ".join(args[1:])
    if {drop_runs} and line.startswith({python!r}):
        sys.exit(255)  # the link drops: no exit status from the device
    os.execvp("sh", ["sh", "-c", line])
sys.exit("fake adb: unsupported " + repr(args))
"""


@pytest.fixture
def fake_adb_program(tmp_path: Path) -> Path:
    path = tmp_path / "fake adb"
    path.write_text(FAKE_ADB.format(python=sys.executable, drop_runs=False))
    path.chmod(0o755)
    return path


def _onnx_model(tmp_path: Path) -> tuple[Path, str]:
    from support.onnx_models import relu_model

    path = relu_model(tmp_path / "relu.onnx", [1, 8], name="x")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_python_mode_runs_the_agent_through_adb(tmp_path, fake_adb_program):
    pytest.importorskip("onnxruntime")
    model, sha = _onnx_model(tmp_path)
    work = tmp_path / "device's work dir"
    profile = _profile(
        mode="python", adb=str(fake_adb_program), python=sys.executable, work_dir=str(work)
    )
    device = AdbDevice(profile, budgets=PhaseBudgets(start_s=60, load_s=60))
    policy = RunPolicy(warmup_runs=1, warmup_min_s=0, min_runs=5, min_s=0, max_s=10)
    spec = BenchSpec(ModelRef(str(model), "onnx", sha), "onnxruntime", threads=1, policy=policy)
    events = _valid(list(device.run(spec)))
    result = events[-1]
    assert result["type"] == "result", result
    assert result["statistics"]["count"] >= 5
    env = result["environment"]
    assert env["model_sha256"] == sha and env["runtime"] == "onnxruntime"
    # The fake device is this machine, so no getprop: Android's facts are absent, not made up.
    assert env["android"]["serial"] == "0a388e93" and env["android"]["api_level"] is None
    assert not env["os"].startswith("Android")
    names = sorted(p.name for p in work.iterdir())
    assert names[0].startswith("agent-") and names[1] == f"model-{sha[:32]}.onnx"
    assert len(names) == 2  # no temporary file left behind


def test_python_mode_agent_crash_reports_the_device_exit_status(tmp_path, fake_adb_program):
    model, sha = _onnx_model(tmp_path)
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139\n")
    python.chmod(0o755)
    profile = _profile(
        mode="python", adb=str(fake_adb_program), python=str(python), work_dir=str(tmp_path / "w")
    )
    spec = BenchSpec(ModelRef(str(model), "onnx", sha), "onnxruntime")
    events = _valid(list(AdbDevice(profile).run(spec)))
    error = events[-1]
    assert error["error_type"] == "crashed" and error.get("signal") == "SIGSEGV"
    assert "Segmentation fault" in error["details"]


def test_python_mode_lost_connection_without_sentinel(tmp_path):
    model, sha = _onnx_model(tmp_path)
    adb = tmp_path / "adb"
    # Uploads work; the run's adb dies without the device's exit status.
    adb.write_text(FAKE_ADB.format(python=sys.executable, drop_runs=True))
    adb.chmod(0o755)
    profile = _profile(
        mode="python", adb=str(adb), python=sys.executable, work_dir=str(tmp_path / "w")
    )
    spec = BenchSpec(ModelRef(str(model), "onnx", sha), "onnxruntime")
    events = _valid(list(AdbDevice(profile).run(spec)))
    assert events[-1]["error_type"] == "connection_lost"


def test_python_mode_upload_failure_is_one_error_event(tmp_path, fake_adb_program):
    model, sha = _onnx_model(tmp_path)

    profile = _profile(mode="python", adb=str(tmp_path / "no-such-adb"))
    spec = BenchSpec(ModelRef(str(model), "onnx", sha), "onnxruntime")
    events = _valid(list(AdbDevice(profile).run(spec)))
    assert events[-1]["error_type"] == "unreachable"
    assert "adb was not found" in events[-1]["message"]


def test_default_threads_are_the_phones_cores_not_this_machines():
    import dataclasses

    assert _tool(_profile(), runner=FakeAdb()).default_threads() == 8  # recorded nproc
    pinned = dataclasses.replace(_profile(), threads=2)
    assert _tool(pinned, runner=FakeAdb()).default_threads() == 2
