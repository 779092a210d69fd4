"""No message handler takes an argument that costs a worker thread per message.

FastStream's ``Context`` fields (``NatsMessage`` and ``NatsBroker`` are two) are resolved by
fast_depends in a worker thread; handlers take ``common.bus``'s ``Delivery``, ``Broker`` and
``LoopContext`` instead (issue 12; libs/common/tests/test_common_bus_context.py shows the hop).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADED = ("NatsMessage", "NatsBroker", "Context(")


def threaded_arguments(source: str, filename: str) -> list[str]:
    """``handler(argument: annotation)`` for each subscriber argument from FastStream's context."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            continue
        subscribes = any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr == "subscriber"
            for d in node.decorator_list
        )
        if not subscribes:
            continue
        for argument in [*node.args.args, *node.args.kwonlyargs]:
            annotation = ast.unparse(argument.annotation) if argument.annotation else ""
            if any(name in annotation for name in THREADED):
                found.append(f"{node.name}({argument.arg}: {annotation})")
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
        "@router.subscriber('x')\n"
        "async def handle(body: dict, msg: NatsMessage, n: Annotated[int, Context('n')]): ...\n"
        "async def helper(msg: NatsMessage): ...\n"
    )
    assert threaded_arguments(source, "handlers.py") == [
        "handle(msg: NatsMessage)",
        "handle(n: Annotated[int, Context('n')])",
    ]
