# syntax=docker/dockerfile:1
# Parley: a multi-stage image. The build stage compiles wheels; the runtime stage holds only
# the installed package, runs as an unprivileged user and serves with `parley serve`.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Build tools only here: some drivers and hashing libraries compile native code.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/parley \
    && /opt/parley/bin/pip install --upgrade pip \
    && /opt/parley/bin/pip install .

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PATH=/opt/parley/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MEDIA_DIR=/var/lib/parley/media \
    PROMETHEUS_MULTIPROC_DIR=/tmp/parley-metrics
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --home-dir /var/lib/parley --shell /usr/sbin/nologin parley \
    && mkdir -p /var/lib/parley/media /var/lib/parley/data \
    && chown -R parley:parley /var/lib/parley
COPY --from=build /opt/parley /opt/parley
USER parley:parley
# `data/` (the SQLite default and the development secret) is resolved from here.
WORKDIR /var/lib/parley
VOLUME ["/var/lib/parley"]
EXPOSE 8000
# The probe uses the standard library only: the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live\", timeout=2)"]
# SIGTERM drains in-flight requests (up to --graceful-timeout seconds), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["parley"]
CMD ["serve", "--workers", "2", "--graceful-timeout", "30"]
