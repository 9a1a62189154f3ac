#!/usr/bin/env bash
# Provision a Debian sid root holding the `asterisk` package (Asterisk 22), cached outside the repo.
# Debian 12 ships no asterisk package; sid does. Idempotent: a second run only checks and exits.
#
#   SID_ROOT   where the root lives (default /var/cache/voice-gateway/asterisk-sid)
#   DEBIAN_MIRROR (default http://deb.debian.org/debian)
#
# Prints the root path on its last line. Needs root (debootstrap and chroot).
set -euo pipefail

SID_ROOT=${SID_ROOT:-/var/cache/voice-gateway/asterisk-sid}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
STAMP="$SID_ROOT/.voice-gateway-provisioned"

log() { echo "[provision-asterisk] $*" >&2; }

if [ -f "$STAMP" ] && [ -x "$SID_ROOT/usr/sbin/asterisk" ]; then
  log "cached root ok: $SID_ROOT ($(cat "$STAMP"))"
  echo "$SID_ROOT"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (debootstrap, chroot)"; exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# A half-made root from an interrupted run is discarded rather than repaired.
if [ -d "$SID_ROOT" ] && [ ! -f "$SID_ROOT/.debootstrap-done" ]; then
  log "removing incomplete root $SID_ROOT"
  rm -rf --one-file-system "$SID_ROOT"
fi

if [ ! -f "$SID_ROOT/.debootstrap-done" ]; then
  log "debootstrap sid into $SID_ROOT"
  mkdir -p "$SID_ROOT"
  debootstrap --variant=minbase sid "$SID_ROOT" "$MIRROR" >&2
  touch "$SID_ROOT/.debootstrap-done"
fi

# The sid index can be past its Valid-Until date on the mirror.
cp /etc/resolv.conf "$SID_ROOT/etc/resolv.conf" 2>/dev/null || true
log "apt-get install asterisk inside the root"
chroot "$SID_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
# policy-rc.d stops the package's postinst from starting a system-wide asterisk.
printf '#!/bin/sh\nexit 101\n' > "$SID_ROOT/usr/sbin/policy-rc.d"
chmod +x "$SID_ROOT/usr/sbin/policy-rc.d"
chroot "$SID_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends \
  asterisk asterisk-modules asterisk-core-sounds-en-wav >&2
chroot "$SID_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get clean >&2

version=$(chroot "$SID_ROOT" asterisk -V)
echo "$version" > "$STAMP"
log "ready: $version"
echo "$SID_ROOT"
