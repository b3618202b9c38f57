"""Counting the ATen operators a piece of PyTorch code dispatches (views excluded), for `benchmarks/generate.py`.

Pure torch: the upstream runner of `generate.py` imports it too, so both implementations are counted by the same
code in the same way. Every operator call that reaches the dispatcher counts once (`aten.mm`, `aten.add`, ...);
view operators (`aten.view`, `aten.transpose`, `aten.slice`, ...) do not, since they launch no kernel.

Composite operators (`aten.linear`, `aten.matmul`, `aten.scaled_dot_product_attention`, ...) are counted by what
they decompose into. Without that the count would depend on the grad mode: under `torch.inference_mode()`
(upstream's `generate`) such an operator reaches the counter whole, under `torch.no_grad()` (ours, as transformers')
it has already been decomposed, e.g. `aten.linear` into `aten.addmm` (+ `aten._unsafe_view`).
"""

import collections

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class OperatorCounter(TorchDispatchMode):
    """`with OperatorCounter() as counter: ...` -> `counter.total` and `counter.by_name` (a Counter)."""

    def __init__(self):
        super().__init__()
        self.by_name = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "CompositeImplicitAutograd"):
            with self:  # count the operators it decomposes into
                result = func.decompose(*args, **kwargs)
            if result is not NotImplemented:
                return result
        if not func.is_view:
            self.by_name[str(func.overloadpacket)] += 1
        return func(*args, **kwargs)

    @property
    def total(self) -> int:
        return sum(self.by_name.values())


def operators_per_position(generate, positions: int, extra: int = 8) -> float:
    """Operators per generated position: `(count(generate(positions + extra)) - count(generate(positions))) / extra`,
    so the prompt's prefill and the fixed costs of a call cancel out. `generate(n)` generates `n` positions."""
    counts = []
    for n in (positions, positions + extra):
        with OperatorCounter() as counter:
            generate(n)
        counts.append(counter.total)
    return (counts[1] - counts[0]) / extra
