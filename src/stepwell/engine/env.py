"""The interpreter's only window on the world: the current time and a random source.

A runtime builds an ``Env`` for each step. Tests pass a fixed time and seed, so a
whole execution replays identically; the in-process runner passes its virtual clock.
A durable step passes no random source (``rng=None``): one seeded from the OS is made
when the step first draws a number, as most steps draw none (seeding costs more than a
Pass state).
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(slots=True)
class Env:
    now: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    rng: random.Random | None = field(default_factory=lambda: random.Random(0))

    def source(self) -> random.Random:
        """The random source; with none given, a fresh one seeded from the OS."""
        rng = self.rng
        if rng is None:
            # An integer seed: seeding with bytes hashes them first, four times slower.
            rng = self.rng = random.Random(int.from_bytes(os.urandom(16), "big"))
        return rng

    def random(self) -> float:
        return self.source().random()

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.source().getrandbits(128), version=4))

    def token(self) -> str:
        """An unguessable task token (given a secret seed): 64 random bytes, hex."""
        return f"{self.source().getrandbits(512):0128x}"
