"""core.atomic: a reader sees no file or the whole file; whatever stops the writing leaves no part file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ai_worker.core.atomic import atomic_file, part_path, write_text_atomic


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_part_path_is_hidden_unique_beside_the_destination_and_keeps_the_extension(tmp_path: Path) -> None:
    dest = tmp_path / "manifest.json"
    first, second = part_path(dest), part_path(dest)
    assert first != second
    assert first.parent == tmp_path
    assert first.name.startswith(".manifest.") and first.name.endswith(".part.json")
    assert part_path(tmp_path / "vid_img_ab12").name.endswith(".part")  # no extension: none kept


def test_success_renames_the_part_over_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "er" / "clip.mp4"
    with atomic_file(dest) as part:
        assert part.path.parent == dest.parent  # the folder is made, so the part can be written
        part.path.write_bytes(b"new")
        assert not dest.exists()  # nothing under the final name before the block ends
    assert dest.read_bytes() == b"new"
    assert _files(dest.parent) == ["clip.mp4"]


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    dest = tmp_path / "report.html"
    dest.write_text("old")
    with atomic_file(dest) as part:
        part.path.write_text("new")
        assert dest.read_text() == "old"  # a reader during the write still sees the whole old file
    assert dest.read_text() == "new"


def test_an_error_in_the_block_removes_the_part_and_keeps_the_old_file(tmp_path: Path) -> None:
    dest = tmp_path / "manifest.json"
    dest.write_text("old")
    with pytest.raises(ValueError, match="checked and refused"), atomic_file(dest) as part:
        part.path.write_text("half")
        raise ValueError("checked and refused")
    assert dest.read_text() == "old"
    assert _files(tmp_path) == ["manifest.json"]


def test_a_block_that_wrote_nothing_fails_without_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_file(tmp_path / "clip.mp4"):
        pass
    assert _files(tmp_path) == []


async def test_cancellation_removes_the_part(tmp_path: Path) -> None:
    dest = tmp_path / "clip.mp4"
    written = asyncio.Event()

    async def write() -> None:
        with atomic_file(dest) as part:
            part.path.write_bytes(b"half")
            written.set()
            await asyncio.Event().wait()  # stands for a download that never ends

    task = asyncio.create_task(write())
    await written.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _files(tmp_path) == []


def test_retarget_sends_the_file_to_a_name_the_content_decided(tmp_path: Path) -> None:
    stem = tmp_path / "vid_img_ab12"
    with atomic_file(stem) as part:
        part.path.write_bytes(b"\x89PNG")
        part.retarget(tmp_path / "vid_img_ab12.png")
    assert _files(tmp_path) == ["vid_img_ab12.png"]


def test_retarget_refuses_another_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not be atomic"), atomic_file(tmp_path / "a.png") as part:
        part.path.write_bytes(b"x")
        part.retarget(tmp_path / "elsewhere" / "a.png")
    assert _files(tmp_path) == []


def test_write_text_atomic_writes_utf8_and_leaves_only_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "manifest.json"
    write_text_atomic(dest, '{"title": "비 오는 날"}')
    write_text_atomic(dest, '{"title": "맑은 날"}', fsync=False)
    assert dest.read_bytes() == '{"title": "맑은 날"}'.encode()
    assert _files(dest.parent) == ["manifest.json"]


def test_a_failed_rename_removes_the_part(tmp_path: Path) -> None:
    dest = tmp_path / "taken"
    (dest / "inside").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError), atomic_file(dest) as part:
        part.path.write_text("x")
    assert _files(tmp_path) == ["taken"]
