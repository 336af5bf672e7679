# Production image: gunicorn behind whatever proxy you use; static files served by whitenoise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Requirements first so the dependency layer is cached across code changes.
# psycopg[binary] ships its own libpq, so no compiler or system libraries are needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are baked into the image. The settings refuse to import without a SECRET_KEY in
# production mode, so give collectstatic a throwaway one; it is not kept in the image.
RUN SECRET_KEY=collectstatic-only DEBUG=false python manage.py collectstatic --noinput -v 0

# Run as an unprivileged user; it owns var/ only (runtime files: celery beat schedule, mail files).
RUN useradd --system --uid 10001 --no-create-home app \
    && mkdir -p /app/var \
    && chown -R app:app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "sle001.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
