#!/usr/bin/env bash
# Debian packages that some tests drive as real servers and clients: a headless browser for the web
# console, Radicale and vdirsyncer for CalDAV, Prometheus (promtool) for metrics and alert rules.
# Installed with apt-get only when missing: idempotent, quiet, and fast when everything is present.
set -euo pipefail
PACKAGES=(chromium radicale vdirsyncer prometheus)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then missing+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

say() { echo "[calendar-sync] $*" >&2; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "ERROR: the tests need the Debian packages: ${missing[*]}. Install them (as root: apt-get install ${missing[*]}) and run again."
  exit 1
fi
say "installing Debian packages the tests need: ${missing[*]} (apt-get, first run only)"
# Installing must not start system services (Prometheus would take :9090): policy-rc.d forbids it for this run.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
cleanup() { [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 || { apt-get update -q >>"$log" 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; }; then
  tail -20 "$log" >&2
  say "ERROR: apt-get could not install ${missing[*]} (see above). Check that Debian's package mirror is reachable, then run again."
  exit 1
fi
rm -f "$log"
say "installed ${missing[*]}"
