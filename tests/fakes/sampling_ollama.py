"""A fake Ollama that samples: every answer differs from the one before, as a real LLM's do (temperature > 0).

Used to prove that resuming a post does not depend on the LLM answering the same twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.fake_ollama import GOOD_ANCHOR, GOOD_I2V, FakeOllama, is_anchor_request

VARIANTS = ("soft", "pale", "warm", "cold", "grey", "gold", "dim", "bright", "hazy", "clear")


def sampled_answer(n: int) -> str:
    """A valid prompt (both modes, naming GOOD_ANCHOR's main subject) whose first sentence changes with `n`."""
    words = " ".join(VARIANTS[(n // 10**k) % len(VARIANTS)] for k in range(3))
    return (f"Under {words} light, a Korean woman in her twenties in a beige raincoat watches a paper cup roll "
            f"across a wet bus stop bench. {GOOD_I2V}")


@dataclass
class SamplingOllama(FakeOllama):
    answered: int = 0

    async def __aenter__(self) -> SamplingOllama:
        await super().__aenter__()
        return self

    async def _generate(self, request: Any) -> Any:
        body = await request.json() if request.can_read_body else None
        if isinstance(body, dict) and "prompt" in body:
            self.answered += 1
            self.script(GOOD_ANCHOR if is_anchor_request(body) else sampled_answer(self.answered))
        return await super()._generate(request)
