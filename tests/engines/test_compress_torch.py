"""Torch compression steps: magnitude and structured pruning, low-rank SVD, distillation.

Every test uses a tiny model (the digits CNN or a small residual net built here) and checks
numbers that would be wrong if the step were: exact sparsity, outputs unchanged where the
maths says they must be, MACs/params that really fell, agreement that really rose.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from engines.compress import distill as distill_module
from engines.compress.base import Cancelled, StepContext, parse_settings
from engines.compress.distill import Distill
from engines.compress.lowrank import LowRank
from engines.compress.prune import MagnitudePrune, StructuredPrune
from engines.floor.errors import BadInput
from engines.models.demo import digits_cnn, digits_split

EXAMPLE = (torch.zeros(1, 1, 8, 8),)
ALL_STEPS = (MagnitudePrune, StructuredPrune, LowRank, Distill)


def ctx(**kw: Any) -> StepContext:
    kw.setdefault("progress", lambda message, fraction: None)
    kw.setdefault("example_inputs", EXAMPLE)
    return StepContext(**kw)


def seeded_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return digits_cnn().eval()


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Conv/linear weights by module name (the tensors magnitude pruning works on)."""
    return {
        name: m.weight.detach().clone()
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    }


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class TinyResNet(nn.Module):
    """Stem + one residual block with batch norms + pooled linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(16)
        self.conv1 = nn.Conv2d(16, 24, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.conv2 = nn.Conv2d(24, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn0(self.stem(x)))
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        x = torch.relu(x + y)  # the residual add couples stem and conv2 output channels
        return self.head(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


def tiny_resnet() -> nn.Module:
    torch.manual_seed(3)
    model = TinyResNet()
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for bn in (model.bn0, model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return model.eval()


# --------------------------------------------------------------------- magnitude pruning


@pytest.mark.parametrize("sparsity", [0.3, 0.8])
def test_global_magnitude_prune_hits_the_requested_sparsity_with_the_smallest_weights(
    sparsity: float,
) -> None:
    model = seeded_cnn()
    before = weights(model)
    pruned, report = MagnitudePrune().run(model, MagnitudePrune.Settings(sparsity=sparsity), ctx())
    after = weights(pruned)
    total = sum(w.numel() for w in after.values())
    zeros = sum(int((w == 0).sum()) for w in after.values())
    assert zeros == round(sparsity * total)
    assert report["sparsity_achieved"] == pytest.approx(zeros / total)
    assert report["pruned_weights"] == total
    # global L1: every removed weight is no larger than every kept one, kept ones unchanged
    removed = torch.cat([before[n][after[n] == 0].abs() for n in before])
    kept = torch.cat([before[n][after[n] != 0].abs() for n in before])
    assert removed.max() <= kept.min()
    for name in before:
        mask = after[name] != 0
        assert torch.equal(after[name][mask], before[name][mask])
    # the input model is not touched
    assert all(torch.equal(before[n], w) for n, w in weights(model).items())


def test_layer_magnitude_prune_gives_every_layer_the_sparsity() -> None:
    pruned, report = MagnitudePrune().run(
        seeded_cnn(), MagnitudePrune.Settings(sparsity=0.6, scope="layer"), ctx()
    )
    for name, w in weights(pruned).items():
        assert int((w == 0).sum()) == round(0.6 * w.numel()), name
        assert report["layers"][name]["nonzero"] == int(w.count_nonzero())


def test_pruned_zeros_are_permanent_plain_weights() -> None:
    pruned, _ = MagnitudePrune().run(seeded_cnn(), MagnitudePrune.Settings(sparsity=0.7), ctx())
    state = pruned.state_dict()
    assert not any(k.endswith(("_orig", "_mask")) for k in state)
    assert all(not m._forward_pre_hooks for m in pruned.modules())
    fresh = digits_cnn()
    fresh.load_state_dict(state)  # same keys as an unpruned model: loads into plain modules
    fresh.eval()
    zeros = {n: int((w == 0).sum()) for n, w in weights(pruned).items()}
    assert {n: int((w == 0).sum()) for n, w in weights(fresh).items()} == zeros
    x = torch.rand(16, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(fresh(x), pruned(x))


def test_magnitude_report_sizes_follow_the_stated_method() -> None:
    pruned, report = MagnitudePrune().run(
        seeded_cnn(), MagnitudePrune.Settings(sparsity=0.8), ctx()
    )
    params = n_params(pruned)
    assert report["parameters"] == params
    assert report["dense_bytes"] == 4 * params
    assert report["nonzero_parameters"] == sum(int(p.count_nonzero()) for p in pruned.parameters())
    ws = weights(pruned).values()
    pruned_numel = sum(w.numel() for w in ws)
    expected = sum(math.ceil(w.numel() / 8) + 4 * int(w.count_nonzero()) for w in ws)
    expected += 4 * (params - pruned_numel)  # biases stay dense
    assert report["sparse_bytes_estimate"] == expected
    assert report["sparse_bytes_estimate"] < 0.35 * report["dense_bytes"]
    assert "bitmask" in report["method"]
    assert "faster" in report["note"]


def test_magnitude_prune_works_on_an_exported_graph() -> None:
    model = seeded_cnn()
    graph = torch.export.export(model, EXAMPLE).module()
    pruned, report = MagnitudePrune().run(
        graph, MagnitudePrune.Settings(sparsity=0.5, scope="layer"), ctx()
    )
    assert set(report["layers"]) == {"0", "2", "6", "8"}
    assert report["sparsity_achieved"] == pytest.approx(0.5)
    # the graph reads the pruned parameters: zeroing the same weights in the eager model
    # gives the same outputs
    eager = copy.deepcopy(model)
    with torch.no_grad():
        for name, _ in report["layers"].items():
            eager.get_submodule(name).weight.copy_(pruned.get_submodule(name).weight)
    x = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(pruned(x), eager(x), atol=1e-6)


# -------------------------------------------------------------------- structured pruning


def test_structured_prune_cuts_macs_and_params_and_keeps_the_output_shape() -> None:
    model = seeded_cnn()
    original = copy.deepcopy(model.state_dict())
    pruned, report = StructuredPrune().run(model, StructuredPrune.Settings(ratio=0.5), ctx())
    # conv 16->8, conv 32->16, linear 64->32: about a quarter of the MACs and params remain
    assert 0.15 < report["macs_after"] / report["macs_before"] < 0.4
    assert 0.15 < report["params_after"] / report["params_before"] < 0.4
    assert report["params_after"] == n_params(pruned)
    assert report["params_before"] == n_params(model)
    assert "multiply-accumulate" in report["macs_unit"]
    assert report["layers"]["0"] == {
        "in_before": 1,
        "in_after": 1,
        "out_before": 16,
        "out_after": 8,
    }
    assert report["layers"]["2"]["out_after"] == 16
    assert report["output_layers_kept"] == ["8"]
    assert pruned[8].out_features == 10
    with torch.no_grad():
        out = pruned(torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in original.items())


@pytest.mark.parametrize("importance", ["l1", "l2"])
def test_structured_prune_removes_dead_channels_first_so_outputs_do_not_change(
    importance: str,
) -> None:
    """Half the channels of every prunable layer are zero in and out: pruning half of
    every layer must remove exactly those, leaving the function unchanged."""
    model = seeded_cnn(1)
    with torch.no_grad():
        model[0].weight[8:] = 0
        model[0].bias[8:] = 0
        model[2].weight[:, 8:] = 0
        model[2].weight[16:] = 0
        model[2].bias[16:] = 0
        model[6].weight.view(64, 32, 16)[:, 16:] = 0  # flatten: 16 features per channel
        model[6].weight[32:] = 0
        model[6].bias[32:] = 0
        model[8].weight[:, 32:] = 0
    pruned, _ = StructuredPrune().run(
        model, StructuredPrune.Settings(ratio=0.5, importance=importance), ctx()
    )
    assert (pruned[0].out_channels, pruned[2].out_channels, pruned[6].out_features) == (8, 16, 32)
    x = torch.rand(64, 1, 8, 8)
    with torch.no_grad():
        assert (pruned(x) - model(x)).abs().max() < 1e-5


def test_structured_prune_keeps_residual_and_batchnorm_channels_consistent() -> None:
    model = tiny_resnet()
    pruned, report = StructuredPrune().run(model, StructuredPrune.Settings(ratio=0.5), ctx())
    p: Any = pruned
    main, inner = p.stem.out_channels, p.conv1.out_channels
    assert (main, inner) == (8, 12)
    # the residual add ties stem and conv2 outputs; batch norms follow their convs
    assert p.conv2.out_channels == main == p.bn0.num_features == p.bn2.num_features
    assert p.conv1.in_channels == main == p.head.in_features
    assert p.conv2.in_channels == inner == p.bn1.num_features
    assert len(p.bn1.running_mean) == inner and len(p.bn2.running_var) == main
    assert p.head.out_features == 10
    assert not pruned.training  # mode preserved
    assert report["macs_after"] < 0.4 * report["macs_before"]
    with torch.no_grad():
        out = pruned(torch.rand(3, 1, 8, 8))
    assert out.shape == (3, 10) and torch.isfinite(out).all()


def test_structured_prune_honours_keep_layers() -> None:
    pruned, report = StructuredPrune().run(
        seeded_cnn(), StructuredPrune.Settings(ratio=0.5, keep_layers=["2"]), ctx()
    )
    # "2" keeps all its weights, so "0" (whose outputs are its inputs) cannot shrink either
    assert pruned[2].weight.shape == (32, 16, 3, 3)
    assert pruned[0].weight.shape == (16, 1, 3, 3)
    assert pruned[6].out_features == 32  # layers not kept are still pruned
    assert report["groups_skipped_for_keep_layers"] == 1
    assert set(report["layers"]) == {"6", "8"}


def test_structured_prune_rounds_channels() -> None:
    pruned, _ = StructuredPrune().run(
        seeded_cnn(), StructuredPrune.Settings(ratio=0.3, round_to=4), ctx()
    )
    assert pruned[0].out_channels < 16
    assert [pruned[0].out_channels % 4, pruned[2].out_channels % 4, pruned[6].out_features % 4] == [
        0,
        0,
        0,
    ]


def test_structured_prune_names_an_unknown_keep_layer() -> None:
    with pytest.raises(BadInput, match=r"keep_layers.*'classifier'"):
        StructuredPrune().run(
            seeded_cnn(), StructuredPrune.Settings(keep_layers=["classifier"]), ctx()
        )


@pytest.mark.parametrize("step", [StructuredPrune, LowRank])
def test_structural_steps_refuse_an_exported_graph(step: type[Any]) -> None:
    graph = torch.export.export(seeded_cnn(), EXAMPLE).module()
    with pytest.raises(BadInput, match=r"needs the model's nn\.Module .*not an exported graph"):
        step().run(graph, step.Settings(), ctx())


# ---------------------------------------------------------------------------- low rank


class StridedNet(nn.Module):
    """Conv with stride, dilation, padding and no bias, then a linear: geometry must survive."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 20, 3, stride=2, padding=2, dilation=2, bias=False)
        self.fc = nn.Linear(20 * 4 * 4, 18)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.mark.parametrize(
    ("make", "shape"), [(seeded_cnn, (8, 1, 8, 8)), (StridedNet, (8, 3, 8, 8))]
)
def test_full_rank_factorisation_reproduces_the_outputs(make: Any, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = make().eval()
    settings = LowRank.Settings(rank_ratio=1.0, min_features=1, only_if_smaller=False)
    new, report = LowRank().run(model, settings, ctx())
    n_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    assert report["layers_factorised"] == n_layers and not report["skipped"]
    for name in report["layers"]:
        assert isinstance(new.get_submodule(name), nn.Sequential)
    x = torch.rand(*shape)
    with torch.no_grad():
        assert (new(x) - model(x)).abs().max() < 1e-4
    for figures in report["layers"].values():
        assert figures["relative_error"] < 1e-6


def test_half_rank_factorisation_saves_params_and_reports_its_true_error() -> None:
    model = seeded_cnn()
    new, report = LowRank().run(model, LowRank.Settings(), ctx())
    assert report["params_before"] == n_params(model)
    assert report["params_after"] == n_params(new) < 0.65 * n_params(model)
    assert set(report["layers"]) == {"2", "6"}
    assert "min_features" in report["skipped"]["0"] and "min_features" in report["skipped"]["8"]
    for name, figures in report["layers"].items():
        old = model.get_submodule(name).weight.detach().reshape(figures["matrix"][0], -1)
        first, second = (m.weight.detach() for m in new.get_submodule(name))
        rank = math.ceil(0.5 * min(figures["matrix"]))
        assert figures["rank"] == rank
        product = second.reshape(-1, rank) @ first.reshape(rank, -1)
        actual = float((old - product).norm() / old.norm())
        assert figures["relative_error"] == pytest.approx(actual, rel=1e-4)
        assert 0.05 < actual < 0.9
        assert figures["params_after"] < figures["params_before"]
    assert new[2][1].bias is not None and torch.equal(new[2][1].bias, model[2].bias)


def test_lowrank_skips_layers_it_would_not_shrink_and_filters_by_kind() -> None:
    model = seeded_cnn()
    _, report = LowRank().run(model, LowRank.Settings(rank_ratio=0.9), ctx())
    assert "would not save" in report["skipped"]["2"]  # rank 29: 29*(32+144) > 32*144
    new, report = LowRank().run(model, LowRank.Settings(layers="linear"), ctx())
    assert isinstance(new[2], nn.Conv2d) and isinstance(new[6], nn.Sequential)
    assert report["skipped"]["2"] == "layers = 'linear'"


# -------------------------------------------------------------------------- distillation


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return digits_split()


@pytest.fixture(scope="module")
def teacher(digits: tuple[np.ndarray, ...]) -> nn.Module:
    """The digits CNN trained briefly (over 90 % test accuracy)."""
    x_train, _, y_train, _ = digits
    model = seeded_cnn(0).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 64):
            idx = order[start : start + 64]
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimiser.step()
    return model.eval()


