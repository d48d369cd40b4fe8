# The presence server. Build: docker build -t presence .
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY static ./static
# libjemalloc2: the embedded Valkey's allocator (decision 94; unused with --redis-url).
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir . && useradd --system --home /app presence
USER presence
EXPOSE 8000
# With --redis-url the server uses that Redis; without it, an embedded one (not for
# several replicas: they must share one Redis).
ENTRYPOINT ["presence"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
