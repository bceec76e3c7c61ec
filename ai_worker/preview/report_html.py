"""`report.html` and the batch index as text (pure: every input is given, nothing is read here).

Self-contained: inline CSS, thumbnails as data: URIs, the preview referenced beside the file, so the page
works offline, opened from disk. Every piece of text from the post, the LLM or an error goes through
`html.escape`. UTF-8 with a Korean font stack, so Hangul renders with whatever Korean font the viewer has.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from ai_worker.model.manifest import AttemptRecord, Manifest, ManifestSummary, SceneRecord, iso_time

LATIN_FONTS = '"Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans"'
"""Digits, Latin letters and punctuation come from these: a Korean font draws ':' centred on the em box for
Korean text (the page is lang=ko), so times and URLs looked raised. The embedded Korean font comes first
but covers only Korean (`font_subset.KOREAN_RANGES`); the system's Korean fonts come after the Latin ones."""
FONT_STACK = (
    '"WaggleKR", ' + LATIN_FONTS + ', "Noto Sans KR", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", '
    '"Nanum Gothic", system-ui, sans-serif'
)
CSS = """
:root { color-scheme: light; }
body { font-family: """ + FONT_STACK + """; margin: 0; background: #f4f5f7; color: #1d2330; line-height: 1.5; }
header, section { max-width: 1180px; margin: 0 auto; padding: 16px 24px; }
header h1 { margin: 8px 0 4px; font-size: 1.6rem; }
.meta { color: #4a5468; margin: 2px 0; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; padding: 0; list-style: none; }
.counts li { background: #fff; border: 1px solid #d9dde5; border-radius: 8px; padding: 6px 12px; }
.counts b { font-size: 1.2rem; margin-right: 4px; }
.preview { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
.preview video { width: 270px; height: 480px; background: #000; border-radius: 8px; }
.scene { background: #fff; border: 1px solid #d9dde5; border-radius: 10px; margin: 16px 0; padding: 16px; }
.scene h2 { margin: 0 0 8px; font-size: 1.15rem; }
.badge { display: inline-block; border-radius: 6px; padding: 1px 8px; font-size: .85rem; margin-left: 6px;
         color: #fff; background: #6b7385; }
.badge.done { background: #2e7d4f; } .badge.failed { background: #b3261e; } .badge.skipped { background: #8a6d00; }
.badge.merged { background: #5b3fa8; } .badge.problem { background: #b3261e; }
.thumbs { display: flex; gap: 8px; flex-wrap: wrap; margin: 8px 0; }
.thumbs figure { margin: 0; } .thumbs img { width: 240px; height: auto; border-radius: 6px; display: block; }
.thumbs figcaption, .muted { color: #6b7385; font-size: .85rem; }
.noclip { box-sizing: border-box; width: 100%; padding: 18px; border: 2px dashed #c9ced8; border-radius: 8px;
          color: #4a5468; }
.noclip.problem { border-color: #b3261e; color: #b3261e; }
dl { display: grid; grid-template-columns: 170px 1fr; gap: 4px 12px; margin: 8px 0; }
dt { color: #4a5468; font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
.image img { max-width: 200px; border-radius: 6px; display: block; margin-bottom: 4px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin-top: 8px; }
th, td { border: 1px solid #e0e3ea; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f0f2f6; }
td.error { color: #b3261e; overflow-wrap: anywhere; }
.hint code { background: #e8ebf1; border-radius: 4px; padding: 1px 6px; overflow-wrap: anywhere; }
ol.lines { margin: 0; padding-left: 20px; }
.posts td a { font-weight: 600; }
"""


def e(value: object) -> str:
    """Escaped text (None as an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Thumb:
    label: str
    data_uri: str


@dataclass
class SceneView:
    """What the page shows for one scene beyond its manifest record."""

    record: SceneRecord
    thumbs: list[Thumb] = field(default_factory=list)
    clip_problem: str | None = None
    """The clip the manifest names is missing or unreadable."""
    image_uri: str | None = None
    preview_note: str | None = None
    """How the preview showed it (a card, and why), when a preview was built."""
    clip_label: str | None = None
    """The clip's path as shown (relative to the post folder)."""


@dataclass
class ReportView:
    manifest: Manifest
    summary: ManifestSummary
    scenes: list[SceneView]
    threshold: float
    preview_src: str | None = None
    preview_notes: list[str] = field(default_factory=list)
    preview_build: str | None = None
    poster: str | None = None
    """A frame of the preview (data: URI), shown by the player before it plays."""
    preview_command: str | None = None
    """The command that makes the preview, said where there is none yet."""


