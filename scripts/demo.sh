#!/usr/bin/env bash
# The lab demo: a swarm of 3 managers and 2 workers, each a host in its own network namespace
# with its own `shoal daemon`. A web service of 6 replicas published on every node, scaled to 10,
# rolled out to version 2, a worker's power cut (its tasks rescheduled), the leader killed (a new
# one elected), power back, then a clean teardown. Every step is shown as it happens.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${SHOAL_DEMO_LAB:-demo}
shoal() { node dist/cli/main.js "$@"; }
on() { local host=$1; shift; shoal lab exec --name "$LAB" "$host" -- "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
addr() { shoal lab ls --name "$LAB" | awk -v h="$LAB-$1" '$2 == h { print $4 }'; }
now_ms() { date +%s%3N; }

# What 20 requests to port 8080 of a node get back: the page each replica serves ("shoal v1" or "shoal v2").
pages() {
  local via=$1 at; at=$(addr "$2")
  on "$via" sh -c "for i in \$(seq 20); do timeout 2 busybox wget -qO- http://$at:8080/ 2>/dev/null || echo '(no answer)'; done" | sort | uniq -c | sed 's/^/    /'
}

# Polls until a command's output matches, printing how long it took.
wait_for() {
  local what=$1 pattern=$2; shift 2
  local start; start=$(now_ms)
  for _ in $(seq 600); do
    if "$@" 2>/dev/null | grep -Eq "$pattern"; then printf '  %s after %.1f s\n' "$what" "$(( $(now_ms) - start ))e-3"; return 0; fi
    sleep 0.1
  done
  echo "demo: $what did not happen within 60 s" >&2; return 1
}
running() { on m1 shoal service ls | awk '$2 == "web" { print $4 }'; }
leader_host() { on "$1" shoal node ls | awk '/Leader/ { for (i = 1; i <= NF; i++) if ($i ~ /-m[0-9]+$/) print $i }' | sed "s/^$LAB-//"; }

cleanup() { step "tearing the lab down"; shoal lab down --name "$LAB" || true; }
trap cleanup EXIT
shoal lab down --name "$LAB" >/dev/null 2>&1 || true
before_netns=$(ip netns list | sort); before_mounts=$(grep -c . /proc/self/mountinfo)

step "lab up: 3 managers and 2 workers; m1 inits the swarm, the others join with tokens"
shoal lab up --name "$LAB" --managers 3 --workers 2
on m1 shoal node ls

step "a web service of 6 replicas, published on port 8080 of every node (busybox:1 from the lab registry)"
on m1 shoal service create --name web --replicas 6 --publish 8080:80 busybox:1 httpd -f -p 80 -h /var/www
on m1 shoal service ps web
echo "  20 requests to w1:8080 (the routing mesh spreads them over the replicas):"; pages m1 w1

step "scale to 10"
on m2 shoal service scale web=10
on m1 shoal service ls

step "rolling update to busybox:2, 2 replicas at a time, 1 s apart"
on m3 shoal service update --image busybox:2 --update-parallelism 2 --update-delay 1s web
echo "  20 requests to m2:8080:"; pages m1 m2

step "w2 loses power: it is marked down and its tasks run elsewhere"
shoal lab kill --name "$LAB" w2
wait_for "w2 marked Down" "$LAB-w2 +Down" on m1 shoal node ls
wait_for "10/10 replicas running without w2" "^10/10$" running
on m1 shoal service ps web | grep -v '\\_'

old=$(leader_host m1)
step "the leader ($old) is killed: the other managers elect a new one"
shoal lab kill --name "$LAB" "$old"
other=$(for m in m1 m2 m3; do [ "$m" != "$old" ] && echo "$m"; done | head -1)
wait_for "a new leader serves service ls" "web +replicated" on "$other" shoal service ls
wait_for "$old marked Down" "$LAB-$old +Down" on "$other" shoal node ls
wait_for "10/10 replicas running without $old" "web +replicated +10/10" on "$other" shoal service ls
on "$other" shoal node ls
echo "  20 requests to w1:8080 while the old leader is down:"; pages "$other" w1

step "power comes back to $old and w2"
shoal lab start --name "$LAB" "$old"
shoal lab start --name "$LAB" w2
wait_for "every node Ready" "^5$" sh -c "node dist/cli/main.js lab exec --name $LAB $other -- shoal node ls | grep -c ' Ready '"
on "$other" shoal node ls

trap - EXIT
cleanup
after_netns=$(ip netns list | sort); after_mounts=$(grep -c . /proc/self/mountinfo)
left=$(pgrep -f "shoal-lab/$LAB/" || true)
if [ "$before_netns" = "$after_netns" ] && [ "$before_mounts" = "$after_mounts" ] && [ -z "$left" ]; then
  echo "clean: network namespaces, mounts and processes are as before the demo"
else
  echo "demo: something was left behind:" >&2
  diff <(echo "$before_netns") <(echo "$after_netns") >&2 || true
  [ "$before_mounts" = "$after_mounts" ] || echo "  mounts: $before_mounts before, $after_mounts after" >&2
  [ -z "$left" ] || ps -o pid,args -p "$(echo $left | tr ' ' ,)" >&2
  exit 1
fi
