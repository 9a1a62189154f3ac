#!/bin/sh
# Install the config rendered by the asterisk-config service, then run Asterisk in the foreground
# as the unprivileged `asterisk` user.
#
# The renderer (node image, root) writes into a shared volume mounted here read-only. Copying it
# lets this container own the files: root:asterisk, mode 0640 — pjsip.conf and ari.conf hold secrets.
set -eu

RENDERED=${RENDERED_CONFIG_DIR:-/run/voice-gateway/asterisk-conf}
if [ ! -f "$RENDERED/asterisk.conf" ]; then
  echo "asterisk-entrypoint: no rendered config in $RENDERED (did the asterisk-config service run?)" >&2
  exit 1
fi
rm -rf /etc/asterisk/*
cp "$RENDERED"/*.conf /etc/asterisk/
chown root:asterisk /etc/asterisk/*.conf
chmod 0640 /etc/asterisk/*.conf

# The package creates these; volumes mounted over them may be empty and root-owned.
for dir in /var/run/asterisk /var/log/asterisk /var/spool/asterisk/recording /var/lib/asterisk; do
  mkdir -p "$dir"
  chown asterisk:asterisk "$dir"
done

# -f: foreground (PID 1 of the container, logs on stdout); -n: no colour codes in the log;
# -U/-G: run as the asterisk user.
exec asterisk -f -n -U asterisk -G asterisk -C /etc/asterisk/asterisk.conf "$@"
