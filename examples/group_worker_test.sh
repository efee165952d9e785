#!/usr/bin/env bash
# The group_worker example as a test: a nats-server on a free loopback port, two workers in
# one group (the first publishes 300 jobs while the second joins), both must end well and
# handle every job between them, each in order per key.
set -euo pipefail
worker=$1
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
# -p -1: the server picks the port; it is read back from its log.
nats-server -js -a 127.0.0.1 -p -1 -sd "$work/store" -l "$work/server.log" &
server=$!
for _ in $(seq 100); do
  url=$(grep -o 'Listening for client connections on [0-9.:]*' "$work/server.log" 2>/dev/null | awk '{print $NF}') || true
  [ -n "${url:-}" ] && break
  sleep 0.1
done
[ -n "${url:-}" ] || { echo "nats-server did not start"; exit 1; }
"$worker" --backend nats --servers "nats://$url" --publish 300 --seconds 25 >"$work/first.txt" 2>&1 &
first=$!
sleep 2
"$worker" --backend nats --servers "nats://$url" --seconds 23 >"$work/second.txt" 2>&1 &
second=$!
status=0
wait $first || status=1
wait $second || status=1
cat "$work/first.txt" "$work/second.txt"
handled() { grep -o 'handled [0-9]*' "$1" | awk '{print $2}'; }
total=$(( $(handled "$work/first.txt") + $(handled "$work/second.txt") ))
echo "both workers handled $total of 300 (at least once)"
[ "$status" -eq 0 ] && [ "$total" -ge 300 ]
