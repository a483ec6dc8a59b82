# One image for web, worker and beat (docker-compose.yml builds it once through a YAML anchor).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=referral_engine.settings.production

# gettext compiles the translations at build; graphviz's `dot` draws the workflow diagrams.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext graphviz \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN groupadd --system app && useradd --system --gid app --home-dir /app --no-create-home app
COPY . .

# Static files and translations are built into the image. The production settings refuse an insecure
# SECRET_KEY, so the build uses a throwaway one; the real key comes from .env at run time only.
RUN export SECRET_KEY="build-time-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
        DATABASE_URL="sqlite:////tmp/build.sqlite3" \
    && python manage.py collectstatic --noinput -v 0 \
    && if [ -d locale ]; then python manage.py compilemessages --ignore=var; fi \
    && rm -rf var/broker /tmp/build.sqlite3 \
    && mkdir -p var/media \
    && chown -R app:app var

USER app
EXPOSE 8000

CMD ["gunicorn", "referral_engine.wsgi:application", "--bind", "0.0.0.0:8000"]
