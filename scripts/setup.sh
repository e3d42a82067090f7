#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) to build, run and test Shoal: Debian packages,
# npm packages, generated protobuf code, the native runtime and the TypeScript build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup: run as root (Shoal creates namespaces, cgroups and mounts)" >&2; exit 1; }

packages=(iproute2 nftables busybox-static etcd-server etcd-client protobuf-compiler gcc make libc6-dev
  libseccomp-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler pkg-config docker-registry apache2-utils curl tmux runc crun util-linux procps)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; Shoal runs its own instances on loopback.
for svc in docker-registry etcd; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done

export npm_config_nodedir=/usr
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
# Put `shoal` on PATH, as an installed package would (lab hosts run it by name too): the native
# client, which does run/ps/start/stop/rm itself and hands every other command to dist/cli/main.js.
ln -sf "$PWD/native/build/shoal" /usr/local/bin/shoal
chmod +x dist/cli/main.js 2>/dev/null || true
