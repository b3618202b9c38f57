"""`benchmarks/op_count.py`: the operator counter `benchmarks/generate.py` applies to ours and upstream alike."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

from op_count import OperatorCounter, operators_per_position  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _work(layer, x):
    y = layer(x)  # a composite (aten.linear) on a 3-d input
    y = torch.nn.functional.scaled_dot_product_attention(y[None], y[None], y[None])[0]
    return y.transpose(0, 1).relu()  # a view (not counted) and one kernel


@pytest.mark.parametrize("grad_mode", [torch.no_grad, torch.inference_mode])
def test_counts_kernels_not_views_the_same_under_every_grad_mode(grad_mode):
    layer, x = torch.nn.Linear(8, 8), torch.randn(2, 3, 8)
    with grad_mode(), OperatorCounter() as counter:
        _work(layer, x)
    # Composites are counted by what they decompose into, so the grad mode (upstream's generate runs under
    # inference_mode, ours under no_grad) does not change the count.
    assert "aten.linear" not in counter.by_name and "aten.scaled_dot_product_attention" not in counter.by_name
    assert counter.by_name["aten.relu"] == 1 and "aten.transpose" not in counter.by_name
    with torch.no_grad(), OperatorCounter() as reference:
        _work(layer, x)
    assert counter.total == reference.total > 2


def test_operators_per_position_cancels_fixed_costs():
    def generate(n):
        torch.zeros(3).add_(1)  # a fixed cost of every call: cancels out
        for _ in range(n):
            torch.ones(2).mul(2).sum()  # 3 operators per position

    assert operators_per_position(generate, 4, extra=5) == 3.0
