"""Tell a model's format from its bytes, never its extension, and never by loading it.

Pure Python on purpose: this runs on untrusted files in the main process, so it only
walks the outer structure (protobuf wire format, flatbuffer identifier, zip directory,
pickle opcodes) and executes nothing.
"""

from __future__ import annotations

import io
import json
import mmap
import pickletools
import zipfile
from pathlib import Path

from engines.floor.errors import BadInput

ONNX = "onnx"
TFLITE = "tflite"
TORCHSCRIPT = "torchscript"
EXPORTED_PROGRAM = "torch-exported-program"
STATE_DICT = "torch-state-dict"
TORCH_PICKLE = "torch-pickle"
ZOO = "zoo"

#: Formats whose loading runs code from the file: loaded only when the user trusts it.
CODE_FORMATS = {TORCHSCRIPT, EXPORTED_PROGRAM, TORCH_PICKLE}

# ModelProto field numbers and their wire types (0 varint, 2 length-delimited).
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2}
_ONNX_GRAPH = 7

#: Globals a weights-only torch pickle may reference (what torch.load(weights_only=True)
#: rebuilds); anything else means arbitrary objects, i.e. code.
_SAFE_GLOBALS_PREFIXES = ("torch._utils._rebuild_",)
_SAFE_GLOBALS = {
    "collections.OrderedDict",
    "torch.device",
    "torch.Size",
    "torch.float32",
    "torch.float16",
    "torch.bfloat16",
    "torch.int64",
    "torch.int32",
    "torch.int8",
    "torch.uint8",
    "torch.bool",
    "torch.float64",
    "builtins.set",
    "builtins.frozenset",
    "_codecs.encode",
    "torch._tensor._rebuild_from_type_v2",
    "torch.Tensor",
    "torch.nn.parameter.Parameter",
}


def _is_safe_global(name: str) -> bool:
    module, _, attr = name.partition(".") if " " not in name else name.partition(" ")
    dotted = f"{module}.{attr}" if " " in name else name
    if dotted in _SAFE_GLOBALS or dotted.startswith(_SAFE_GLOBALS_PREFIXES):
        return True
    return dotted.startswith("torch.") and dotted.count(".") == 1 and dotted.endswith("Storage")


