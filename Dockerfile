# durable-runs: one image for the worker and the webhook bridge (docker-compose.yml runs both).
#   docker build -t durable-runs .
#   docker run --rm -e OPENAI_API_KEY -e TEMPORAL_ADDRESS=temporal:7233 durable-runs worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs (no .venv, tests, docs or emulator in the image; .dockerignore keeps
# them out of the build context too). The wheel holds
# one import name, durable_runs: its workflows/ and activities/ are links to the top-level folders.
COPY pyproject.toml README.md constraints.txt ./
COPY durable_runs ./durable_runs
COPY workflows ./workflows
COPY activities ./activities
# The versions CI tested (constraints.txt pins every dependency), not whatever is newest today.
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 10001 durable \
    && rm -rf /app/build /app/*

USER durable

EXPOSE 8000

# Probe for the bridge (the worker service overrides it: it serves no HTTP).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

ENTRYPOINT ["durable-runs"]
CMD ["worker"]
