# The bot in a slim image: non-root, the database on a volume, CJK fonts for the digest chart.
# Two stages: wheels are built in the first, so the final image carries no build leftovers.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY handlers/ handlers/
COPY storage/ storage/
# The plan goes into the wheel as the package bot.data (pyproject.toml): the image needs no copy.
COPY data/__init__.py data/tasks.json data/departments.json data/plan-2024.txt data/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# fonts-noto-cjk: the weekly digest chart labels departments in Chinese.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels plan-bot && rm -rf /wheels

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /var/lib/plan-bot /app/.cache/matplotlib \
    && chown bot /var/lib/plan-bot /app/.cache/matplotlib
USER bot
# matplotlib's font cache, built once here rather than at every start.
ENV MPLCONFIGDIR=/app/.cache/matplotlib \
    DATABASE_URL=sqlite:////var/lib/plan-bot/bot.db \
    PORT=8080
RUN python -c "import matplotlib.font_manager"
VOLUME ["/var/lib/plan-bot"]
EXPOSE 8080

# Webhook mode: GET /healthz (200 when the database answers and no write failed); polling
# mode: the bot's report beside the database (bot.db.health, rewritten every 15 s).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

# SIGTERM (docker stop) finishes the update in hand and the message being sent, then exits 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
