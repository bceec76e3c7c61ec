"""Input that should speak: an unknown mood, a scene without words and a refused image path are each said
once (not once per module that meets them), and the manifest and report say what was used."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ai_worker.model.post_file import load_post
from ai_worker.model.scene import line_text
from tests.cli import test_run
from tests.cli.test_run import _invoke, _manifest

small_env = test_run.small_env


def _post(tmp_path: Path, mood: str = "happy") -> Path:
    path = tmp_path / "posts" / "post.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    scenes = [
        {"type": "intro", "text_lines": ["시작합니다"]},
        {"type": "img_text", "image_url": "/etc/hostname", "text_lines": ["밖의 그림"]},
        {"type": "text_only", "text_lines": []},
        {"type": "text_only", "text_lines": ["  ", {"text": ""}]},
        {"type": "outro", "text_lines": ["끝"]},
    ]
    data = {"post_id": "speak", "title": "제목", "body_summary": "요약", "mood": mood, "scenes": scenes}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_loader_resolves_the_mood_and_logs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    post, errors = load_post(_post(tmp_path, mood=" Happy "))
    assert (post.mood, post.mood_given) == ("daily", "Happy")
    assert post.mood_warning is not None and "unknown mood 'Happy'" in post.mood_warning
    assert [(e.scene, e.field) for e in errors] == [(1, "image_url"), (2, "text_lines"), (3, "text_lines")]
    assert [s.static_for_want_of_words for s in post.scenes] == [False, False, True, True, False]
    assert not caplog.records, "the caller reports the errors, once"
    known, _ = load_post(_post(tmp_path / "k", mood="HUMOR"))
    assert (known.mood, known.mood_given, known.mood_warning) == ("humor", None, None)


def test_each_message_is_printed_once_and_the_manifest_says_what_was_used(small_env: Path) -> None:
    out = small_env / "out"
    code, output = _invoke("run", str(_post(small_env)), "--out", str(out), "--backend", "local")
    assert code == 0, output
    assert output.count("unknown mood 'happy'") == 1, output
    assert output.count("/etc/hostname") == 1, output
    assert output.count("no line with words") == 2, output
    assert "skipping:" not in output, "every scene is kept: nothing is skipped"
    manifest = _manifest(out / "speak")
    assert (manifest.mood, manifest.mood_given) == ("daily", "happy")
    wordless = [r for r in manifest.scenes if not any(line_text(line).strip() for line in r.text_lines)]
    assert len(wordless) == 2
    for record in wordless:
        assert record.status == "skipped" and record.clip_path is None and record.mode is None
        assert record.input_error and "no line with words" in record.input_error
    assert sum(1 for r in manifest.scenes if r.status == "done") == 3
    report = (out / "speak" / "report.html").read_text(encoding="utf-8")
    assert "daily (the post file&#x27;s &#x27;happy&#x27; is not a known mood)" in report
