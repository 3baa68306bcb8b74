#!/usr/bin/env bash
# Every test of the workspace, on this machine, with nothing started beforehand:
#
#   1. installs what the tests need when it is missing (Debian/Ubuntu, through apt-get;
#      with sudo unless run as root): Chromium and chromedriver for the console test,
#      Node.js for the console's crypto check, PostgreSQL and Redis, ffmpeg (seeking
#      through a share link), rclone and restic (backups through the S3 gateway); and
#      boto3 and the aws cli (PyPI, into target/s3-clients) for the S3 gateway tests;
#   2. runs `cargo test --workspace` (SQLite, in-process caches);
#   3. starts its own PostgreSQL cluster and Redis server on free loopback ports in a
#      temporary directory, runs the end-to-end, console, OpenAPI and migration tests
#      again on PostgreSQL with the caches in Redis, and the Redis cache conformance;
#   4. stops both servers and removes the directory, pass or fail.
#
# Tests that need PostgreSQL or Redis are `#[ignore]`d in a plain `cargo test` (which
# lists them as ignored, with the reason) and run here by name (`postgres_*`, the
# tmpfs test of a full disk,
# `cache::redis::*`); run without the service they fail and say what is missing. Any
# failure stops the script with a non-zero status. `.ci/run` runs this script after the formatting and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
phase_name=""
phase_start=$SECONDS
# Starts a named step and prints how long the previous one took.
phase() {
  if [ -n "$phase_name" ]; then echo "-- $phase_name: $((SECONDS - phase_start)) s"; fi
  phase_name=$1
  phase_start=$SECONDS
  echo "== $1"
}
die() {
  echo "test-all: $*" >&2
  exit 1
}

command -v cargo >/dev/null 2>&1 || die "cargo is missing: install a Rust toolchain (1.95+, https://rustup.rs)"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install packages"
  sudo=(sudo)
fi

# The newest installed PostgreSQL's programs (Debian keeps them off PATH).
pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

phase "test prerequisites"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -n "$(pg_bin)" ] || need+=(postgresql)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v restic >/dev/null 2>&1 || need+=(restic)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${need[*]} and no apt-get: install them with your package manager"
  echo "installing ${need[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
  die "the console test needs /usr/bin/chromium and /usr/bin/chromedriver"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "the console crypto test needs Node.js 20 or later; this is $(node --version)"
PG_BIN=$(pg_bin)
[ -n "$PG_BIN" ] || die "PostgreSQL's initdb not found after installing postgresql"
echo "cargo $(cargo --version | cut -d' ' -f2), node $(node --version)," \
  "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')," \
  "Redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"

# S3 clients for the gateway tests (boto3 and the aws cli, from PyPI) in a virtual
# environment of their own under target/, made once and reused.
phase "S3 clients (boto3, aws cli) for the gateway tests"
command -v python3 >/dev/null 2>&1 || die "the gateway tests need python3 (3.9 or later)"
venv=target/s3-clients
if ! "$venv/bin/python" -c 'import boto3, awscli' >/dev/null 2>&1; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "python3 cannot make a virtual environment"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check boto3 awscli ||
    die "could not install boto3 and awscli from PyPI"
fi
export S3_TEST_PYTHON=$PWD/$venv/bin/python
"$S3_TEST_PYTHON" -c 'import boto3, awscli; print("boto3", boto3.__version__, "awscli", awscli.__version__)'

phase "tests: cargo test --workspace (SQLite, in-process caches)"
cargo test --workspace --locked

phase "PostgreSQL and Redis for the second run"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/storj-rs-tests.XXXXXX")
chmod 755 "$tmp"
pg_user=$(id -un)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the cluster belongs to an unprivileged user.
  if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
  as_pg=(runuser -u "$pg_user" --)
fi
pg_dir=$tmp/pg
redis_pid=""
cleanup() {
  set +e
  local began=$SECONDS
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null; fi
  if [ -f "$pg_dir/data/postmaster.pid" ]; then
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1
  fi
  rm -rf "$tmp"
  echo "stopped PostgreSQL and Redis and removed $tmp in $((SECONDS - began)) s;" \
    "$((SECONDS - start)) s in all"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nobody listens on.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

pg_port=$(free_port)
mkdir -p "$pg_dir"
if [ "$(id -u)" -eq 0 ]; then chown "$pg_user" "$pg_dir"; fi
"${as_pg[@]}" "$PG_BIN/initdb" -D "$pg_dir/data" -U sat_test --auth=trust \
  --encoding=UTF8 --no-sync >"$tmp/initdb.log" 2>&1 ||
  die "initdb failed: $(cat "$tmp/initdb.log")"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
  start >/dev/null || die "PostgreSQL did not start: $(cat "$pg_dir/server.log")"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$tmp" --logfile "$tmp/redis.log" --daemonize yes --pidfile "$tmp/redis.pid"
for _ in $(seq 1 100); do
  [ -s "$tmp/redis.pid" ] && redis_pid=$(cat "$tmp/redis.pid") &&
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] ||
  die "Redis did not start: $(cat "$tmp/redis.log")"

export TEST_DATABASE_URL="postgres://sat_test@127.0.0.1:$pg_port/postgres"
export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"
echo "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port, in $tmp"

# `--workspace` everywhere: the same features as the first run, so nothing is rebuilt.
phase "end-to-end, console and OpenAPI tests on PostgreSQL, caches in Redis"
cargo test --workspace --locked --test e2e --test browser --test openapi
phase "migrations on PostgreSQL, Redis cache conformance (the tests ignored above)"
cargo test --workspace --locked --tests -- --ignored postgres_ cache::redis::
phase "a node on a real 50 MiB file system (mounts a tmpfs: needs root or sudo)"
if [ "$(id -u)" -eq 0 ]; then
  cargo test --workspace --locked --lib -- --ignored on_a_real_small_file_system
else
  # The test binary itself mounts the tmpfs, so it runs under sudo.
  bin=$(cargo test -p node-sim --lib --locked --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  [ -n "$bin" ] || die "could not find the node-sim test binary"
  sudo "$bin" --ignored on_a_real_small_file_system
fi
phase "done"
echo "all tests passed in $((SECONDS - start)) s"