def agreement(a: nn.Module, b: nn.Module, x: np.ndarray) -> float:
    with torch.no_grad():
        t = torch.from_numpy(x)
        return float((a(t).argmax(1) == b(t).argmax(1)).float().mean())


def test_distillation_makes_a_random_student_agree_with_the_teacher(
    teacher: nn.Module, digits: tuple[np.ndarray, ...]
) -> None:
    x_train, x_test, y_train, _ = digits
    student = seeded_cnn(7)
    untouched = copy.deepcopy(student.state_dict())
    messages: list[tuple[str, float | None]] = []
    new, report = Distill().run(
        student,
        Distill.Settings(epochs=3, learning_rate=5e-3),
        ctx(
            calibration=x_train,
            labels=y_train,
            reference=teacher,
            progress=lambda m, f: messages.append((m, f)),
        ),
    )
    assert report["teacher_agreement_before"] < 0.3
    assert report["teacher_agreement_after"] > 0.85
    assert report["teacher_agreement_after"] == pytest.approx(agreement(new, teacher, x_train))
    assert agreement(new, teacher, x_test) > 0.8  # held out: it learnt the function
    assert report["accuracy_after"] > report["accuracy_before"] + 0.5
    assert report["epochs_run"] == 3 and not report["stopped_by_budget"]
    assert report["loss_per_epoch"][-1] < report["loss_per_epoch"][0] / 3
    assert messages[0][0].startswith("distilling: epoch 1/3, loss ")
    assert [f for _, f in messages] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert not new.training
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in untouched.items())
    assert teacher.training is False


