#!/bin/sh
# Install the config rendered by the kamailio-config service (db/uacreg holds the SIP password:
# root:kamailio 0640), then run Kamailio in the foreground as the package's kamailio user.
set -eu

RENDERED=${RENDERED_CONFIG_DIR:-/run/voice-gateway/kamailio}
if [ ! -f "$RENDERED/kamailio.cfg" ]; then
  echo "kamailio-entrypoint: no rendered config in $RENDERED (did the kamailio-config service run?)" >&2
  exit 1
fi
rm -rf /etc/kamailio/*
cp -r "$RENDERED"/. /etc/kamailio/
chown -R root:kamailio /etc/kamailio
find /etc/kamailio -type f -exec chmod 0640 {} +
find /etc/kamailio -type d -exec chmod 0750 {} +
mkdir -p /var/run/kamailio && chown kamailio:kamailio /var/run/kamailio

# -DD: foreground (PID 1 of the container); -E: log to stderr.
exec kamailio -f /etc/kamailio/kamailio.cfg -DD -E -u kamailio -g kamailio -Y /var/run/kamailio "$@"
