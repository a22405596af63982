"""Predicted times, memory fit, the JSON section and the command line of ``howfast llm``."""

from __future__ import annotations

import json

import pytest
import torch

from howfast.capture.loader import load_model
from howfast.cli.app import main
from howfast.hardware.profiles import builtin_names, get_profile
from howfast.llm import Generation, analyze_llm
from howfast.llm.measure import measure_generation
from howfast.llm.predict import interpolated_sum, predict
from howfast.llm.workload import Captured, capture_generation
from howfast.report.llm import TimePoint
from howfast.report.report import Report

LLAMA_7B = "llama:layers=32,d_model=4096,heads=32,kv_heads=32,ffn=11008,vocab=32000"


def build(spec: str, dtype: torch.dtype = torch.float32, device: str = "meta") -> torch.nn.Module:
    return load_model(spec, device=device).model.to(dtype).eval()


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


GEN_7B = Generation(prompt=64, new_tokens=8)


@pytest.fixture(scope="module")
def llama7b_captured() -> Captured:
    return capture_generation(build(LLAMA_7B, torch.float16), GEN_7B)


@pytest.mark.parametrize("profile", builtin_names())
def test_tpot_is_at_least_the_bytes_a_step_must_read_over_bandwidth(llama7b_captured, profile):
    """Physical floor at batch 1: a decode step reads the weights it uses and the KV cache from memory."""
    gen, captured = GEN_7B, llama7b_captured
    p = predict(captured, gen, get_profile(profile))
    step = captured.decode_phases[gen.first_context]
    weights_read = step.totals.traffic("compulsory")["weights_bytes"]
    # every weight but 31,999 of the 32,000 embedding rows
    assert weights_read == step.totals.param_bytes - 31_999 * 4096 * 2
    kv_read = 524_288 * (gen.first_context - 1)
    floor = (weights_read + kv_read) / get_profile(profile).bandwidth.value
    assert p.tpot_s >= floor
    assert p.tpot_last_s >= p.tpot_s


def test_70b_bf16_does_not_fit_80_gb_and_tp2_would(capsys):
    code, out, err = run(capsys, "llm", "llama2_70b", "--dtype", "bfloat16", "--prompt", "16", "--new", "2", "--device", "h100",
                         "-f", "json")
    assert code == 0, err
    memory = json.loads(out)["llm"]["memory"]
    weights = memory["weights_bytes"]
    assert weights == 2 * (80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192) + 2 * 32000 * 8192 + 8192)
    assert memory["device_bytes"] == 80_000_000_000 and memory["fits"] is False and memory["max_batch"] == 0
    assert memory["tp_to_fit"] == 2
    assert memory["total_bytes"] == weights + memory["kv_cache_bytes"] + memory["activation_bytes"]
    assert memory["kv_cache_bytes"] == 327_680 * (16 + 2)


