#!/usr/bin/env bash
# Make the base images that docker/app/Dockerfile and docker/asterisk/Dockerfile build FROM, without
# a registry, and import them into the Docker engine at DOCKER_HOST. Cached: a root that exists is
# not made again, an image whose tag exists is not imported again (tags carry the versions).
#
#   voice-gateway-base/asterisk:<asterisk version>
#       Debian sid with the asterisk packages: the root scripts/provision-asterisk.sh made for the test
#       bed, imported as it is, less its instance folders and package lists.
#   voice-gateway-base/node:<node version>-bookworm
#       Debian 12 (debootstrap --variant=minbase) with this host's Node.js copied into /usr/local the
#       way the official node image lays it out (bin/node, lib/node_modules/npm, include/node) and
#       its user `node` (uid and gid 1000).
#
#   NODE_ROOT      the Debian 12 root (default /var/cache/voice-gateway/node-bookworm)
#   SID_ROOT       the Asterisk root (default /var/cache/voice-gateway/asterisk-sid; provisioned if missing)
#   DEBIAN_MIRROR  (default http://deb.debian.org/debian)
#
# Prints NODE_BASE_IMAGE=<image> and ASTERISK_BASE_IMAGE=<image> on its last two lines: the build
# arguments of the two Dockerfiles. Needs root (debootstrap, chroot) and the docker CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_ROOT=${NODE_ROOT:-/var/cache/voice-gateway/node-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "[docker-base-images] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (debootstrap, chroot)"; exit 1
fi

# A tag holds letters, digits, '_', '.', '-': "Asterisk 22.10.1+dfsg+~cs6-1" -> "22.10.1-dfsg-cs6-1".
tag_of() { sed -e 's/^[^0-9]*//' -e 's/[^A-Za-z0-9_.-]\{1,\}/-/g' -e 's/^-*//' | cut -c1-120; }

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Import the root $1 as image $2; drop older tags of the same repository (they are this cache's own).
import_root() {
  local root=$1 image=$2; shift 2
  local started=$SECONDS
  # --one-file-system: nothing mounted inside the root (a running instance's /proc, say) is read.
  tar -C "$root" --one-file-system --numeric-owner -c \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' --exclude='./tmp/*' --exclude='./run/*' \
    --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' --exclude='./.voice-gateway-*' \
    --exclude='./.debootstrap-done' "$@" . \
    | docker import --change 'CMD ["bash"]' - "$image" >/dev/null
  log "imported $image in $((SECONDS - started)) s"
  docker image ls --format '{{.Repository}}:{{.Tag}}' "${image%:*}" | grep -vxF "$image" | xargs -r docker image rm >/dev/null || true
}

# --- Asterisk: the provisioned sid root -----------------------------------------------------------
SID_ROOT=$(bash scripts/provision-asterisk.sh | tail -n 1)
asterisk_image="voice-gateway-base/asterisk:$(tag_of < "$SID_ROOT/.voice-gateway-provisioned")"
if has_image "$asterisk_image"; then
  log "cached: $asterisk_image"
else
  # srv/voice-gateway holds the test bed's instances (some may be running): not part of the image.
  import_root "$SID_ROOT" "$asterisk_image" --exclude='./srv/voice-gateway'
fi

# --- Node: Debian 12 + this host's Node.js ---------------------------------------------------------
node_bin=$(node -p 'process.execPath')
node_version=$(node -p 'process.versions.node')
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
npm_dir=$(npm root -g)/npm
headers_dir=$node_prefix/include/node
for needed in "$npm_dir/bin/npm-cli.js" "$headers_dir/node_version.h"; do
  [ -f "$needed" ] || { log "this host's Node.js has no $needed: cannot make the node base image"; exit 1; }
done
node_image="voice-gateway-base/node:${node_version}-bookworm"
if has_image "$node_image"; then
  log "cached: $node_image"
  printf 'NODE_BASE_IMAGE=%s\nASTERISK_BASE_IMAGE=%s\n' "$node_image" "$asterisk_image"
  exit 0
fi

# A half-made root from an interrupted run is discarded rather than repaired.
if [ -d "$NODE_ROOT" ] && [ ! -f "$NODE_ROOT/.debootstrap-done" ]; then
  log "removing incomplete root $NODE_ROOT"
  rm -rf --one-file-system "$NODE_ROOT"
fi
if [ ! -f "$NODE_ROOT/.debootstrap-done" ]; then
  command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  log "debootstrap bookworm into $NODE_ROOT"
  mkdir -p "$NODE_ROOT"
  debootstrap --variant=minbase bookworm "$NODE_ROOT" "$MIRROR" >&2
  touch "$NODE_ROOT/.debootstrap-done"
fi

log "copying Node.js $node_version from $node_prefix into $NODE_ROOT/usr/local"
rm -rf "$NODE_ROOT/usr/local/bin/node" "$NODE_ROOT/usr/local/bin/npm" "$NODE_ROOT/usr/local/bin/npx" \
  "$NODE_ROOT/usr/local/lib/node_modules" "$NODE_ROOT/usr/local/include/node"
mkdir -p "$NODE_ROOT/usr/local/bin" "$NODE_ROOT/usr/local/lib/node_modules" "$NODE_ROOT/usr/local/include"
cp "$(readlink -f "$node_bin")" "$NODE_ROOT/usr/local/bin/node"
cp -a "$npm_dir" "$NODE_ROOT/usr/local/lib/node_modules/npm"
cp -a "$headers_dir" "$NODE_ROOT/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$NODE_ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$NODE_ROOT/usr/local/bin/npx"
# The node binary must run on this root's own libraries, not only on the host's.
chroot "$NODE_ROOT" /usr/bin/env -u NODE_EXTRA_CA_CERTS /usr/local/bin/node -e 'process.exit(0)'
if ! chroot "$NODE_ROOT" getent passwd node >/dev/null; then
  chroot "$NODE_ROOT" groupadd --gid 1000 node
  chroot "$NODE_ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
fi
import_root "$NODE_ROOT" "$node_image"
printf 'NODE_BASE_IMAGE=%s\nASTERISK_BASE_IMAGE=%s\n' "$node_image" "$asterisk_image"
