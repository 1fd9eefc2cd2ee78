"""Built-in solvers."""