def test_distillation_trains_an_exported_graph_student(
    teacher: nn.Module, digits: tuple[np.ndarray, ...]
) -> None:
    x_train = digits[0][:192]
    graph = torch.export.export(seeded_cnn(7), EXAMPLE).module()  # batch size fixed to 1
    new, report = Distill().run(
        graph,
        Distill.Settings(epochs=3, learning_rate=1e-2, batch_size=32),
        ctx(calibration=x_train, reference=teacher),
    )
    assert isinstance(new, torch.fx.GraphModule)
    assert "vmap" in report["student_forward"]
    assert report["teacher_agreement_after"] > report["teacher_agreement_before"] + 0.3
    with torch.no_grad():  # still a working batch-1 graph whose predictions match the report
        predicted = torch.cat([new(torch.from_numpy(x[None])) for x in x_train]).argmax(1)
        wanted = teacher(torch.from_numpy(x_train)).argmax(1)
    assert float((predicted == wanted).float().mean()) == pytest.approx(
        report["teacher_agreement_after"]
    )


def test_distillation_stops_after_the_epoch_that_crosses_the_time_budget(
    teacher: nn.Module, digits: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(0, 10_000, 100))  # each clock read is 100 s later
    monkeypatch.setattr(distill_module, "_clock", lambda: float(next(ticks)))
    _, report = Distill().run(
        seeded_cnn(7),
        Distill.Settings(epochs=5, time_budget_s=50.0),
        ctx(calibration=digits[0][:64], reference=teacher),
    )
    assert report["epochs_run"] == 1 and report["stopped_by_budget"]
    assert "time budget" in report["note"]


