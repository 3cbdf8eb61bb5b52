#!/usr/bin/env bash
# Run a command with a Kafka broker, and leave the broker as it was found:
#   - KAFKA_BOOTSTRAP_SERVERS set: use that broker, start and stop nothing;
#   - this checkout's local broker already running: reuse it and leave it running;
#   - otherwise: start the local broker (kafka.sh), run the command, stop the broker again.
# Each case is announced on stderr. The command's exit code is returned.
# Usage: with-broker.sh COMMAND [ARGS...]   (KAFKA_KEEP=1 keeps a broker this script started)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA=(bash "${KAFKA_SH:-$HERE/kafka.sh}")  # KAFKA_SH: for the tests of this script
say() { echo "kafka: $*" >&2; }

if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  say "using the broker at $KAFKA_BOOTSTRAP_SERVERS (KAFKA_BOOTSTRAP_SERVERS; not started or stopped here)"
  exec "$@"
fi

export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT:-19092}"
if "${KAFKA[@]}" status 2>/dev/null; then
  say "reusing this checkout's local broker, already running on $KAFKA_BOOTSTRAP_SERVERS (left running)"
  exec "$@"
fi

"${KAFKA[@]}" fetch || exit 1
if ! "${KAFKA[@]}" start >/dev/null; then
  say "could not start the local broker (see above). If another checkout's broker holds the port, set" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS to use it, or KAFKA_PORT/KAFKA_CONTROLLER_PORT to run another"
  exit 1
fi
if [[ -n "${KAFKA_KEEP:-}" ]]; then
  say "started the local broker on $KAFKA_BOOTSTRAP_SERVERS; KAFKA_KEEP is set: leaving it running (make kafka-stop)"
  exec "$@"
fi
say "started the local broker on $KAFKA_BOOTSTRAP_SERVERS for this command; it is stopped when the command ends"
"$@"
rc=$?
"${KAFKA[@]}" stop 2>/dev/null
say "stopped the local broker this command started"
exit "$rc"