def mode_rule(record: SceneRecord, threshold: float) -> str:
    """The rule that chose the scene's mode, in words (docs/spec.md, 3 and the image gate)."""
    if record.mode is None:
        return "static: no clip asked" + (f" ({record.skip_reason})" if record.skip_reason else "")
    if record.type not in ("img_text", "img_only"):
        article = "an" if record.type[:1] in "aeiou" else "a"
        return f"text-to-video: {article} '{record.type}' scene has no image"
    if record.mode == "i2v":
        return (f"image-to-video: score {record.image_score or 0:.2f} ≥ {threshold:.2f}, "
                f"category '{record.image_category}', no wider than 3:1")
    why = "; ".join(record.image_reasons) if record.image_reasons else (
        f"score {record.image_score or 0:.2f} < {threshold:.2f} or category '{record.image_category}' is not a photo"
    )
    return f"text-to-video: the image did not pass the gate ({why})"


def _status(record: SceneRecord, problem: str | None) -> str:
    badges = [f'<span class="badge {e(record.status)}">{e(record.status)}</span>']
    if record.merged_into is not None:
        badges.append(f'<span class="badge merged">merged into scene {record.merged_into}</span>')
    if problem:
        badges.append('<span class="badge problem">clip missing or unreadable</span>')
    return "".join(badges)


def _error_cell(error: str | None) -> str:
    """Red only for an error; a plain dash where there is none."""
    return f'<td class="error">{e(error)}</td>' if error else f"<td>{e(None)}</td>"


def _attempts(attempts: Sequence[AttemptRecord]) -> str:
    if not attempts:
        return '<p class="muted">no attempts</p>'
    rows = []
    for a in attempts:
        p = a.params
        size = f"{p.get('width')}x{p.get('height')}" if p.get("width") else None
        duration = f"{a.duration_s:.1f} s" if a.duration_s is not None else None
        clip = f"{a.probed_seconds:.2f} s" if a.probed_seconds is not None else None
        why = (a.shape or {}).get("frames_reason")
        error = f"{a.error_type}: {a.error}" if a.error else None
        rows.append(
            f"<tr><td>{e(a.rung)}{' · ' + e(a.label) if a.label else ''}</td><td>{e(a.server)}</td>"
            f"<td>{e(a.seed)}</td><td>{e(size)}</td><td title=\"{e(why)}\">{e(p.get('num_frames'))}</td>"
            f"<td>{e(clip)}</td><td>{e(duration)}</td>"
            f"<td>{e(iso_time(a.started_at))}</td>{_error_cell(error)}<td>{e(a.action)}</td></tr>"
        )
    head = ("<tr><th>rung</th><th>server</th><th>seed</th><th>size</th><th>frames</th><th>clip</th><th>took</th>"
            "<th>started</th><th>error</th><th>then</th></tr>")
    return f"<table class=\"attempts\">{head}{''.join(rows)}</table>"


def _lines(record: SceneRecord) -> str:
    items = []
    for line in record.text_lines:
        if isinstance(line, str):
            items.append(f"<li>{e(line)}</li>")
        else:
            audio = line.get("audio")
            tail = f' <span class="muted">(audio {e(audio.rsplit("/", 1)[-1])})</span>' if audio else ""
            items.append(f"<li>{e(line.get('text', ''))}{tail}</li>")
    return f"<ol class=\"lines\">{''.join(items)}</ol>" if items else '<span class="muted">no lines</span>'


def _thumbs(view: SceneView) -> str:
    if view.thumbs:
        figures = "".join(
            f'<figure><img src="{t.data_uri}" alt="{e(t.label)} frame of scene {view.record.index}">'
            f"<figcaption>{e(t.label)}</figcaption></figure>"
            for t in view.thumbs
        )
        return f'<div class="thumbs">{figures}</div>'
    record = view.record
    if view.clip_problem:
        return f'<div class="noclip problem">clip {e(view.clip_label)}: {e(view.clip_problem)}</div>'
    why = record.failure_reason or record.skip_reason or (
        f"lines moved to scene {record.merged_into}" if record.merged_into is not None else "no clip"
    )
    return f'<div class="noclip">no clip: {e(why)}</div>'


