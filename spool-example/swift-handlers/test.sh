#!/usr/bin/env bash
# Builds this example daemon and checks its Swift handlers end to end; .ci/run runs it, so the
# example cannot rot. Waits on conditions with a deadline, never on a bare sleep.
set -euo pipefail
cd "$(dirname "$0")"
swift build
bin="$(swift build --show-bin-path)/my-spoolbus"
work=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
cp summary.rules "$work/"
"$bin" run "$work/summary.rules" --spool "$work/spool" --log "$work/log" 2>"$work/stderr" &
daemon=$!

wait_for() {  # wait_for DESCRIPTION COMMAND…: up to 30 s
    local what=$1; shift
    for _ in $(seq 300); do "$@" 2>/dev/null && return 0; sleep 0.1; done
    echo "FAIL: $what"; echo "--- log"; cat "$work/log" || true; echo "--- stderr"; cat "$work/stderr"; exit 1
}
wait_for "daemon start" grep -q ' start ' "$work/log"

printf 'cpu=2\nram=512\n' > "$work/spool/box.conf"
wait_for "summary written" grep -qx 'box.conf: 2 keys: cpu=2, ram=512' "$work/summaries.txt"

# A handler that throws: retried (3 times by default), then dead-lettered.
mkdir -p "$work/spool/bad"
printf 'no equals sign\n' > "$work/spool/bad/x.conf"
wait_for "throwing handler dead-lettered" grep -q ' dead .*err="threw: not a key=value line: no equals sign"' "$work/log"

# An async handler that outlives timeout=1s is cancelled and counted as failed, while another
# message is handled meanwhile.
mkdir -p "$work/spool/slow"
echo 60000 > "$work/spool/slow/long"
printf 'k=v\n' > "$work/spool/later.conf"
wait_for "timeout logged" grep -q ' fail .*timeout=1s' "$work/log"
wait_for "other message handled" grep -qx 'later.conf: 1 keys: k=v' "$work/summaries.txt"

kill -TERM "$daemon"
wait "$daemon"
grep -q ' stop ' "$work/log"
echo "spool-example/swift-handlers: every check passed"
