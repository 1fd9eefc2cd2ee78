"""Built-in dynamical systems."""