def test_distillation_cancels_before_and_while_running(
    teacher: nn.Module, digits: tuple[np.ndarray, ...]
) -> None:
    context = ctx(calibration=digits[0][:128], reference=teacher)
    context.cancel.set()
    with pytest.raises(Cancelled):
        Distill().run(seeded_cnn(7), Distill.Settings(epochs=3), context)

    epochs_seen: list[str] = []
    running = ctx(calibration=digits[0][:128], reference=teacher)

    def progress(message: str, fraction: float | None) -> None:
        epochs_seen.append(message)
        running.cancel.set()  # the user presses stop during the first epoch report

    running.progress = progress
    with pytest.raises(Cancelled):
        Distill().run(seeded_cnn(7), Distill.Settings(epochs=3, batch_size=16), running)
    assert len(epochs_seen) == 1


def test_distillation_needs_a_teacher_and_matching_labels(digits: tuple[np.ndarray, ...]) -> None:
    with pytest.raises(BadInput, match="teacher"):
        Distill().run(seeded_cnn(), Distill.Settings(), ctx(calibration=digits[0][:8]))
    with pytest.raises(BadInput, match="labels"):
        Distill().run(
            seeded_cnn(),
            Distill.Settings(),
            ctx(calibration=digits[0][:8], labels=digits[2][:5], reference=seeded_cnn()),
        )


