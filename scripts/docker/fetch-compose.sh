#!/usr/bin/env bash
# Docker Compose v2 for a Debian 12 host, from Debian's own packages. docker-compose.yml needs
# Compose v2 (the top-level `name:` and the test's override file are not read by v1); Debian 12
# ships only docker-compose 1.29, Debian sid ships v2. The sid package's one binary needs nothing
# but libc (>= 2.34; Debian 12 has 2.36), so it is taken from the Asterisk sid root's apt
# (scripts/provision-asterisk.sh) and unpacked, not installed: the host's packages stay as they are.
#
#   DOCKER_CONFIG_DIR  where it goes (default /var/cache/voice-gateway/docker/config): the plugin is
#                      <dir>/cli-plugins/docker-compose, so DOCKER_CONFIG=<dir> makes `docker compose`
#                      find it.
#
# Prints the folder on its last line. Cached: an existing plugin that runs is kept. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."

DIR=${DOCKER_CONFIG_DIR:-/var/cache/voice-gateway/docker/config}
PLUGIN="$DIR/cli-plugins/docker-compose"

log() { echo "[fetch-compose] $*" >&2; }

if [ -x "$PLUGIN" ] && "$PLUGIN" version >/dev/null 2>&1; then
  log "cached: $("$PLUGIN" version)"
  echo "$DIR"
  exit 0
fi

SID_ROOT=$(bash scripts/provision-asterisk.sh | tail -n 1)
# A folder of our own inside the root: apt-get download writes to the working directory.
download="/tmp/voice-gateway-compose.$$"
mkdir -p "$SID_ROOT$download"
trap 'rm -rf "$SID_ROOT$download"' EXIT
# The sid index can be past its Valid-Until date on the mirror (as in provision-asterisk.sh).
chroot "$SID_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
chroot "$SID_ROOT" /bin/sh -c "cd '$download' && apt-get -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root download docker-compose" >&2

unpacked="$SID_ROOT$download/unpacked"
dpkg-deb -x "$SID_ROOT$download"/docker-compose_*.deb "$unpacked"
mkdir -p "$DIR/cli-plugins"
install -m 0755 "$unpacked/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN.tmp"
mv "$PLUGIN.tmp" "$PLUGIN"
log "installed $("$PLUGIN" version) as $PLUGIN"
echo "$DIR"
