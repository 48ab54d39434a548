#!/usr/bin/env bash
# Start the services the tests need and write their URLs to .ci/services.env (sourced by .ci/run).
#
# PostgreSQL (for tests marked `postgres`: two tune workers on one study): Debian's server package, a private
# cluster on loopback (127.0.0.1, password auth), so it never touches a system cluster. Idempotent: a second
# run reuses the running server. Tests skip cleanly when TIAOCAN_TEST_PG_URL is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ci
ENV_FILE=.ci/services.env
PG_DIR=${TIAOCAN_PG_DIR:-/tmp/tiaocan-ci-pg}
PG_PORT=${TIAOCAN_PG_PORT:-54329}
PG_USER=tiaocan
PG_PASS=tiaocan-ci
PG_DB=tiaocan_test

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

# Headless Chromium + a CJK font for the browser tests of `tiaocan web` (tests/web skip without them).
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  echo "[services] installing chromium and fonts-noto-cjk (Debian packages) for the browser tests"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
         chromium fonts-noto-cjk >/dev/null 2>&1; } || echo "[services] chromium not installed: browser tests will skip"
fi

if [ -z "$(pg_bin)" ]; then
  echo "[services] installing postgresql (Debian package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
fi
BIN=$(pg_bin)
[ -n "$BIN" ] || { echo "[services] postgresql binaries not found"; exit 1; }

# The server refuses to run as root: run it as the `postgres` account Debian's package creates.
if [ "$(id -u)" -eq 0 ]; then RUN=(runuser -u postgres --); else RUN=(); fi

if [ ! -f "$PG_DIR/PG_VERSION" ]; then
  echo "[services] creating a PostgreSQL cluster in $PG_DIR"
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DIR"
  PWFILE=$(mktemp)
  echo "$PG_PASS" >"$PWFILE"
  chmod 644 "$PWFILE"
  "${RUN[@]}" "$BIN/initdb" -D "$PG_DIR" -U "$PG_USER" --pwfile="$PWFILE" --auth=scram-sha-256 -E UTF8 >/dev/null
  rm -f "$PWFILE"
fi

if ! "${RUN[@]}" "$BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
  echo "[services] starting PostgreSQL on 127.0.0.1:$PG_PORT"
  "${RUN[@]}" "$BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR -c max_connections=200" start >/dev/null
fi

export PGPASSWORD=$PG_PASS
if ! "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
fi

URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB"
touch "$ENV_FILE"
grep -v '^TIAOCAN_TEST_PG_URL=' "$ENV_FILE" >"$ENV_FILE.tmp" || true
echo "TIAOCAN_TEST_PG_URL=$URL" >>"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
echo "[services] PostgreSQL ready (TIAOCAN_TEST_PG_URL in $ENV_FILE)"
