"""Why a scene failed for good in a run: the one vocabulary the scheduler ends jobs with, the manifest keeps,
and a re-run reads to decide what to try again.

* ``"exhausted"``: every rung of the ladder was tried and failed;
* ``"fatal"``: an error no rung can fix (bad input, a bug of ours, a job kind every live server refuses);
* ``"unavailable"``: no server could take the job (every one benched or gone); it used up no rung;
* ``"external"``: something outside the scene broke (FFmpeg missing); it used up no rung either.

A re-run tries "unavailable" and "external" scenes again by itself, from the rung that never ran;
"exhausted" and "fatal" ones only with ``--retry-failed``.
"""

from __future__ import annotations

from typing import Literal

FailureKind = Literal["exhausted", "fatal", "unavailable", "external"]