def _scene(view: SceneView, threshold: float) -> str:
    r = view.record
    image = ""
    if r.image_url or r.image_path:
        picture = f'<img src="{view.image_uri}" alt="image of scene {r.index}">' if view.image_uri else ""
        reasons = ", ".join(r.image_reasons) if r.image_reasons else "—"
        score = f"{r.image_score:.2f}" if r.image_score is not None else "—"
        image = (f"<dt>image</dt><dd class=\"image\">{picture}{e(r.image_url)}<br>score {e(score)} · "
                 f"category {e(r.image_category)} · reasons: {e(reasons)}</dd>")
    merges = []
    if r.merged_into is not None:
        merges.append(f"its lines went to scene {r.merged_into}")
    if r.merged_from:
        merges.append("holds the lines of scene(s) " + ", ".join(str(i) for i in r.merged_from))
    extra = ""
    if r.failure_reason:
        extra += f"<dt>failure</dt><dd>{e(r.failure_reason)} ({e(r.failure_kind)})</dd>"
    if view.preview_note:
        extra += f"<dt>in the preview</dt><dd>{e(view.preview_note)}</dd>"
    return (
        f'<article class="scene" id="scene-{r.index}"><h2>Scene {r.index} · {e(r.type)} {_status(r, view.clip_problem)}'
        f"</h2>{_thumbs(view)}<dl>"
        f"<dt>mode</dt><dd>{e(r.mode or 'static')} — {e(mode_rule(r, threshold))}</dd>"
        f"<dt>lines</dt><dd>{_lines(r)}</dd>{image}"
        f"<dt>prompt</dt><dd>{e(r.prompt)}</dd><dt>simplified prompt</dt><dd>{e(r.prompt_simple)}</dd>"
        f"<dt>prompt source</dt><dd>{e(r.prompt_source)}</dd>"
        f"<dt>clip</dt><dd>{e(view.clip_label or r.clip_path)}</dd>"
        f"<dt>merges</dt><dd>{e('; '.join(merges) or 'none')}</dd>{extra}</dl>"
        f"{_attempts(r.attempts)}</article>"
    )


def _counts(summary: ManifestSummary) -> str:
    items = [("made", summary.made), ("reused", summary.reused), ("failed", summary.failed),
             ("merged", summary.merged), ("skipped", summary.skipped), ("scenes", summary.scenes),
             ("final scenes", summary.final_scenes)]
    cells = "".join(f"<li><b>{value}</b>{e(name)}</li>" for name, value in items)
    took = f"{summary.run_seconds:.1f} s" if summary.run_seconds is not None else "—"
    return f'<ul class="counts">{cells}<li><b>{e(took)}</b>total time</li></ul>'


def embed_font(page: str, font_face: str) -> str:
    """`page` with an @font-face rule (from `font_subset`) added to its style sheet."""
    return page.replace("<style>", "<style>" + font_face, 1) if font_face else page


def _page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="ko"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def _mood(manifest: Manifest) -> str:
    if manifest.mood_given is None:
        return manifest.mood
    return f"{manifest.mood} (the post file's {manifest.mood_given!r} is not a known mood)"


def render_report(view: ReportView) -> str:
    m = view.manifest
    header = (
        f"<header><h1>{e(m.title)}</h1>"
        f'<p class="meta">post {e(m.post_id)} · mood {e(_mood(m))} · updated {e(iso_time(m.updated_at))}</p>'
        f'<p class="meta">backend <b>{e(m.backend)}</b> — {e(m.backend_reason)}</p>'
        f"{_counts(view.summary)}"
    )
    if m.input_errors:
        header += "<p>Rejected by the post file check:</p><ul>" + "".join(
            f"<li>{e(err)}</li>" for err in m.input_errors) + "</ul>"
    header += "</header>"
    preview = ""
    if view.preview_src:
        notes = "".join(f"<li>{e(note)}</li>" for note in view.preview_notes)
        build = f"<p class=\"muted\">{e(view.preview_build)}</p>" if view.preview_build else ""
        poster = f' poster="{view.poster}"' if view.poster else ""
        preview = (f'<section class="preview"><video controls preload="metadata" src="{e(view.preview_src)}"{poster}>'
                   f"</video><div><h2>Preview</h2>{build}<ul>{notes}</ul></div></section>")
    elif view.preview_command:
        preview = (f'<section class="hint"><h2>Preview</h2><p>No preview yet. To make one (9:16, subtitles, '
                   f"narration), run <code>{e(view.preview_command)}</code>, then open this page again.</p></section>")
    scenes = "".join(_scene(s, view.threshold) for s in view.scenes)
    return _page(f"{m.title} — report", f"{header}{preview}<section class=\"scenes\">{scenes}</section>")


@dataclass(frozen=True)
class IndexRow:
    href: str
    post_id: str
    title: str
    summary: ManifestSummary | None
    problem: str | None = None


def render_index(rows: Sequence[IndexRow]) -> str:
    body = []
    for row in rows:
        s = row.summary
        counts = (f"made {s.made} · reused {s.reused} · failed {s.failed} · merged {s.merged} · "
                  f"skipped {s.skipped}") if s else "—"
        link = f'<a href="{e(row.href)}">{e(row.title or row.post_id)}</a>' if not row.problem else e(row.title)
        body.append(f"<tr><td>{link}</td><td>{e(row.post_id)}</td><td>{e(counts)}</td>"
                    f"<td class=\"error\">{e(row.problem) if row.problem else ''}</td></tr>")
    table = ("<table class=\"posts\"><tr><th>post</th><th>id</th><th>clips</th><th>problem</th></tr>"
             f"{''.join(body)}</table>")
    return _page("wagglebot-video — posts", f"<header><h1>Posts</h1></header><section>{table}</section>")
