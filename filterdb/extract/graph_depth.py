"""Graph depth of conv layers, one definition for ONNX graphs and torch.fx traces.

The depth of an operation node is the number of operation nodes on the longest path from the graph
inputs to it (0 for a node fed only by graph inputs and stored weights). Longest, not shortest,
because a skip connection must not make a deep layer look shallow. Graph inputs, weights
(ONNX initializers, fx ``placeholder``/``get_attr``) and the output are not operation nodes, so the
same network exported to ONNX or traced with fx gets comparable depths.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

from torch import fx, nn

K = TypeVar("K", bound=Hashable)

_FX_OPERATIONS = ("call_module", "call_function", "call_method")


def longest_path_depths(predecessors: Mapping[K, Iterable[K]]) -> dict[K, int]:
    """Depth of every node of a DAG given each node's predecessor nodes.

    Predecessors that are not keys of the mapping are ignored (they are inputs, not operations).
    Iterative (Kahn's order), so graphs with tens of thousands of nodes need no deep recursion;
    raises ``ValueError`` on a cycle, which a valid network graph never has.
    """
    preds = {
        node: [p for p in dict.fromkeys(ps) if p in predecessors]
        for node, ps in predecessors.items()
    }
    successors: dict[K, list[K]] = {node: [] for node in preds}
    for node, ps in preds.items():
        for p in ps:
            successors[p].append(node)
    waiting = {node: len(ps) for node, ps in preds.items()}
    depth = {node: 0 for node in preds}
    ready = [node for node, n in waiting.items() if n == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for succ in successors[node]:
            depth[succ] = max(depth[succ], depth[node] + 1)
            waiting[succ] -= 1
            if waiting[succ] == 0:
                ready.append(succ)
    if done != len(preds):
        raise ValueError("the graph has a cycle, so node depths are undefined")
    return depth


class _ConvLeafTracer(fx.Tracer):
    """An fx tracer that keeps every ``nn.Conv2d`` (incl. subclasses such as timm's padded
    convs) as one ``call_module`` node, so each conv weight maps to exactly one node."""

    def __init__(
        self, leaf_types: tuple[type, ...], autowrap_functions: tuple[Callable, ...]
    ) -> None:
        super().__init__(autowrap_functions=autowrap_functions)
        self._leaf_types = (nn.Conv2d, *leaf_types)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, self._leaf_types) or super().is_leaf_module(m, module_qualified_name)


def fx_conv_weight_depths(
    module: nn.Module,
    leaf_types: Iterable[type] = (),
    autowrap_functions: Iterable[Callable] = (),
) -> dict[str, int]:
    """Trace ``module`` with torch.fx and return {conv weight parameter name: graph depth}.

    The dict is in graph order of each weight's first use; a weight used twice (shared weights)
    keeps the depth of its first use. ``leaf_types``/``autowrap_functions`` are the library's
    untraceable pieces (timm registers its own). Raises whatever fx raises when the module is not
    traceable; convs hidden inside a leaf module are simply absent from the result, so the caller
    can detect an incomplete trace.
    """
    tracer = _ConvLeafTracer(tuple(leaf_types), tuple(f for f in autowrap_functions if callable(f)))
    graph = tracer.trace(module)
    operations = [node for node in graph.nodes if node.op in _FX_OPERATIONS]
    depth = longest_path_depths({node: node.all_input_nodes for node in operations})
    weights: dict[str, int] = {}
    for node in operations:
        if node.op == "call_module" and isinstance(module.get_submodule(node.target), nn.Conv2d):
            weights.setdefault(f"{node.target}.weight", depth[node])
    return weights
