"""The init image of an image-to-video run, sent to the server: upright, RGB, no larger than the clip needs,
under a name derived from its content (POST /upload/image)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

from PIL import Image

from ai_worker.comfy.http import ComfyHTTP
from ai_worker.core.errors import ComfyUIError
from ai_worker.images.normalize import open_upright_rgb


def resize_for_upload(source: Path, width: int, height: int) -> bytes:
    """The init image as PNG bytes: upright, RGB, transparency on white (`normalize`), shrunk with LANCZOS
    (ratio kept) only when it is larger than needed to cover `width` x `height`; a smaller image is sent as is."""
    image = open_upright_rgb(source, "init image")
    scale = max(width / image.width, height / image.height)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def upload_name(data: bytes) -> str:
    """A name derived from the content, so two workers never overwrite each other's image."""
    return f"wagglebot_{hashlib.sha256(data).hexdigest()[:16]}.png"


async def upload_image(api: ComfyHTTP, source: Path, width: int, height: int) -> str:
    """Upload the (resized) init image under a content-derived name; return the name the server chose."""
    data = await asyncio.to_thread(resize_for_upload, source, width, height)
    files = {"image": (upload_name(data), data, "image/png")}
    answer = api.json_of(await api.request("POST", "/upload/image", files=files))
    name = answer.get("name")
    if not isinstance(name, str) or not name:
        raise ComfyUIError(f"ComfyUI at {api.server}: upload answered without a name: {answer!r}",
                           server=api.server)
    subfolder = answer.get("subfolder") or ""
    return f"{subfolder}/{name}" if subfolder else name
