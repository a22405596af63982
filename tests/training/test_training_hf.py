"""A Hugging Face causal LM with LoRA-style freezing (only q_proj and v_proj train): what the real
backward graph computes follows from which tensors need a gradient, layer by layer; gradients and
AdamW state cover the trainable parameters only (docs/training.md)."""

from __future__ import annotations

import warnings

import pytest
import torch

import howfast

transformers = pytest.importorskip("transformers")


def _model() -> torch.nn.Module:
    config = transformers.LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    for name, p in model.named_parameters():
        p.requires_grad_("q_proj" in name or "v_proj" in name)
    return model


def test_hf_llama_with_frozen_base() -> None:
    model = _model()
    ids = torch.randint(0, 256, (2, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = howfast.analyze_training(model, ids, loss="cross_entropy", optimizer="adamw")
    forward, backward = ({row.name: row.macs for row in phase.layers} for phase in report.phases[:2])
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert report.training is not None
    assert report.training.gradients == 4 * sum(p.numel() for p in trainable)
    assert report.training.optimizer_state == 8 * sum(p.numel() for p in trainable) + 4 * len(trainable)
    first, second = "model.layers.0", "model.layers.1"
    # layer 0: the embedding is frozen, so q_proj and v_proj compute only their weight gradient
    # (1x), and k_proj, whose input and weight need no gradient, nothing
    assert backward[f"{first}.self_attn.q_proj"] == forward[f"{first}.self_attn.q_proj"]
    assert backward[f"{first}.self_attn.v_proj"] == forward[f"{first}.self_attn.v_proj"]
    assert backward.get(f"{first}.self_attn.k_proj", 0) == 0
    # after the first trainable layer every frozen product passes an input gradient back (1x)
    for frozen in (f"{first}.self_attn.o_proj", f"{first}.mlp.down_proj", f"{second}.self_attn.k_proj", "lm_head"):
        assert backward[frozen] == forward[frozen], frozen
    # a trainable layer whose input needs a gradient computes both (2x)
    assert backward[f"{second}.self_attn.q_proj"] == 2 * forward[f"{second}.self_attn.q_proj"]
    # the frozen embedding gets no gradient
    assert backward.get("model.embed_tokens", 0) == 0
