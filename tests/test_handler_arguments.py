"""No message handler takes an argument that costs a worker thread per message.

FastStream's ``Context`` fields (``NatsMessage`` and ``NatsBroker`` are two) are resolved by
fast_depends in a worker thread; services use ``common.bus``'s ``Delivery``, ``Broker`` and
``LoopContext`` instead (issue 12; libs/common/tests/test_common_bus_context.py shows the hop).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# FastStream's annotations that are ``Context`` fields.
THREADED_ANNOTATIONS = frozenset({"NatsMessage", "NatsBroker"})


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def threaded_arguments(source: str, filename: str) -> list[str]:
    """Every ``Context(...)`` field (an alias of one included), and every subscriber argument
    annotated with one of FastStream's."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and _name(node.func) == "Context":
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            continue
        subscribes = any(
            isinstance(d, ast.Call) and _name(d.func) == "subscriber" for d in node.decorator_list
        )
        for argument in [*node.args.args, *node.args.kwonlyargs] if subscribes else []:
            annotation = argument.annotation
            if annotation is not None and _name(annotation) in THREADED_ANNOTATIONS:
                found.append(f"{node.name}({argument.arg}: {ast.unparse(annotation)})")
    return found


def test_no_handler_argument_is_resolved_in_a_worker_thread() -> None:
    offenders = {}
    for path in sorted(ROOT.glob("services/*/src/**/*.py")):
        found = threaded_arguments(path.read_text(), str(path))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_the_finder_sees_a_threaded_argument() -> None:
    source = (
        "Dep = Annotated[Service, Context('service')]\n"
        "Fine = Annotated[Service, LoopContext('service')]\n"
        "@router.subscriber('x')\n"
        "async def handle(body: dict, msg: NatsMessage, fine: Fine, bus: nats.NatsBroker): ...\n"
        "async def helper(msg: NatsMessage): ...\n"
    )
    assert sorted(threaded_arguments(source, "handlers.py")) == [
        "handle(bus: nats.NatsBroker)",
        "handle(msg: NatsMessage)",
        "line 1: Context('service')",
    ]
