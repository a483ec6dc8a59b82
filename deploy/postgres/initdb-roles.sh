#!/bin/sh
# docker-entrypoint-initdb.d hook of the postgres service (docker-compose.yml): on the first start of an
# empty data volume, create the owner and application roles (roles.sql) for POSTGRES_DB.
set -eu
: "${REFERRAL_OWNER_PASSWORD:?set REFERRAL_OWNER_PASSWORD in .env}"
: "${REFERRAL_APP_PASSWORD:?set REFERRAL_APP_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v database="$POSTGRES_DB" \
    -v owner_password="$REFERRAL_OWNER_PASSWORD" \
    -v app_password="$REFERRAL_APP_PASSWORD" \
    -f /etc/referral-engine/roles.sql
