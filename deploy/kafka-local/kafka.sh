#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller) on 127.0.0.1 for development and CI.
# Usage: kafka.sh fetch|start|stop|restart|status|reset|config
#   fetch   resolve the broker jars from Maven Central into .kafka/lib (skipped when up to date)
#   start   fetch if needed, format .data once, start in the background, wait until clients connect
#   stop    SIGTERM, up to 30 s for a clean exit, then SIGKILL
#   restart stop + start, keeping the data
#   status  exit 0 when running, 3 when not
#   reset   stop and delete .data
#   config  print the broker configuration start writes (from server.properties)
# Env: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_VERSION (default in pom.xml), JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$HERE/.kafka/lib"
DATA="$HERE/.data"
PIDFILE="$DATA/kafka.pid"
LOG="$DATA/logs/server.log"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="127.0.0.1:$PORT"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JVM_OPTS=(-Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Dkafka.logs.dir="$DATA/logs" -Dlog4j2.configurationFile="$DATA/log4j2.properties")

log() { echo "kafka: $*" >&2; }

# The pid file is trusted only while it names a live kafka.Kafka process (not a zombie, not a reused pid).
running() {
  [[ -f "$PIDFILE" ]] && grep -qa 'kafka\.Kafka' "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kjava() { "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" "$@"; }

fetch() {
  local stamp
  stamp="$(sha256sum <"$HERE/pom.xml" | cut -c1-16) ${KAFKA_VERSION:-}"
  [[ -f "$LIB/.stamp" && "$(cat "$LIB/.stamp")" == "$stamp" ]] && return 0
  log "resolving broker jars with Maven ..."
  rm -rf "$LIB"
  # Output only on failure (Debian's Maven 3.8 prints stray ANSI codes even with -q).
  local out
  out="$(mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB" \
    ${KAFKA_VERSION:+-Dkafka.version="$KAFKA_VERSION"} 2>&1)" || { echo "$out" >&2; exit 1; }
  echo "$stamp" >"$LIB/.stamp"
  log "$(find "$LIB" -name '*.jar' | wc -l) jars in $LIB ($(basename "$LIB"/kafka_2.13-*.jar .jar))"
}

# server.properties and log4j2.properties (next to this script) are templates shared with the tests.
render() {
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@DATA@|$DATA|g" "$HERE/$1"
}

write_config() {
  mkdir -p "$DATA/logs"
  render server.properties >"$DATA/server.properties"
  render log4j2.properties >"$DATA/log4j2.properties"
}

# Polls with aiokafka until the broker answers a metadata request; fails early if the JVM dies.
wait_ready() {
  python3 - "$BOOTSTRAP" "$1" 90 <<'EOF'
import asyncio, logging, sys, time
from pathlib import Path
from aiokafka.admin import AIOKafkaAdminClient

logging.disable(logging.CRITICAL)
bootstrap, pid, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])

async def main() -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.exists() or not cmdline.read_bytes():  # exited (or a zombie)
            return 2
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return 0
        except Exception:
            await asyncio.sleep(0.3)
        finally:
            await admin.close()
    return 1

sys.exit(asyncio.run(main()))
EOF
}

start() {
  if running; then log "already running (pid $(cat "$PIDFILE")) on $BOOTSTRAP"; echo "$BOOTSTRAP"; return 0; fi
  fetch
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then log "port $p is already in use by another process"; exit 1; fi
  done
  write_config
  if [[ ! -f "$DATA/kraft-logs/meta.properties" ]]; then
    kjava kafka.tools.StorageTool format -c "$DATA/server.properties" \
      -t "$(kjava kafka.tools.StorageTool random-uuid)" >>"$DATA/logs/format.log" 2>&1 \
      || { log "storage format failed:"; tail -n 50 "$DATA/logs/format.log" >&2; exit 1; }
  fi
  local t0=$SECONDS pid
  # setsid: not killed with the caller's process group; 9>&-: the broker must not hold the lock.
  setsid "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" kafka.Kafka "$DATA/server.properties" \
    </dev/null >>"$DATA/logs/kafka.out" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  if ! wait_ready "$pid"; then
    log "broker did not become ready within 90 s; last lines of $LOG:"
    tail -n 50 "$LOG" >&2 2>/dev/null || true
    [[ -s "$DATA/logs/kafka.out" ]] && tail -n 20 "$DATA/logs/kafka.out" >&2
    stop >/dev/null 2>&1 || true
    exit 1
  fi
  log "started (pid $pid) in $((SECONDS - t0)) s on $BOOTSTRAP"
  echo "$BOOTSTRAP"
}

stop() {
  if ! running; then rm -f "$PIDFILE"; log "not running"; return 0; fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do running || break; sleep 0.1; done
  if running; then
    log "no clean exit within 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do running || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  if running; then log "running (pid $(cat "$PIDFILE")) on $BOOTSTRAP"; else log "not running"; return 3; fi
}

if [[ "${1:-}" == config ]]; then render server.properties; exit 0; fi  # what start would write (no lock)

mkdir -p "$HERE/.kafka"
exec 9>"$HERE/.kafka/.lock"
flock 9
case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  reset) stop; rm -rf "$DATA"; log "data deleted" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|reset|config" >&2; exit 2 ;;
esac
