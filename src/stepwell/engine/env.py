"""The interpreter's only window on the world: the current time and a random source.

A runtime builds an ``Env`` for each step. Tests pass a fixed time and seed, so a
whole execution replays identically; the in-process runner passes its virtual clock.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(slots=True)
class Env:
    now: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def random(self) -> float:
        return self.rng.random()

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self) -> str:
        """An unguessable task token (given a secret seed): 64 random bytes, hex."""
        return f"{self.rng.getrandbits(512):0128x}"
