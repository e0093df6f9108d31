"""The interpreter: a pure, deterministic step function over compiled state machines."""
