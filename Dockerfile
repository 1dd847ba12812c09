# Followup: the API (gunicorn) or a worker, from one image. Docker cannot run on the team's build
# machines, so this file is kept plain; see docker-compose.yml for the full set (api, worker, scheduler,
# PostgreSQL, Redis).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FOLLOWUP_DATA_DIR=/data FOLLOWUP_TIMEZONE=Asia/Shanghai
WORKDIR /app

COPY setup.cfg pyproject.toml README.md ./
COPY engine ./engine
COPY api ./api
COPY workers ./workers
COPY followup ./followup
COPY bpmn ./bpmn
RUN pip install --no-cache-dir . && useradd --create-home followup && mkdir -p /data && chown followup /data
USER followup
VOLUME ["/data"]
EXPOSE 8000

# Migrate, then serve. Workers run the same image with: followup worker  (and one or more: followup scheduler)
CMD ["sh", "-c", "followup migrate && exec gunicorn --workers 2 --threads 4 --bind 0.0.0.0:8000 'api.wsgi:app'"]