# -------------------------------------------------------------------- shared contract


@pytest.mark.parametrize("step", [MagnitudePrune, StructuredPrune, LowRank])
def test_cancel_before_running_raises_cancelled(step: type[Any]) -> None:
    context = ctx()
    context.cancel.set()
    with pytest.raises(Cancelled):
        step().run(seeded_cnn(), step.Settings(), context)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_steps_apply_to_torch_only(step: type[Any]) -> None:
    assert step.applies_to("torch") is None
    reason = step.applies_to("onnx")
    assert isinstance(reason, str) and step.name in reason and "onnx" in reason


@pytest.mark.parametrize(
    ("step", "raw", "field"),
    [
        (MagnitudePrune, {"sparsity": 1.0}, "prune-magnitude.sparsity"),
        (MagnitudePrune, {"scope": "row"}, "prune-magnitude.scope"),
        (StructuredPrune, {"ratio": 0.95}, "prune-structured.ratio"),
        (StructuredPrune, {"importance": "taylor"}, "prune-structured.importance"),
        (StructuredPrune, {"round_to": 0}, "prune-structured.round_to"),
        (StructuredPrune, {"keep_layers": "fc"}, "prune-structured.keep_layers"),
        (LowRank, {"rank_ratio": 0.01}, "lowrank.rank_ratio"),
        (LowRank, {"layers": "attention"}, "lowrank.layers"),
        (Distill, {"epochs": 0}, "distill.epochs"),
        (Distill, {"temperature": 25.0}, "distill.temperature"),
        (Distill, {"alpha": 1.5}, "distill.alpha"),
    ],
)
def test_parse_settings_rejects_bad_values_naming_the_field(
    step: type[Any], raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadInput) as info:
        parse_settings(step, raw)
    assert info.value.message.startswith(field)


def test_parse_settings_accepts_valid_values() -> None:
    settings = parse_settings(StructuredPrune, {"ratio": 0.5, "keep_layers": ["fc"]})
    assert settings == StructuredPrune.Settings(ratio=0.5, keep_layers=["fc"])
    assert parse_settings(Distill, {"epochs": 3}).epochs == 3
