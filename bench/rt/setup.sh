#!/usr/bin/env bash
# Request Tracker 5 as the peer of the benchmark (issue 10), on this machine and the same PostgreSQL:
#   1. Debian's packages: dbconfig-no-thanks first (so nothing configures a database behind our back),
#      then request-tracker5, rt5-db-postgresql, rt5-standalone (and wrk for the bench).
#   2. Its own role and database (rt_bench / rt_bench) on 127.0.0.1:5432, created fresh each run.
#   3. A site config file for the bench (database, loopback URL), nothing else changed: the default
#      scrips (notification rules) stay on and mail goes to Debian's default MTA (exim4).
#   4. The schema and initial data (rt-setup-database-5), then Debian's default `rt-server`
#      (Starlet, multi-process) on 127.0.0.1:$RT_PORT, and a check that REST 2 answers.
#
# Usage: bench/rt/setup.sh start | stop | status.   Logs: var/bench/rt/.
# Every wait is bounded; only loopback addresses are used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$(pwd)"
RT_PORT="${RT_PORT:-8091}"
RT_DB="${RT_DB:-rt_bench}"
RT_DB_USER="${RT_DB_USER:-rt_bench}"
RT_DB_PASSWORD="${RT_DB_PASSWORD:-rt-bench-password}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
LOG_DIR="$ROOT/var/bench/rt"
PID_FILE="$LOG_DIR/rt-server.pid"
SITE_CONFIG=/etc/request-tracker5/RT_SiteConfig.d/70-referral-engine-bench.pm
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
mkdir -p "$LOG_DIR"

say() { printf -- '-- rt: %s\n' "$*" >&2; }
psql_admin() { psql -h "$PGHOST" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

install_packages() {
    local missing=()
    for pkg in dbconfig-no-thanks request-tracker5 rt5-db-postgresql rt5-standalone wrk; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 900 apt-get install -y -q dbconfig-no-thanks >"$LOG_DIR/apt.log" 2>&1
    timeout 900 apt-get install -y -q "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1
}

write_site_config() {
    cat >"$SITE_CONFIG" <<EOF
# Written by referral-engine bench/rt/setup.sh: the benchmark's database and loopback URL only.
Set(\$DatabaseType, 'Pg');
Set(\$DatabaseHost, '$PGHOST');
Set(\$DatabasePort, '$PGPORT');
Set(\$DatabaseName, '$RT_DB');
Set(\$DatabaseUser, '$RT_DB_USER');
Set(\$DatabasePassword, '$RT_DB_PASSWORD');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $RT_PORT);
Set(\$WebPath, '');
Set(\$WebBaseURL, 'http://127.0.0.1:$RT_PORT');
1;
EOF
}

create_database() {
    say "fresh role $RT_DB_USER and database $RT_DB"
    psql_admin -c "DROP DATABASE IF EXISTS $RT_DB" >/dev/null
    psql_admin -c "DROP ROLE IF EXISTS $RT_DB_USER" >/dev/null
    # rt-setup-database creates the role and the database itself (as the DBA) and loads the schema.
    timeout 600 rt-setup-database-5 --action init --dba postgres --dba-password '' --skip-create \
        >"$LOG_DIR/setup-database.log" 2>&1 && return 0
    timeout 600 rt-setup-database-5 --action init --dba postgres --dba-password '' \
        >"$LOG_DIR/setup-database.log" 2>&1
}

start() {
    install_packages
    stop_server quiet
    write_site_config
    create_database
    say "starting rt-server (Starlet) on 127.0.0.1:$RT_PORT"
    setsid "$RT_SERVER" --port "$RT_PORT" --host 127.0.0.1 >"$LOG_DIR/rt-server.log" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 90); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$RT_PORT/NoAuth/Login.html"; then
            say "up (pid $(cat "$PID_FILE"))"
            return 0
        fi
        sleep 1
    done
    say "rt-server did not answer within 90 s; last log lines:"
    tail -20 "$LOG_DIR/rt-server.log" >&2
    return 1
}

stop_server() {
    if [ -f "$PID_FILE" ]; then
        local pid
        pid="$(cat "$PID_FILE")"
        # setsid made it a process group leader: stop its workers with it.
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$PID_FILE"
        [ "${1:-}" = quiet ] || say "stopped"
    fi
}

case "${1:-start}" in
start) start ;;
stop) stop_server ;;
status) [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && echo running || echo stopped ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
