"""torch adapter: ExportedProgram (.pt2), TorchScript, zoo modules; CPU, CUDA when present."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engines.floor.errors import BadInput
from engines.runtimes.base import UNKNOWN_RANK, Runtime, RuntimeOptions, Session, TensorInfo

TORCH_FORMATS = ("torch-exported-program", "torchscript", "zoo")


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _exported_inputs(program: Any) -> list[TensorInfo]:
    infos = []
    for spec in program.graph_signature.input_specs:
        if spec.kind.name != "USER_INPUT":
            continue
        name = spec.arg.name
        node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == name)
        val = node.meta.get("val")
        shape = [int(d) if str(d).isdigit() else str(d) for d in val.shape]
        infos.append(TensorInfo(name, shape, _dtype_name(val.dtype)))
    return infos


#: TorchScript argument types fed as plain Python values, and their numpy dtype.
SCALAR_ARGUMENTS = {"int": "int64", "float": "float64", "bool": "bool"}


def torchscript_inputs(module: Any, declared: list[TensorInfo]) -> list[TensorInfo]:
    """The `forward` arguments of a TorchScript module: tensors (shape from `declared` when
    known, else unrecorded) and plain int/float/bool values."""
    by_name = {info.name: info for info in declared}
    infos = []
    for argument in module.forward.schema.arguments[1:]:  # [0] is self
        kind = str(argument.type)
        if kind == "Tensor":
            infos.append(
                by_name.get(argument.name) or TensorInfo(argument.name, UNKNOWN_RANK, "float32")
            )
        elif kind in SCALAR_ARGUMENTS:
            infos.append(TensorInfo(argument.name, [], SCALAR_ARGUMENTS[kind], kind="scalar"))
        else:
            raise BadInput(
                f"forward argument {argument.name!r} is a {kind}; EdgeBench feeds tensors and "
                "int/float/bool values",
                "wrap the model in a module whose forward takes tensors",
            )
    return infos


def torchscript_state(module: Any) -> list[str]:
    """Attributes `forward` changes (assigned, or updated in place): a module that keeps
    state between calls (a recurrent state, a step counter) gives each timed run a
    different starting point."""
    changed = []
    for node in module.inlined_graph.nodes():
        kind = node.kind()
        if kind == "prim::SetAttr":
            changed.append(node.s("name"))
        elif kind.startswith("aten::") and kind.endswith("_"):
            first = next(iter(node.inputs()), None)
            source = first.node() if first is not None else None
            if source is not None and source.kind() == "prim::GetAttr":
                changed.append(source.s("name"))
    return list(dict.fromkeys(changed))


def torchscript_schema(module: Any) -> str:
    """`forward(x: Tensor, sr: int) -> Tensor`, as a user reads it."""
    schema = module.forward.schema
    arguments = ", ".join(f"{a.name}: {a.type}" for a in schema.arguments[1:])
    returns = ", ".join(str(r.type) for r in schema.returns)
    return f"forward({arguments}) -> {returns}"


class TorchSession(Session):
    def __init__(
        self, module: Any, inputs: list[TensorInfo], device: str, used: dict[str, Any]
    ) -> None:
        self._module = module
        self._inputs = inputs
        self._device = device
        self.options_used = used
        self._outputs: list[TensorInfo] | None = None

    def inputs(self) -> list[TensorInfo]:
        return self._inputs

    def outputs(self) -> list[TensorInfo]:
        if self._outputs is None:
            raise RuntimeError("outputs are known after the first run")
        return self._outputs

    def _tensors(self, feeds: dict[str, np.ndarray]) -> list[Any]:
        import torch

        return [
            feeds[i.name].item()
            if i.kind == "scalar"
            else torch.from_numpy(np.ascontiguousarray(feeds[i.name])).to(self._device)
            for i in self._inputs
        ]

    def _forward(self, args: list[Any]) -> list[Any]:
        import torch

        with torch.inference_mode():
            out = self._module(*args)
        if isinstance(out, dict):
            out = list(out.values())
        elif not isinstance(out, (list, tuple)):
            out = [out]
        return list(out)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        outs = [o.detach().float().cpu().numpy() for o in self._forward(self._tensors(feeds))]
        self._outputs = [
            TensorInfo(f"output_{k}", list(o.shape), o.dtype.name) for k, o in enumerate(outs)
        ]
        return outs

    def timed_call(self, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
        import torch

        args = self._tensors(feeds)
        module = self._module
        if self._device == "cuda":
            sync = torch.cuda.synchronize

            def call() -> object:
                with torch.inference_mode():
                    out = module(*args)
                sync()  # kernels are asynchronous; time until they finish
                return out

            return call

        def call_cpu() -> object:
            with torch.inference_mode():
                return module(*args)

        return call_cpu

    def peak_accelerator_bytes(self) -> int | None:
        if self._device != "cuda":
            return None
        import torch

        return int(torch.cuda.max_memory_allocated())


class TorchRuntime(Runtime):
    name = "torch"
    label = "PyTorch (eager / ExportedProgram / TorchScript)"
    formats = TORCH_FORMATS
    modules = ("torch",)

    def import_library(self) -> None:
        import torch  # noqa: F401

        try:
            import torchvision  # noqa: F401  (zoo modules)
        except ImportError:
            pass

    def accelerators(self) -> dict[str, str]:
        import torch

        if torch.cuda.is_available():
            cuda = f"available ({torch.cuda.get_device_name(0)})"
        elif torch.version.cuda is None:
            cuda = "unavailable: this torch build has no CUDA support"
        else:
            cuda = f"unavailable: torch built for CUDA {torch.version.cuda} but no GPU is visible"
        return {"cpu": "available", "cuda": cuda}

    def open(self, path: str, fmt: str, options: RuntimeOptions) -> Session:
        import torch

        device = options.accelerator
        if device == "cuda" and not torch.cuda.is_available():
            raise BadInput(f"CUDA requested for torch, but it is {self.accelerators()['cuda']}")
        if device not in ("cpu", "cuda"):
            raise BadInput(f"torch here supports cpu and cuda, not {device!r}")
        torch.set_num_threads(options.threads)
        declared = [
            TensorInfo(d["name"], list(d["shape"]), d.get("dtype", "float32"))
            for d in options.declared_inputs
        ]
        state: list[str] = []
        if fmt == "torch-exported-program":
            program = torch.export.load(path)
            inputs = _exported_inputs(program)
            module = program.module()
        elif fmt == "torchscript":
            module = torch.jit.load(path, map_location=device)
            inputs = torchscript_inputs(module, declared)
            state = torchscript_state(module)
        elif fmt == "zoo":
            from engines.runtimes.zoo import build_module, read_descriptor

            desc = read_descriptor(path)
            module = build_module(desc)
            inputs = [TensorInfo(desc.get("input_name", "input"), desc["input_shape"], "float32")]
        else:
            raise BadInput(f"torch cannot open {fmt!r} files")
        if hasattr(module, "eval") and fmt != "torch-exported-program":
            module = module.eval()
        module = module.to(device)
        used: dict[str, Any] = {
            "device": device,
            "num_threads": torch.get_num_threads(),
            "mode": "inference_mode, eager",
            "format": fmt,
        }
        if fmt == "torchscript" and state:
            used["keeps_state_between_calls"] = state
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        return TorchSession(module, inputs, device, used)
