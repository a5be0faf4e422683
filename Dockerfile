# The bot in a slim image: non-root, the database on a volume, CJK fonts for the digest chart.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# fonts-noto-cjk: the weekly digest chart labels departments in Chinese.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY handlers/ handlers/
COPY storage/ storage/
RUN pip install .
COPY data/tasks.json data/plan-2024.txt data/departments.json data/

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /var/lib/plan-bot /app/.cache/matplotlib \
    && chown bot /var/lib/plan-bot /app/.cache/matplotlib
USER bot
# matplotlib's font cache, built once here rather than at every start.
ENV MPLCONFIGDIR=/app/.cache/matplotlib
RUN python -c "import matplotlib.font_manager"

ENV DATABASE_URL=sqlite:////var/lib/plan-bot/bot.db \
    TASKS_FILE=/app/data/tasks.json
VOLUME ["/var/lib/plan-bot"]

CMD ["python", "-m", "bot", "run"]