def test_max_batch_from_the_per_sequence_bytes():
    report = analyze_llm(build(LLAMA_7B, torch.float16), prompt=64, new_tokens=8, batch=2, device="a100")
    m = report.llm.memory
    per_sequence = (m.kv_cache_bytes + m.activation_bytes) / 2
    assert m.max_batch == int((80e9 - m.weights_bytes) // per_sequence)
    assert m.max_context == int((80e9 - m.weights_bytes - m.activation_bytes) // (2 * 524_288))


def test_json_section_has_the_documented_keys_and_reads_back(capsys, tmp_path):
    path = tmp_path / "gen.json"
    code, _, err = run(capsys, "llm", "gpt2:layers=2,d_model=64,heads=2,vocab=500", "-p", "12", "-n", "5", "--device", "t4",
                       "-f", "json", "-o", str(path))
    assert code == 0, err
    data = json.loads(path.read_text())
    llm = data["llm"]
    assert llm["kv_cache"]["bytes_per_token"] == 2 * 2 * 64 * 4
    assert llm["kv_cache"]["bytes"] == 2 * 2 * 64 * 4 * 17
    for key in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "total_bytes", "device_bytes", "fits", "max_batch"):
        assert key in llm["memory"]
    for key in ("ttft_s", "tpot_s", "tokens_per_s"):
        assert llm["predicted"][key] > 0
    for end in ("first", "last"):
        assert {"macs_per_token", "bytes_per_token", "context", "totals"} <= set(llm["decode"][end])
    assert (llm["decode"]["first"]["context"], llm["decode"]["last"]["context"]) == (13, 16)
    assert llm["prefill"]["totals"]["macs"] == data["phases"][0]["totals"]["macs"]
    p = llm["predicted"]
    assert p["total_s"] == pytest.approx(p["ttft_s"] + p["decode_s"])
    assert p["tokens_per_s"] == pytest.approx(5 / p["total_s"])
    again = Report.from_dict(data)
    assert again.llm is not None and again.llm.to_dict() == llm
    code, out, err = run(capsys, "show", str(path))
    assert code == 0 and "TTFT" in out and "KV cache" in out, err


def test_sweep_reports_each_batch_and_where_decode_turns_compute_bound(capsys):
    code, out, err = run(capsys, "llm", "llama", "-p", "32", "-n", "4", "--batch", "1,64", "--device", "a100", "--width", "120")
    assert code == 0, err
    assert "batch" in out and "tok/s all" in out
    assert "memory-bound" in out


def test_interpolated_sum_is_exact_on_a_line():
    curve = [TimePoint(10, 1.0), TimePoint(14, 3.0), TimePoint(20, 6.0)]
    assert interpolated_sum(curve, 10, 20) == pytest.approx(sum(1.0 + 0.5 * (c - 10) for c in range(10, 21)))


@pytest.mark.parametrize("args, code, fragment", [
    (["-p", "0"], 2, "prompt must be a positive"),
    (["-n", "-3"], 2, "new tokens must be a positive"),
    (["--batch", "0"], 2, "batch must be"),
    (["--kv-dtype", "int3"], 2, "unknown KV-cache dtype"),
    (["--device", "cpu"], 2, "names a hardware profile"),
])
def test_bad_input_is_one_line(capsys, args, code, fragment):
    got, _, err = run(capsys, "llm", "llama", *args)
    lines = [line for line in err.strip().splitlines() if line]
    assert got == code and len(lines) == 1 and lines[0].startswith("howfast: error: ") and fragment in lines[0], err


def test_a_model_without_cache_is_refused_naming_what_is_missing(capsys):
    got, _, err = run(capsys, "llm", "resnet18")
    assert got == 2 and "takes no past_key_values or use_cache" in err and "Traceback" not in err


def test_kv_dtype_what_if_halves_the_cache(capsys):
    code, out, err = run(capsys, "llm", "llama", "-p", "8", "-n", "2", "--kv-dtype", "int8", "-f", "json")
    assert code == 0, err
    kv = json.loads(out)["llm"]["kv_cache"]
    assert kv["dtype"] == "int8" and kv["bytes_per_token"] == 2 * 2 * 8 * 64 * 1
    assert any("what-if" in n for n in json.loads(out)["llm"]["notes"])


def test_measured_generation_on_the_cpu():
    model = build("llama:layers=1,d_model=64,heads=2,kv_heads=1,ffn=128,vocab=100", device="cpu")
    m = measure_generation(model, Generation(prompt=8, new_tokens=5), rounds=2, warmup=1)
    assert m.ttft_s > 0 and m.tpot_s > 0 and m.rounds == 2
    assert m.total_s > m.ttft_s
    assert m.tokens_per_s == pytest.approx(5 / m.total_s)


def test_html_page_has_the_generation_section_and_charts(capsys, tmp_path):
    path = tmp_path / "gen.html"
    code, _, err = run(capsys, "llm", "llama:layers=1,d_model=64,heads=2,kv_heads=1,ffn=128,vocab=100", "-p", "8", "-n", "4",
                       "--batch", "1,2", "--device", "a100", "-f", "html", "-o", str(path))
    assert code == 0, err
    page = path.read_text()
    for ident in ('id="generation"', 'id="generation-phases"', 'id="generation-sweep"', 'id="chart-phases"', 'id="chart-tpot"',
                  'id="chart-sweep"'):
        assert ident in page, ident
    assert "TTFT" in page and "KV cache" in page


def test_markdown_has_the_phase_table(capsys):
    code, out, err = run(capsys, "llm", "gpt2:layers=1,d_model=64,heads=2,vocab=100", "-p", "8", "-n", "3", "-f", "md")
    assert code == 0, err
    assert "| context (keys) | 8 | 9 | 10 |" in out
    assert "KV cache: 512 B per token" in out  # 2 x 1 layer x 64 x 4 bytes


def test_a_hugging_face_factory_through_the_command_line(capsys, tmp_path):
    pytest.importorskip("transformers")
    factory = tmp_path / "my_llm.py"
    factory.write_text("from transformers import LlamaConfig, LlamaForCausalLM\n\n\ndef make():\n"
                       "    return LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,\n"
                       "                                        num_key_value_heads=2, intermediate_size=128, vocab_size=1000))\n")
    code, out, err = run(capsys, "llm", f"{factory}:make", "-p", "8", "-n", "3", "-f", "json")
    assert code == 0, err
    llm = json.loads(out)["llm"]
    assert llm["kv_cache"]["bytes_per_token"] == 2 * 2 * 2 * 16 * 4  # K and V, 2 layers, 2 KV heads of 16, fp32
    assert llm["cache"].startswith("hf")
