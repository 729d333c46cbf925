#!/bin/sh
# A private Secret Service for rekey's keyring tests: a D-Bus session bus of its own with
# gnome-keyring on it, in a throwaway HOME. Prints the bus address once the service
# answers, and stops both daemons when its stdin closes (when the tests exit).
set -eu
dir=$(mktemp -d)
export HOME="$dir" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache"
export XDG_RUNTIME_DIR="$dir/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# A session bus without service directories: nothing is auto-started, so the one
# Secret Service on it is the gnome-keyring started (and unlocked) below.
cat > "$dir/bus.conf" << CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$dir/bus.conf" --nofork --print-address=1 > "$dir/address" 2> /dev/null &
bus=$!
for _ in $(seq 100); do [ -s "$dir/address" ] && break; sleep 0.1; done
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$dir/address")
export DBUS_SESSION_BUS_ADDRESS

# Creates and unlocks the "login" collection with this password.
printf pw | gnome-keyring-daemon --unlock --components=secrets --foreground > /dev/null 2>&1 &
keyring=$!

# Ready when an item can be stored and read back (bounded: 10 s).
ready=
for _ in $(seq 100); do
  if printf probe | secret-tool store --label=probe rekey-probe 1 2> /dev/null &&
     [ "$(secret-tool lookup rekey-probe 1 2> /dev/null)" = probe ]; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "secret_service.sh: gnome-keyring did not start" >&2
  kill "$keyring" "$bus" 2> /dev/null
  exit 1
fi

# Daemons may print to this stdout too: the address line is marked.
echo "address=$DBUS_SESSION_BUS_ADDRESS"
cat > /dev/null
kill "$keyring" "$bus" 2> /dev/null || true
rm -rf "$dir"
