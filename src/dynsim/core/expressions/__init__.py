"""Typed expressions and equation systems: parsed under a whitelist, compiled, never evaluated.

```python
from dynsim.core.expressions import parse_expression, compile_numpy, derivative, to_text
expr = parse_expression("-g/L*sin(theta) - c*omega", {"theta", "omega", "g", "L", "c", "t"})
to_text(derivative(expr, "theta"))        # '-g/L*cos(theta)'
f = compile_numpy(expr, ["theta", "omega", "g", "L", "c"])
```
The modules: `source` (text checks, `^`), `limits`, `parse` (whitelist -> `tree`),
`functions` (the allow-list), `fold`, `simplify`, `differentiate`, `text` (`to_text`),
`compile` (numpy and torch closures), `equation_system`, `errors`.
"""

from dynsim.core.expressions.compile import compile_numpy, compile_torch
from dynsim.core.expressions.differentiate import derivative
from dynsim.core.expressions.equation_system import equation_system, parse_equations
from dynsim.core.expressions.errors import ExpressionError
from dynsim.core.expressions.functions import ALIASES, CONSTANTS, FUNCTIONS
from dynsim.core.expressions.limits import MAX_DEPTH, MAX_LENGTH, MAX_NODES
from dynsim.core.expressions.parse import parse_expression, unknown_names
from dynsim.core.expressions.simplify import simplify
from dynsim.core.expressions.text import to_text
from dynsim.core.expressions.tree import Binary, Call, Const, Expr, Neg, Var, free_names

__all__ = [
    "ALIASES", "CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "Binary",
    "Call", "Const", "Expr", "ExpressionError", "Neg", "Var", "compile_numpy", "compile_torch",
    "derivative", "equation_system", "free_names", "parse_equations", "parse_expression",
    "simplify", "to_text", "unknown_names",
]