def _varint(buf: mmap.mmap | bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def looks_like_onnx(buf: mmap.mmap | bytes) -> bool:
    """Walk the top-level ModelProto fields; every tag must be known and every length fit."""
    pos, seen_graph, fields = 0, False, 0
    while pos < len(buf):
        try:
            key, pos = _varint(buf, pos)
        except ValueError:
            return False
        number, wire = key >> 3, key & 7
        if _ONNX_FIELDS.get(number) != wire:
            return False
        if wire == 0:
            try:
                _, pos = _varint(buf, pos)
            except ValueError:
                return False
        else:
            try:
                length, pos = _varint(buf, pos)
            except ValueError:
                return False
            if pos + length > len(buf):
                raise BadInput("the ONNX file is truncated: a field runs past the end of the file")
            pos += length
        seen_graph |= number == _ONNX_GRAPH
        fields += 1
    return seen_graph and fields >= 2


def _pickle_globals(data: bytes) -> set[str]:
    found: set[str] = set()
    recent: list[tuple[str, str]] = []  # (opcode, arg) of the last two opcodes
    for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
        if opcode.name in ("GLOBAL", "INST"):
            # INST (protocol 0) names its class as GLOBAL does, and calls it at once.
            found.add(str(arg))
        elif opcode.name == "OBJ":
            # OBJ calls whatever class is on the stack; a weights-only pickle never does.
            found.add("<OBJ: a class called from the stack>")
        elif opcode.name == "STACK_GLOBAL":
            # Only names pushed as literals right before it can be read without running
            # the pickle; anything else (memo fetches, computed names) counts as unsafe.
            literal = ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE")
            if len(recent) == 2 and all(op in literal for op, _ in recent):
                found.add(f"{recent[0][1]} {recent[1][1]}")
            else:
                found.add("<unknown>")
        if opcode.name not in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
            recent = [*recent[-1:], (opcode.name, str(arg))]
    return found


def pickle_is_weights_only(data: bytes) -> bool:
    try:
        names = _pickle_globals(data)
    except Exception:
        return False
    return all(_is_safe_global(n) for n in names)


#: A zip member that inflates more than this many times is a zip bomb, not a model (real
#: weights compress 1.0-1.2x; torch stores them uncompressed).
MAX_INFLATION = 200
#: ... unless it is small anyway.
INFLATION_FLOOR_BYTES = 64 << 20


def check_zip_sizes(path: Path, archive: zipfile.ZipFile, limit_bytes: int | None) -> None:
    """Refuse an archive whose members declare more than `limit_bytes` in all, or inflate
    implausibly, from the zip directory alone (nothing is decompressed)."""
    members = archive.infolist()
    total = sum(m.file_size for m in members)
    if limit_bytes and total > limit_bytes:
        raise BadInput(
            f"{path.name} unpacks to {total / 2**30:.2f} GiB; the limit is "
            f"{limit_bytes / 2**30:.2f} GiB (half of the memory this machine gives us)",
            "a model this large needs a machine with more memory",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > INFLATION_FLOOR_BYTES and ratio > MAX_INFLATION:
            raise BadInput(
                f"{path.name}: {member.filename} inflates {ratio:.0f}x to "
                f"{member.file_size / 2**30:.2f} GiB: this is a zip bomb, not model weights",
                "nothing was unpacked",
            )


def _sniff_zip(path: Path) -> str:
    from engines.runtimes.feeds import default_input_limit_bytes

    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_sizes(path, archive, default_input_limit_bytes())
            names = archive.namelist()
            if any(n.endswith("archive_format") for n in names) or any(
                "/models/" in n and n.endswith(".json") for n in names
            ):
                return EXPORTED_PROGRAM
            if any("/code/" in n for n in names) and any(
                n.endswith("constants.pkl") for n in names
            ):
                return TORCHSCRIPT
            pkl = next((n for n in names if n.endswith("data.pkl")), None)
            if pkl is None:
                raise BadInput(f"{path.name} is a zip archive but not a PyTorch file")
            info = archive.getinfo(pkl)
            if info.file_size > 256 << 20:
                raise BadInput(f"{path.name}: its pickle index is implausibly large")
            return STATE_DICT if pickle_is_weights_only(archive.read(pkl)) else TORCH_PICKLE
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        UnicodeDecodeError,
        OSError,
        EOFError,
        ValueError,
    ) as exc:
        raise BadInput(f"{path.name} is a truncated or corrupt zip archive ({exc})") from None


def sniff(path: str | Path) -> str:
    """The model format of `path`, or BadInput saying what the file is not."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such model file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"{path.name} is empty")
    with path.open("rb") as f:
        head = f.read(16)
        if head[4:8] == b"TFL3":
            return TFLITE
        if head.startswith(b"PK\x03\x04"):
            return _sniff_zip(path)
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            # Legacy (non-zip) torch.save or a plain pickle: a chain of pickles we do not
            # walk one by one, so it is treated as code.
            return TORCH_PICKLE
        if head.lstrip()[:1] == b"{" and size < 1 << 16:
            f.seek(0)
            try:
                if "zoo" in json.loads(f.read()):
                    return ZOO
            except (ValueError, TypeError, RecursionError):
                pass
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if looks_like_onnx(buf):
                return ONNX
    raise BadInput(
        f"{path.name} is not a model EdgeBench recognises (or it is truncated)",
        "expected ONNX (.onnx), TFLite (.tflite), or a PyTorch file: TorchScript, "
        "ExportedProgram (.pt2) or a state_dict (.pt/.pth)",
    )
