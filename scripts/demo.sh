#!/usr/bin/env bash
# The lab demo: a lab of 3 manager and 2 worker hosts (network namespaces, each with its own
# `shoal daemon`), a web service run by hand on the workers from the lab's registry, a version 2
# rolled out one host at a time, a daemon killed and its containers re-adopted, a partition and
# its heal, then a clean teardown. The cluster control plane (swarm init/join, services) will
# replace the by-hand steps as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${SHOAL_DEMO_LAB:-demo}
shoal() { node dist/cli/main.js "$@"; }
on() { local host=$1; shift; shoal lab exec --name "$LAB" "$host" -- "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
addr() { shoal lab ls --name "$LAB" | awk -v h="$LAB-$1" '$2 == h { print $4 }'; }
pid() { shoal lab ls --name "$LAB" | awk -v h="$LAB-$1" '$2 == h { print $5 }'; }
fetch() { on m1 timeout 5 busybox wget -qO- "http://$(addr "$1"):8080/" || echo "(no answer from $1)"; }

cleanup() { step "tearing the lab down"; shoal lab down --name "$LAB" || true; }
trap cleanup EXIT
shoal lab down --name "$LAB" >/dev/null 2>&1 || true
before_netns=$(ip netns list | sort); before_mounts=$(grep -c . /proc/self/mountinfo)

step "lab up: 3 managers, 2 workers, a registry holding busybox:1 and busybox:2"
shoal lab up --name "$LAB" --managers 3 --workers 2
shoal lab ls --name "$LAB"

step "a web server on each worker, pulled from the lab registry, restart always"
for w in w1 w2; do on "$w" shoal run -d --name web -p 8080:80 --restart always busybox:1 >/dev/null; on "$w" shoal ps; done
for w in w1 w2; do printf '%s answers: ' "$w"; fetch "$w"; done

step "rolling update to busybox:2, one worker at a time"
for w in w1 w2; do
  on "$w" shoal pull busybox:2 >/dev/null
  on "$w" shoal rm -f web >/dev/null
  on "$w" shoal run -d --name web -p 8080:80 --restart always busybox:2 >/dev/null
  for x in w1 w2; do printf '%s answers: ' "$x"; fetch "$x"; done
done

step "a crashed container restarts in place (kill -9 of its process on w1)"
cpid=$(on w1 shoal inspect web | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log((Array.isArray(j)?j[0]:j).State.Pid)})')
kill -9 "$cpid"; sleep 0.5
on w1 shoal inspect web | grep -E '"(Status|Pid|RestartCount)"' | tr -s ' '
printf 'w1 answers: '; fetch w1

step "w2 loses power (daemon and containers die at once), then comes back"
shoal lab kill --name "$LAB" w2
printf 'w2 answers while down: '; fetch w2
shoal lab start --name "$LAB" w2
sleep 1
on w2 shoal ps -a
printf 'w2 answers after power is back: '; fetch w2

step "partition w1 away from the other hosts, then heal"
shoal lab partition --name "$LAB" w1
printf 'w1 answers while partitioned: '; fetch w1
shoal lab heal --name "$LAB"
printf 'w1 answers after heal: '; fetch w1

trap - EXIT
cleanup
after_netns=$(ip netns list | sort); after_mounts=$(grep -c . /proc/self/mountinfo)
if [ "$before_netns" = "$after_netns" ] && [ "$before_mounts" = "$after_mounts" ]; then
  echo "clean: network namespaces and mounts are as before the demo"
else
  echo "demo: something was left behind (network namespaces or mounts differ)" >&2; exit 1
fi
