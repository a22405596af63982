"""The ``training_memory`` section: categories by hand, the saved activations against an independent
measurement (``torch.autograd.graph.saved_tensors_hooks``), the model left unchanged, a 7B model on meta."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.capture.training import storage_key
from howfast.errors import InputSpecError, UsageError
from howfast.report.load import report_from_dict
from howfast.training.step import loss_function
from howfast.zoo import build


def _hooked_saved_bytes(model: nn.Module, x: torch.Tensor, loss: str) -> int:
    """Bytes of the distinct storages autograd packs during forward (the loss included), weights excluded."""
    weights = {storage_key(t) for t in list(model.parameters()) + list(model.buffers())}
    packed: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = storage_key(t)
        if key is not None and key not in weights:
            packed[key] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = loss_function(loss)(model(x))
    del out
    return sum(packed.values())


def _gpt2() -> nn.Module:
    return build("gpt2", {"layers": 2, "d_model": 64, "heads": 2, "vocab": 100})


@pytest.mark.parametrize(("make", "inputs", "loss"), [
    (lambda: build("resnet18"), lambda: torch.randn(8, 3, 64, 64), "sum"),
    (_gpt2, lambda: torch.zeros(8, 16, dtype=torch.long), "cross_entropy"),
], ids=["resnet18", "gpt2"])
def test_adamw_memory_categories(make, inputs, loss):
    torch.manual_seed(0)
    model, x = make(), inputs()
    params = list(model.parameters())  # each tensor once (gpt2's tied embedding too)
    n = sum(p.numel() for p in params)
    report = howfast.analyze_training(model, x, loss=loss, optimizer="adamw")
    memory = report.training
    assert memory is not None
    assert memory.parameters == memory.gradients == 4 * n
    # exp_avg and exp_avg_sq (4 bytes each per element) and one float32 step scalar per tensor
    assert memory.step_counters == 4 * len(params)
    assert memory.optimizer_state == 8 * n + 4 * len(params)
    hooked = _hooked_saved_bytes(model, x, loss)
    assert abs(memory.saved_activations - hooked) <= 0.05 * hooked, (memory.saved_activations, hooked)
    assert memory.peak >= memory.model_states + memory.buffers
    assert memory.heaviest_layer in memory.saved_by_layer and memory.heaviest_layer
    assert sum(memory.saved_by_layer.values()) == memory.saved_activations
    data = report.to_dict(include_ops=False)
    assert data["training_memory"]["optimizer_state"] == memory.optimizer_state
    again = report_from_dict(data)
    assert again.training == memory


def test_mlp_saved_activations_by_hand():
    # Linear(4, 8) -> ReLU -> Linear(8, 2), batch 3: autograd keeps the input (3 x 4 x 4 = 48 bytes,
    # for the first weight gradient) and the ReLU output (3 x 8 x 4 = 96, for the ReLU backward and the
    # second weight gradient); the Linear outputs are not kept.
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    memory = howfast.analyze_training(model, torch.randn(3, 4), optimizer="sgd").training
    assert memory is not None
    assert memory.saved_activations == 48 + 96
    assert memory.saved_by_layer == {"1": 96, "": 48}
    assert (memory.heaviest_layer, memory.heaviest_layer_bytes) == ("1", 96)
    assert memory.parameters == memory.gradients == 4 * (40 + 18)
    assert memory.optimizer_state == 0  # plain SGD keeps no state
    momentum = howfast.analyze_training(model, torch.randn(3, 4), optimizer="momentum").training
    assert momentum is not None and momentum.optimizer_state == 4 * (40 + 18)  # one buffer per parameter


def test_the_model_is_left_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).eval()
    model[3].weight.requires_grad_(False)
    x = torch.randn(5, 4)
    model(x).sum().backward()  # the user's own gradients, and an optimizer of theirs with state
    user_opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    user_opt.step()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    grads = {k: (v.grad.clone(), v.grad) for k, v in model.named_parameters() if v.grad is not None}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in user_opt.state.items()}
    flags = {k: v.requires_grad for k, v in model.named_parameters()}
    howfast.analyze_training(model, x, loss="mse", optimizer="adam")
    assert not model.training and not any(m.training for m in model.modules())
    for k, v in model.named_parameters():
        assert torch.equal(v, params[k]) and v.requires_grad == flags[k]
        if k in grads:
            assert v.grad is grads[k][1] and torch.equal(v.grad, grads[k][0])
        else:
            assert v.grad is None
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())
    for p, s in user_opt.state.items():
        assert all(torch.equal(v, state[id(p)][k]) for k, v in s.items())


def test_a_7b_llama_on_meta():
    model = build("llama", {"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 32, "ffn": 11008}, device="meta")
    params = list(model.parameters())
    n = sum(p.numel() for p in params)
    assert 6.5e9 < n < 7e9
    report = howfast.analyze_training(model, "1x16:int64", loss="cross_entropy", optimizer="adamw")
    memory = report.training
    assert memory is not None
    assert memory.parameters == memory.gradients == 4 * n
    assert memory.optimizer_state == 8 * n + 4 * len(params)
    assert all(p.device.type == "meta" and p.grad is None for p in model.parameters())
    assert memory.saved_activations > 0 and memory.peak > memory.model_states


def test_refusals():
    model = nn.Linear(4, 2)
    with pytest.raises(UsageError, match="unknown optimizer 'lion'"):
        howfast.analyze_training(model, torch.randn(1, 4), optimizer="lion")
    with pytest.raises(UsageError, match="unknown loss 'l1'"):
        howfast.analyze_training(model, torch.randn(1, 4), loss="l1")
    frozen = nn.Linear(4, 2).requires_grad_(False)
    with pytest.raises(InputSpecError, match="no parameter of the model requires grad"):
        howfast.analyze_training(frozen, torch.randn(1, 4))

    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> dict[str, int]:
            self.fc(x)
            return {"n": 1}

    named = Named()
    with pytest.raises(InputSpecError, match="returned a dict, not a tensor"):
        howfast.analyze_training(named, torch.randn(1, 4))
    assert named.fc.weight.grad is None and named.training
    with pytest.raises(InputSpecError, match=r"cross_entropy needs \(N, C\) or \(N, T, V\)"):
        howfast.analyze_training(nn.Conv2d(1, 1, 1), torch.randn(1, 1, 2, 2), loss="cross_entropy")


def test_a_refused_step_leaves_the_model_unchanged():
    # the model's output is a dict (no loss applies): refused after its forward ran in training mode
    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"y": self.fc(self.bn(x))}

    model = Named().eval()
    model.fc.weight.grad = torch.ones(2, 4)
    user_grad = model.fc.weight.grad
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    with pytest.raises(InputSpecError, match="returned a dict, not a tensor"):
        howfast.analyze_training(model, torch.randn(3, 4), loss="mse", optimizer="adamw")
    assert all(torch.equal(v, params[k]) for k, v in model.named_parameters())
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())  # batch-norm statistics put back
    assert model.fc.weight.grad is user_grad and torch.equal(user_grad, torch.ones(2, 4)) and model.fc.bias.grad is None
    assert not model.training and not model.bn.training
    with pytest.raises(UsageError, match="unknown optimizer 'lion'"):  # refused before anything runs
        howfast.analyze_training(model, torch.randn(3, 4), optimizer="lion")
    assert all(torch.equal(v, params[k]) for k, v in model.named_parameters())


def test_the_peak_split_by_category_sums_to_the_peak() -> None:
    model = build("resnet18")
    report = howfast.analyze_training(model, torch.randn(2, 3, 32, 32), loss="cross_entropy", optimizer="adamw")
    memory = report.training
    assert memory is not None
    parts = memory.peak_by_category
    assert sum(parts.values()) == memory.peak
    assert parts["parameters"] == memory.parameters == 4 * 11_689_512 and parts["buffers"] == memory.buffers
    assert min(parts.values()) >= 0
    if memory.peak_phase == "optimizer":  # AdamW's update: every .grad is live, and the state it allocated
        assert parts["gradients"] == memory.gradients == 4 * 11_689_512
        assert parts["optimizer_state"] >= 8 * 11_689_512
