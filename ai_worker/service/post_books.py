"""A post's books in an activity: the same `PostRun` as `run` uses, rebuilt from the post file and its
manifest on whichever worker runs the activity, writing through a store that merges.

Several workers write one post's manifest at once (its scenes run on several servers), so each activity
owns some scenes and `SceneStore.save` merges only those into the file on disk, under a short `flock` on
a lock file beside it. The output root must be a disk every worker sees (docs/architecture.md, 'service/').
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ai_worker.core.errors import InputError, OutputError
from ai_worker.media.narration import resolve_audio_paths
from ai_worker.model.capabilities import Backend
from ai_worker.model.manifest import MANIFEST_NAME, Manifest, ManifestStore
from ai_worker.model.paths import post_dir
from ai_worker.model.post_file import Post, load_post
from ai_worker.orchestration.conductor import PostJob, VideoManager
from ai_worker.orchestration.events import VideoGenerationResult
from ai_worker.orchestration.post_run import PostRun, SceneWork
from ai_worker.orchestration.scheduler import Job
from ai_worker.prompts.engine import VideoPromptEngine
from config.settings import Settings

MERGE_LOCK_NAME = ".wagglebot-video.manifest.lock"


@contextlib.contextmanager
def merge_lock(folder: Path) -> Iterator[None]:
    """Hold the post's manifest for one read-modify-write (milliseconds); other workers wait."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / MERGE_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the output folder ({exc.strerror or exc})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class SceneStore(ManifestStore):
    """A manifest store that writes only the scenes it owns (all of them when `owned` is None) into the
    manifest on disk; the rest of the file is left as other workers wrote it."""

    def __init__(self, path: Path, owned: set[int] | None) -> None:
        super().__init__(path)
        self.owned = owned

    def save(self, manifest: Manifest) -> None:
        with merge_lock(self.folder):
            on_disk = self.load() if self.owned is not None else None
            if on_disk is None or len(on_disk.scenes) != len(manifest.scenes):
                super().save(manifest)
                return
            for index in self.owned or ():
                on_disk.scenes[index] = manifest.scenes[index]
            super().save(on_disk)


@dataclass
class PostBooks:
    """One post, rebuilt: its file, its folder, its manifest and the `PostRun` that writes it."""

    post: Post
    folder: Path
    store: SceneStore
    manager: VideoManager
    run: PostRun

    def work(self, index: int, *, rung_pos: int, same_rung_retries: int = 0) -> SceneWork:
        """Scene `index` on the ladder at `rung_pos` (the pool's scheduler keeps where each job stands)."""
        record = self.run.manifest.scenes[index]
        scene = self.run.scenes[index]
        job = Job(post=0, index=index, mode=scene.video_mode or "t2v", rung_pos=rung_pos,
                  same_rung_retries=same_rung_retries)
        return SceneWork(self.run, index, scene, record, job, pending=record.pending)

    def results_from_records(self) -> None:
        """What each scene came to, from its record (as the run's results would say at its end)."""
        self.run.results = [
            VideoGenerationResult(
                scene_index=i, success=record.status == "done" and record.clip_path is not None,
                clip_path=Path(record.clip_path) if record.status == "done" and record.clip_path else None,
                reused=record.reused, skipped=record.status == "skipped",
                failure_reason=record.failure_reason or record.skip_reason,
            )
            for i, record in enumerate(self.run.manifest.scenes)
        ]


def open_books(settings: Settings, post_file: Path, out_dir: Path, generator: Backend,
               engine: VideoPromptEngine, *, owned: set[int] | None, retry_failed: bool = False,
               with_manifest: bool = True, post: Post | None = None) -> PostBooks:
    """The post of `post_file` with its manifest under `out_dir` (which Phase 6 wrote: modes, images and
    prompts are taken from it, so no image is fetched and no LLM asked again)."""
    if post is None:
        post, _ = load_post(post_file)
    folder = post_dir(out_dir, post.post_id)
    store = SceneStore(folder / MANIFEST_NAME, owned)
    manager = VideoManager(comfy_client=generator, prompt_engine=engine, config=settings)
    run = manager.post_run(0, PostJob(post.scenes, post.mood, post.post_id, folder, post.title, store, None),
                           retry_failed=retry_failed)
    books = PostBooks(post, folder, store, manager, run)
    if with_manifest:
        manifest = store.load()
        if manifest is None or len(manifest.scenes) != len(post.scenes):
            raise InputError(f"{post_file}: the post changed since it was submitted, or {store.path} is gone; "
                             "submit it again")
        restore_scenes(post, manifest)
        run.manifest = manifest
        books.results_from_records()
    return books


def restore_scenes(post: Post, manifest: Manifest) -> None:
    """Phase 4.5's and 6's decisions, as the manifest recorded them, back onto the post's scenes."""
    resolve_audio_paths(post.scenes, post.base_dir)
    for scene, record in zip(post.scenes, manifest.scenes, strict=True):
        scene.video_mode = record.mode
        scene.image_path = record.image_path
        scene.video_init_image = record.image_path if record.mode == "i2v" else None
        scene.image_score, scene.image_category = record.image_score, record.image_category
        scene.image_reasons = list(record.image_reasons)
        scene.video_prompt, scene.video_prompt_simple = record.prompt, record.prompt_simple
        scene.prompt_source = record.prompt_source
