"""Corpus models built here from their authors' code: tiny BERT and GPT-2 (with past
key/values) from a `transformers` config with seeded random weights, exported to ONNX,
and the BERT again after ONNX Runtime's transformer optimizer (com.microsoft fused ops);
scikit-learn classifiers converted by skl2onnx; timm architectures (a MobileNetV3 and
a MobileViT: convolutions, hard-swish, attention).

Their architectures are the real ones (Hugging Face's modelling code), only small; the
weights are random, so latency and shapes mean something and predictions do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GPT2_LAYERS, GPT2_HEADS, GPT2_WIDTH = 2, 2, 64


def _bert(path: Path) -> None:
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    model = transformers.BertModel(config).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state, out.pooler_output

    ids = torch.randint(0, 1000, (1, 16))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        Encoder(),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(path),
        input_names=names,
        output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in names},
        dynamo=False,
        opset_version=17,
    )


def _gpt2_with_past(path: Path) -> None:
    import torch
    import transformers
    from transformers import DynamicCache

    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=500, n_positions=128, n_embd=GPT2_WIDTH, n_layer=GPT2_LAYERS, n_head=GPT2_HEADS
    )
    model = transformers.GPT2LMHeadModel(config).eval()

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, *past: Any) -> Any:
            cache = DynamicCache()
            for layer in range(GPT2_LAYERS):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                past_key_values=cache,
                use_cache=True,
            )
            present = [
                t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)
            ]
            return (out.logits, *present)

    head = GPT2_WIDTH // GPT2_HEADS
    past_names = [f"past_{kind}_{i}" for i in range(GPT2_LAYERS) for kind in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"}}
    axes.update({name: {0: "batch", 2: "past_sequence"} for name in past_names})
    past = [torch.randn(1, GPT2_HEADS, 4, head) for _ in past_names]
    torch.onnx.export(
        Decoder(),
        (torch.randint(0, 500, (1, 3)), torch.ones(1, 7, dtype=torch.long), *past),
        str(path),
        input_names=["input_ids", "attention_mask", *past_names],
        output_names=["logits", *(n.replace("past", "present") for n in past_names)],
        dynamic_axes=axes,
        dynamo=False,
        opset_version=17,
    )


def _bert_fused(path: Path) -> None:
    """The BERT above through ONNX Runtime's transformer optimizer: com.microsoft fused
    ops (SkipLayerNormalization, BiasGelu), as ORT users ship it."""
    from onnxruntime.transformers.optimizer import optimize_model

    plain = path.with_name("bert-plain.tmp.onnx")
    _bert(plain)
    optimize_model(str(plain), model_type="bert", num_heads=2, hidden_size=64).save_model_to_file(
        str(path)
    )
    plain.unlink()


def _sklearn(path: Path, kind: str) -> None:
    """A scikit-learn classifier on the iris data, converted by skl2onnx (ai.onnx.ml ops;
    probabilities as ZipMap, a list of {class: probability} maps)."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    estimator: Any = (
        LogisticRegression(max_iter=500)
        if kind == "logreg"
        else RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    )
    estimator.fit(x, y)
    onx = to_onnx(estimator, x[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    path.write_bytes(onx.SerializeToString())


def _timm(path: Path, name: str, size: int) -> None:
    """A timm architecture with seeded random weights, exported by torch.onnx."""
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    torch.onnx.export(
        model,
        (torch.randn(1, 3, size, size),),
        str(path),
        input_names=["pixel_values"],
        output_names=["logits"],
        dynamo=False,
        opset_version=17,
    )


BUILDERS = {
    "timm-mobilenetv3_small_050.onnx": lambda p: _timm(p, "mobilenetv3_small_050", 224),
    "timm-mobilevit_xxs.onnx": lambda p: _timm(p, "mobilevit_xxs", 256),
    "sklearn-logreg-iris.onnx": lambda p: _sklearn(p, "logreg"),
    "sklearn-forest-iris.onnx": lambda p: _sklearn(p, "forest"),
    "bert-tiny-random.onnx": _bert,
    "bert-tiny-random-fused.onnx": _bert_fused,
    "gpt2-tiny-random-past.onnx": _gpt2_with_past,
}


def generate(folder: Path) -> list[Path]:
    """Each generated model, built once into `folder` (keyed by the transformers version)."""
    import skl2onnx
    import timm
    import transformers

    versions = f"transformers-{transformers.__version__}-skl2onnx-{skl2onnx.__version__}"
    target = folder / f"{versions}-timm-{timm.__version__}"
    target.mkdir(parents=True, exist_ok=True)
    made = []
    for name, build in BUILDERS.items():
        path = target / name
        if not path.is_file():
            tmp = path.with_suffix(".tmp.onnx")
            build(tmp)
            tmp.replace(path)
        made.append(path)
    return made
