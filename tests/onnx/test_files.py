"""Bad and unusual files: each one clear one-line error with its exit code, never a partial report."""

from __future__ import annotations

import json
import os

import pytest

import onnx
from howfast import errors
from howfast.api import analyze as analyze_onnx
from howfast.cli.app import main
from howfast.errors import BadFileError
from howfast.onnx.runtime import create_session
from onnx import helper
from tests.onnx.builders import model, save, value, weight


def small_net(tmp_path, name="net.onnx", external: str | None = None):
    """conv (8x3x3x3) -> relu -> flatten -> gemm (10 x 512): 216 + 5130 parameters."""
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="/fc/Gemm", transB=1),
    ]
    inits = [weight("conv.weight", (8, 3, 3, 3)), weight("fc.weight", (10, 512)), weight("fc.bias", (10,))]
    m = model(nodes, [value("x", [1, 3, 8, 8])], [value("y", [1, 10])], inits)
    path = tmp_path / name
    if external:
        onnx.save(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=external, size_threshold=0)
    else:
        save(m, path)
    return path


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_file(capsys, path, fragment, code=errors.BAD_FILE):
    status, out, err = cli(capsys, "analyze", str(path), "-f", "json")
    assert status == code, err
    assert out == ""  # no partial report
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def test_small_net_reference_counts(tmp_path, capsys):
    code, out, err = cli(capsys, "analyze", str(small_net(tmp_path)), "-f", "json")
    assert code == 0, err
    totals = json.loads(out)["totals"]
    assert totals["params"] == 216 + 5130
    assert totals["macs"] == 8 * 64 * 27 + 10 * 512


def test_truncated_file(tmp_path, capsys):
    data = small_net(tmp_path).read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    assert_bad_file(capsys, bad, "is not a valid ONNX file (truncated or not a protobuf model")


@pytest.mark.parametrize("content", [b"this is not an ONNX model\n", b"\x00" * 64, b"{\"json\": true}"])
def test_file_that_is_not_onnx(tmp_path, capsys, content):
    bad = tmp_path / "text.onnx"
    bad.write_bytes(content)
    status, out, err = cli(capsys, "analyze", str(bad))
    assert status == errors.BAD_FILE and out == "" and "Traceback" not in err
    assert "not" in err and "ONNX" in err


def test_empty_missing_and_directory(tmp_path, capsys):
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert_bad_file(capsys, tmp_path / "empty.onnx", "is empty, not an ONNX model")
    assert_bad_file(capsys, tmp_path / "missing.onnx", "no such file")
    (tmp_path / "dir.onnx").mkdir()
    assert_bad_file(capsys, tmp_path / "dir.onnx", "is not a file")


def test_graph_failing_shape_inference_names_the_node(tmp_path, capsys):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul_bad")
    m = model([node], [value("x", [2, 3])], [value("y", None)], [weight("w", (4, 5))])  # K: 3 != 4
    path = save(m, tmp_path / "bad_shapes.onnx")
    assert_bad_file(capsys, path, "shape inference failed")
    with pytest.raises(BadFileError, match="matmul_bad"):
        analyze_onnx(path)


def test_conv_channel_mismatch_is_a_bad_file(tmp_path, capsys):
    # ONNX's Conv inference does not compare channels; the translation does
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_bad", kernel_shape=[3, 3])
    m = model([node], [value("x", [1, 3, 8, 8])], [value("y", None)], [weight("w", (8, 4, 3, 3))])
    assert_bad_file(capsys, save(m, tmp_path / "bad_conv.onnx"), "node 'conv_bad' (Conv): the input has 3 channels")


def test_undefined_input_is_a_bad_file(tmp_path, capsys):
    node = helper.make_node("Relu", ["nowhere"], ["y"], name="relu")
    path = save(model([node], [value("x", [2])], [value("y", [2])]), tmp_path / "undefined.onnx")
    assert_bad_file(capsys, path, "")


def test_external_data_beside_the_model_loads(tmp_path):
    path = small_net(tmp_path, external="weights.bin")
    assert (tmp_path / "weights.bin").is_file()
    assert analyze_onnx(path).totals.params == 216 + 5130
    session = create_session(path)
    assert session.get_inputs()[0].name == "x"


def test_missing_external_data_file(tmp_path, capsys):
    path = small_net(tmp_path, external="weights.bin")
    os.remove(tmp_path / "weights.bin")
    assert_bad_file(capsys, path, "external data file 'weights.bin' for tensor 'conv.weight' is missing")


def test_truncated_external_data_file(tmp_path, capsys):
    path = small_net(tmp_path, external="weights.bin")
    data = (tmp_path / "weights.bin").read_bytes()
    (tmp_path / "weights.bin").write_bytes(data[:100])
    assert_bad_file(capsys, path, "is too short for tensor")


def _relocate(path, location):
    m = onnx.load(str(path), load_external_data=False)
    for tensor in m.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(m, str(path))


def test_external_path_escaping_the_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    path = small_net(folder, external="weights.bin")
    os.replace(folder / "weights.bin", tmp_path / "outside.bin")  # the file exists, outside the folder
    _relocate(path, "../outside.bin")
    assert_bad_file(capsys, path, "points outside the model's folder ('../outside.bin'); refused")
    with pytest.raises(BadFileError, match="outside the model's folder"):
        create_session(path)  # checked before ONNX Runtime opens anything


def test_absolute_external_path_is_refused(tmp_path, capsys):
    path = small_net(tmp_path, external="weights.bin")
    _relocate(path, str(tmp_path / "weights.bin"))
    assert_bad_file(capsys, path, "points to the absolute path")


def test_symlink_escaping_the_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    path = small_net(folder, external="weights.bin")
    os.replace(folder / "weights.bin", tmp_path / "real.bin")
    os.symlink(tmp_path / "real.bin", folder / "weights.bin")
    assert_bad_file(capsys, path, "points outside the model's folder")


def test_large_initializers_are_not_needed_in_memory(tmp_path):
    # the analysis reads only small tensors from external files: a sparse (all-zero) data file works
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")]
    w = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[4096, 4096])
    w.data_location = onnx.TensorProto.EXTERNAL
    for key, val in (("location", "big.bin"), ("offset", "0"), ("length", str(4096 * 4096 * 4))):
        entry = w.external_data.add()
        entry.key, entry.value = key, val
    with open(tmp_path / "big.bin", "wb") as handle:
        handle.truncate(4096 * 4096 * 4)
    path = save(model(nodes, [value("x", [1, 4096])], [value("y", [1, 4096])], [w]), tmp_path / "big.onnx")
    report = analyze_onnx(path)
    assert report.totals.params == 4096 * 4096 and report.totals.macs == 4096 * 4096
