"""--precision auto: float16 only on a GPU that computes it fast (compute capability 7.0 or
higher), bfloat16 on a processor with it natively (not on JAX), float32 elsewhere. The
device details are faked: these machines have no GPU."""

import ast
from types import SimpleNamespace

import pytest

from conftest import SCRIPT


def functions(*names, **namespace):
    """The tutorial's functions of these names, defined in a namespace of the given globals."""
    tree = ast.parse(open(SCRIPT, encoding="utf-8").read())
    wanted = [
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names
    ]
    assert sorted(node.name for node in wanted) == sorted(names)
    exec(compile(ast.Module(wanted, type_ignores=[]), SCRIPT, "exec"), namespace)
    return [namespace[name] for name in names]


def fake_tensorflow(details):
    """A stand-in for TensorFlow's device queries: one GPU with these details, or none."""
    gpus = [] if details is None else ["/physical_device:GPU:0"]
    experimental = SimpleNamespace(get_device_details=lambda gpu: details)
    return SimpleNamespace(
        config=SimpleNamespace(list_physical_devices=lambda kind: gpus, experimental=experimental)
    )


@pytest.mark.parametrize(
    "details, bfloat16, backend, expected, why",
    [
        ({"compute_capability": (9, 0), "device_name": "H100"}, False, "tensorflow",
         "mixed_float16", "compute capability 9.0"),
        ({"compute_capability": (7, 0)}, True, "tensorflow", "mixed_float16", "7.0"),
        ({"compute_capability": (6, 1), "device_name": "GTX 1080"}, True, "tensorflow",
         "float32", "no tensor cores for float16"),
        ({"compute_capability": (5, 0)}, False, "tensorflow", "float32", "below 7.0"),
        (None, True, "tensorflow", "mixed_bfloat16", "bfloat16 natively"),
        (None, True, "torch", "mixed_bfloat16", "bfloat16 natively"),
        (None, True, "jax", "float32", "no GPU for jax; on JAX, float32 is faster"),
        (None, False, "tensorflow", "float32", "no GPU for tensorflow; no native bfloat16 here"),
        (None, None, "tensorflow", "float32", "bfloat16 not checked"),  # Windows, macOS
        (None, None, "torch", "float32", "no GPU for torch; bfloat16 not checked"),
    ],
)  # fmt: skip
def test_auto_precision(details, bfloat16, backend, expected, why):
    namespace = {"backend": backend, "tf": fake_tensorflow(details)}
    capability_of, choose = functions("gpu_compute_capability", "choose_precision", **namespace)
    capability = capability_of() if backend == "tensorflow" else None
    if backend != "tensorflow" and details:
        capability = details["compute_capability"]
    precision, reason = choose(capability, bfloat16)
    assert precision == expected and why in reason, (precision, reason)
