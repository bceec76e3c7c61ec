"""The doctor's verdicts: one `Check` per thing looked at, gathered in a `DoctorReport`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One thing the doctor looked at. ``fix`` says what to do when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False

    @property
    def failed(self) -> bool:
        """A failure that counts (optional checks only warn)."""
        return not self.ok and not self.optional


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not any(check.failed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.failed]

    @property
    def warnings(self) -> list[Check]:
        return [check for check in self.checks if not check.ok and check.optional]


def report_json(report: DoctorReport) -> dict[str, Any]:
    """The report as JSON-safe data (``doctor --json``)."""
    return {
        "ok": report.ok,
        "failures": len(report.failures),
        "warnings": len(report.warnings),
        "checks": [{"name": c.name, "status": "ok" if c.ok else ("warn" if c.optional else "fail"),
                    "detail": c.detail, "fix": "" if c.ok else c.fix} for c in report.checks],
    }
