# Textflix: the app and its model code. Data and trained models come in as volumes
# (see docker-compose.yml); `textflix demo` imports, trains if models/ is empty, and serves.
FROM node:20-slim AS static
WORKDIR /src/static
COPY static/package.json static/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    TEXTFLIX_MODELS_DIR=/app/models TEXTFLIX_DATA_DIR=/data
WORKDIR /app
# Extra pip arguments, e.g. an index of CPU-only torch wheels for a smaller image.
ARG PIP_EXTRA_ARGS=""
RUN pip install --no-cache-dir $PIP_EXTRA_ARGS "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir .
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=static /src/static/node_modules ./static/node_modules
RUN useradd --create-home textflix && mkdir -p /app/models && chown textflix /app/models
USER textflix
EXPOSE 8000
CMD ["textflix", "demo", "--host", "0.0.0.0", "--port", "8000"]
