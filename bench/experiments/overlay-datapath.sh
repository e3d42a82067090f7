#!/bin/bash
# Experiment, not a bench: is the overlay's 0.8 of a direct veth (issue 6) reachable by changing
# the data path rather than tuning it? Two hosts on an underlay switch, one container on each,
# one VXLAN (VNI 4100, MTU 1450, nolearning, static FDB and neighbour entries as the agent
# programs them), and the containers also joined directly by a veth (the bench's baseline).
#   bridge  — today's shape: container veth -> bridge -> VXLAN (agent/network/overlay)
#   macvlan — the container's interface is a macvlan on the VXLAN device: no veth, no bridge,
#             and so no br_netfilter; the VIP DNAT and the mesh mark move into the container's
#             own namespace (an nftables table there, as Swarm puts IPVS in the sandbox)
# Usage: bench/experiments/overlay-datapath.sh [ROUNDS] (needs iperf3: apt-get install iperf3).
# TABLES=0 leaves the macvlan containers without nftables (the bare path's ceiling).
# NOTRACK=1 adds the raw table that limits conntrack to VIP flows in the macvlan shape.
# PROBE=node uses the bench's own TCP probe (dist/bench/netprobe.js, needs a build) instead, so
# the figures are on the scale of `npm run bench -- network`.
# Prints one line per mode and round: overlay Gbit/s, veth Gbit/s, ratio. Cleans up on exit.
set -euo pipefail
ROUNDS=${1:-3}
P=ovx$$
NS="sw h1 h2 c1 c2"
cleanup() { for n in $NS; do ip netns del "$P-$n" 2>/dev/null || true; done; }
trap cleanup EXIT

build() { # MODE
  cleanup
  for n in $NS; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
  ip -n "$P-sw" link add name sw type bridge; ip -n "$P-sw" link set sw up
  for i in 1 2; do
    ip link add "u$i" netns "$P-h$i" type veth peer name "p$i" netns "$P-sw"
    ip -n "$P-sw" link set "p$i" master sw; ip -n "$P-sw" link set "p$i" up
    ip -n "$P-h$i" addr add "10.200.0.$i/24" dev "u$i"; ip -n "$P-h$i" link set "u$i" up
  done
  for i in 1 2; do
    local o=$((3 - i)) H="$P-h$i" C="$P-c$i" dev
    ip -n "$H" link add vx type vxlan id 4100 dstport 4789 local "10.200.0.$i" nolearning proxy
    ip -n "$H" link set vx mtu 1450
    if [ "$1" = bridge ]; then
      ip -n "$H" link add name obr type bridge; ip -n "$H" link set obr mtu 1450
      ip -n "$H" link set vx master obr; ip -n "$H" link set vx up; ip -n "$H" link set obr up
      ip -n "$H" addr add "10.9.0.25$i/24" dev obr
      ip link add "e$i" netns "$C" type veth peer name "v$i" netns "$H"
      ip -n "$H" link set "v$i" master obr; ip -n "$H" link set "v$i" mtu 1450; ip -n "$H" link set "v$i" up
      ip -n "$C" link set "e$i" mtu 1450
      dev=e$i
      ip -n "$H" neigh add "10.9.0.$o" lladdr "02:42:0a:09:00:0$o" dev obr nud permanent
      bridge -n "$H" fdb add "02:42:0a:09:00:0$o" dev vx master static
    else
      ip -n "$H" link set vx up
      ip -n "$H" link add link vx name "m$i" type macvlan mode bridge
      ip -n "$H" link set "m$i" netns "$C"
      dev=m$i
    fi
    ip -n "$C" link set "$dev" address "02:42:0a:09:00:0$i"
    bridge -n "$H" fdb add "02:42:0a:09:00:0$o" dev vx dst "10.200.0.$o" self permanent
    ip -n "$H" neigh add "10.9.0.$o" lladdr "02:42:0a:09:00:0$o" dev vx nud permanent
    ip -n "$C" addr add "10.9.0.$i/24" dev "$dev"; ip -n "$C" link set "$dev" up
    ip -n "$C" neigh replace "10.9.0.$o" lladdr "02:42:0a:09:00:0$o" dev "$dev" nud permanent
  done
  ip link add d1 netns "$P-c1" type veth peer name d2 netns "$P-c2"
  ip -n "$P-c1" addr add 198.19.255.1/30 dev d1; ip -n "$P-c2" addr add 198.19.255.2/30 dev d2
  ip -n "$P-c1" link set d1 up; ip -n "$P-c2" link set d2 up
}

container_tables() { # what a container's namespace would carry: a VIP DNAT (conntrack on) and the mesh mark
  for i in 1 2; do
    [ "${TABLES:-1}" = 1 ] && ip netns exec "$P-c$i" nft -f - <<'NFT'
table ip shoal-lb {
  chain out { type nat hook output priority -100; ip daddr 10.9.0.200 tcp dport 80 dnat to numgen inc mod 1 map { 0 : 10.9.0.2 }; }
  chain pre { type filter hook prerouting priority -150; ct state new ct mark set @ll,48,32; }
}
NFT
    if [ "${NOTRACK:-}" = 1 ]; then
      # Conntrack only for what needs it: connections to a VIP (and their replies, from the
      # backends' address and port); everything else on the overlay passes untracked.
      ip netns exec "$P-c$i" nft -f - <<'NFT'
table ip shoal-raw {
  chain out { type filter hook output priority -300; ip daddr != 10.9.0.200 notrack; }
  chain pre { type filter hook prerouting priority -300; ip saddr . tcp sport != { 10.9.0.2 . 80 } notrack; }
}
NFT
    fi
  done
}

gbps() { # DEST
  if [ "${PROBE:-iperf3}" = node ]; then
    ip netns exec "$P-c2" node dist/bench/netprobe.js serve >/dev/null 2>&1 & local srv=$!
    sleep 0.5
    ip netns exec "$P-c1" node dist/bench/netprobe.js tcp "$1" 3 |
      python3 -c 'import json,sys; print(round(json.load(sys.stdin)["bytesPerSec"]*8/1e9,2))'
    kill "$srv"; wait "$srv" 2>/dev/null || true
    return
  fi
  ip netns exec "$P-c2" iperf3 -s -D -1 -p 5201 >/dev/null; sleep 0.3
  ip netns exec "$P-c1" iperf3 -c "$1" -t 5 -J |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))'
}

for r in $(seq "$ROUNDS"); do
  for mode in macvlan bridge; do
    build "$mode"
    # The baseline first: conntrack, once on in a namespace (the macvlan shape's table), slows
    # every flow there, the direct veth's too, which would flatter the ratio.
    d=$(gbps 198.19.255.2)
    if [ "$mode" = macvlan ]; then container_tables; fi
    o=$(gbps 10.9.0.2)
    echo "$mode round $r: overlay $o Gbit/s, veth $d Gbit/s, ratio $(python3 -c "print(round($o/$d,2))")"
  done
done
