"""Precision steps: INT8 dynamic, INT8 static (calibrated) and FP16, for ONNX and TFLite.

A precision step is the last step of a recipe and is realised per target format: on ONNX
it rewrites the FP32 export with onnxruntime.quantization; on TFLite it is a setting of
the torch-to-TFLite conversion (litert-torch, PT2E for full INT8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from engines.compress.base import Step, StepContext, StepSettings, setting


class PrecisionStep(Step):
    """A step that changes number formats; `tflite_mode` names the conversion it asks for."""

    kinds = ("onnx", "tflite")
    tflite_mode: ClassVar[str]

    def run(self, model: Any, settings: Any, ctx: StepContext) -> tuple[Any, dict[str, Any]]:
        """ONNX: `model` is the FP32 .onnx path; returns the new file's path and a report."""
        src = Path(model)
        dst = Path(ctx.workdir) / f"{src.stem}-{self.name}.onnx"
        report = self.run_onnx(src, dst, settings, ctx)
        return dst, report

    def run_onnx(
        self, src: Path, dst: Path, settings: Any, ctx: StepContext
    ) -> dict[str, Any]:  # pragma: no cover - each subclass implements it
        raise NotImplementedError

    def tflite_options(self, settings: Any) -> dict[str, Any]:
        return {"mode": self.tflite_mode}


class QuantizeDynamic(PrecisionStep):
    name = "quantize-dynamic"
    label = "INT8 dynamic quantization"
    description = (
        "Weights stored as INT8; activations quantized on the fly at run time. No "
        "calibration data needed."
    )
    effect = (
        "Right for transformers and linear-heavy models (2-4x faster on CPUs, ~4x smaller "
        "weights); it makes convolution networks slower in ONNX Runtime."
    )
    tflite_mode = "dynamic-int8"

    class Settings(StepSettings):
        per_channel: bool = setting(
            True,
            "one scale per output channel instead of per tensor (all-MiniLM-L6-v2: "
            "embedding cosine 0.993 per channel, 0.968 per tensor)",
        )
        weight_type: str = setting(
            "int8", "integer type of the weights (ONNX)", choices=("int8", "uint8")
        )

    def run_onnx(self, src: Path, dst: Path, settings: Any, ctx: StepContext) -> dict[str, Any]:
        from engines.compress.quantize_onnx import quantize_dynamic_onnx

        ctx.progress("quantizing weights to INT8 (dynamic)", None)
        return quantize_dynamic_onnx(
            src, dst, weight_type=settings.weight_type, per_channel=settings.per_channel
        )


class QuantizeStatic(PrecisionStep):
    name = "quantize-static"
    label = "INT8 static quantization (calibrated)"
    description = (
        "Weights and activations in INT8, with activation ranges measured on calibration "
        "data. ONNX: QDQ, per-channel weights, activation/weight types chosen for the "
        "target CPU. TFLite: full-integer kernels (PT2E)."
    )
    effect = (
        "Usually 2-4x faster on CPUs with INT8 dot-product instructions and ~4x smaller; "
        "accuracy typically within about a point when the calibration data is representative."
    )
    needs_data = True
    tflite_mode = "int8"

    class Settings(StepSettings):
        per_channel: bool = setting(True, "one weight scale per output channel")
        calibrate_method: str = setting(
            "minmax",
            "how activation ranges are chosen from the calibration data (ONNX)",
            choices=("minmax", "entropy", "percentile"),
        )
        max_calibration_samples: int = setting(
            128, "calibration samples used at most", minimum=1, maximum=100_000
        )

    def run_onnx(self, src: Path, dst: Path, settings: Any, ctx: StepContext) -> dict[str, Any]:
        from engines.compress.quantize_onnx import quantize_static_onnx

        if ctx.calibration is None:
            from engines.floor.errors import BadInput

            raise BadInput(
                "quantize-static needs calibration data",
                "pass --calib with an .npz, an image folder, 'digits' or 'synthetic'",
            )
        name = ctx.input_names[0] if ctx.input_names else "input"
        # A multi-input model's calibration is already {input name: samples}.
        calibration = (
            ctx.calibration if isinstance(ctx.calibration, dict) else {name: ctx.calibration}
        )
        return quantize_static_onnx(
            src,
            dst,
            calibration,
            target_arch=ctx.target_arch,
            per_channel=settings.per_channel,
            calibrate_method=settings.calibrate_method,
            max_calibration_samples=settings.max_calibration_samples,
            cancel=ctx.cancel,
            progress=ctx.progress,
        )


class Float16(PrecisionStep):
    name = "fp16"
    label = "FP16 weights"
    description = "Weights (and on ONNX the arithmetic) in 16-bit floating point."
    effect = (
        "Halves the file size. x86 CPUs gain no speed (FP16 is emulated); ARMv8.2+ CPUs "
        "and GPUs do."
    )
    tflite_mode = "fp16"

    class Settings(StepSettings):
        keep_io_types: bool = setting(True, "keep float32 inputs and outputs (ONNX)")

    def run_onnx(self, src: Path, dst: Path, settings: Any, ctx: StepContext) -> dict[str, Any]:
        from engines.compress.quantize_onnx import convert_fp16_onnx

        ctx.progress("converting to FP16", None)
        return convert_fp16_onnx(src, dst, keep_io_types=settings.keep_io_types)
