# durable-runs: one image for the worker, the webhook bridge and the codec server
# (docker-compose.yml, docker-compose.webhooks.yml and docker-compose.cloud.yml run it).
#   docker build -t durable-runs .
#   docker run --rm -e OPENAI_API_KEY -e TEMPORAL_ADDRESS=temporal:7233 durable-runs worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs (no .venv, tests, docs, emulator or deploy files in the image;
# .dockerignore keeps them out of the build context too). The wheel holds one import name,
# durable_runs: its workflows/ and activities/ are links to the top-level folders.
COPY pyproject.toml README.md constraints.txt ./
COPY durable_runs ./durable_runs
COPY workflows ./workflows
COPY activities ./activities
# The runtime dependencies only (no extras: no test or development tools), at the versions CI
# tested (constraints.txt pins every dependency). The sources go once installed.
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 10001 durable \
    && rm -rf /app/build /app/*

USER durable

# Bridge 8000, codec server 8081, worker metrics 9464 (when DURABLE_RUNS_METRICS_BIND is set).
EXPOSE 8000 8081 9464

# No HEALTHCHECK here: the one image serves three roles, so each compose service declares its own
# probe (the bridge's GET /readyz, a TCP connect to the codec server) with the image's python.
ENTRYPOINT ["durable-runs"]
CMD ["worker"]
