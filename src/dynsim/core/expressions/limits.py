"""Size limits on expressions, checked before and right after Python's parser runs.

The length cap comes first, so no later step ever sees a huge input (a 1 MB string, an
integer literal with thousands of digits). Bracket depth is checked with a cheap scan before
parsing; depth and node count of the parsed tree with an iterative walk before anything
recursive touches it.
"""

from __future__ import annotations

import ast

MAX_LENGTH = 2000
"""Characters in one expression."""

MAX_DEPTH = 100
"""Nesting depth of the expression tree (each operator and call is a level), and of brackets."""

MAX_NODES = 1000
"""Numbers, names, operators and calls in one expression."""

_OPEN = "([{"
_CLOSE = ")]}"


def bracket_overflow(text: str) -> int | None:
    """Index of the first bracket nested deeper than `MAX_DEPTH`, or None."""
    depth = 0
    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                return index
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
    return None


def tree_overflow(tree: ast.AST) -> tuple[str, ast.AST] | None:
    """A (message, node) for a parsed tree too deep or too large, or None.

    Only expression nodes count (numbers, names, operations, calls), not the operator and
    context objects `ast` hangs below them.
    """
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, ast.expr):  # operators, contexts, keywords, ...
            stack.extend((child, depth) for child in ast.iter_child_nodes(node))
            continue
        count += 1
        if depth > MAX_DEPTH:
            return (f"expression nested too deeply (more than {MAX_DEPTH} levels); "
                    "split it using parameters or simpler terms", node)
        if count > MAX_NODES:
            return (f"expression too large (more than {MAX_NODES} numbers, names and "
                    "operators)", node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None
