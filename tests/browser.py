"""A real headless Chromium driven over the DevTools protocol (websockets): open a page from disk, collect
console errors, check its images and count elements, take a screenshot.

Tests skip with a clear message when no Chromium is installed (`scripts/check.sh` installs Debian's
`chromium` where it can).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0",
)  # fmt: skip
START_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 60.0
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_or_skip() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on this machine: install it (`apt-get install -y chromium`; scripts/check.sh does "
                "this where apt-get works) to run the browser checks of report.html")


@dataclass
class PageCheck:
    errors: list[str] = field(default_factory=list)
    value: Any = None
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.loaded = asyncio.Event()

    async def pump(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.pending:
                self.pending.pop(message["id"]).set_result(message)
                continue
            self.events.append(message)
            if message.get("method") == "Page.loadEventFired":
                self.loaded.set()

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, STEP_TIMEOUT_S)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found


async def check_page(page: Path, script: str, profile: Path, *, width: int = 1200, height: int = 2000) -> PageCheck:
    """Open `page` in headless Chromium, wait for its load event, evaluate `script` (its value is returned),
    and take a full-page screenshot."""
    browser = chromium_or_skip()
    process = await asyncio.create_subprocess_exec(
        browser, *FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[None] | None = None
    try:
        url = await asyncio.wait_for(_devtools_url(process), START_TIMEOUT_S)
        drain = asyncio.create_task(_drain(process))  # a full stderr pipe would block Chromium
        async with connect(url, max_size=256 * 1024 * 1024) as ws:
            session = _Session(ws)
            pump = asyncio.create_task(session.pump())
            try:
                target = (await session.call("Target.createTarget", url="about:blank"))["targetId"]
                sid = (await session.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
                for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                    await session.call(domain, sid)
                await session.call("Emulation.setDeviceMetricsOverride", sid, width=width, height=height,
                                   deviceScaleFactor=1, mobile=False)
                await session.call("Page.navigate", sid, url=page.resolve().as_uri())
                await asyncio.wait_for(session.loaded.wait(), STEP_TIMEOUT_S)
                await session.call("Runtime.evaluate", sid, expression="document.fonts.ready", awaitPromise=True)
                result = await session.call("Runtime.evaluate", sid, expression=script, returnByValue=True,
                                            awaitPromise=True)
                shot = await session.call("Page.captureScreenshot", sid, format="png")
                check = PageCheck(session.errors(), result.get("result", {}).get("value"),
                                  base64.b64decode(shot["data"]))
                with contextlib.suppress(Exception):
                    await session.call("Browser.close")
                return check
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
    finally:
        if drain is not None:
            drain.cancel()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), 30)


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    seen: list[str] = []
    while True:
        line = await process.stderr.readline()
        if not line:
            raise AssertionError("Chromium exited before DevTools listened:\n" + "".join(seen[-20:]))
        text = line.decode("utf-8", "replace")
        seen.append(text)
        match = _LISTENING.search(text)
        if match:
            return match.group(1)


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    while await process.stderr.read(65536):
        pass
