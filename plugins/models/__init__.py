"""Built-in learned-model families."""
