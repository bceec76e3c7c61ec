"""Output folder names: plain ASCII ids keep their exact name; Hangul is kept (with the id's hash)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ai_worker.model.paths import post_dir, safe_name


def test_ascii_ids_keep_their_exact_folder_names() -> None:
    assert [safe_name(i) for i in ("dc_123", "dc_rain_20261126", "a-b.c")] == ["dc_123", "dc_rain_20261126", "a-b.c"]


def test_hangul_is_kept_in_the_folder_name_with_the_hash_suffix() -> None:
    name = safe_name("고양이_찾았어요")
    assert name.startswith("고양이_찾았어요_") and len(name) == len("고양이_찾았어요_") + 8
    assert safe_name("고양이 찾음").startswith("고양이_찾음_")
    assert safe_name("dc_고양이_1").startswith("dc_고양이_1_")
    # Different ids never share a folder, even when they clean to the same text.
    assert safe_name("고양이 찾음") != safe_name("고양이/찾음")


def test_a_decomposed_hangul_id_gives_the_same_readable_name(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "고양이")
    assert safe_name(nfd).startswith("고양이_")
    assert post_dir(tmp_path, "고양이").parent == tmp_path


def test_separators_and_dots_never_escape() -> None:
    for raw in ("../x", "/etc/passwd", "..", "a/../../b", "고양이/../../x"):
        name = safe_name(raw)
        assert "/" not in name and not name.startswith(".") and name
