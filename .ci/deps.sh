#!/usr/bin/env bash
# System packages the test suite needs: a real nginx (config tests and the
# load-balancing end-to-end tests start their own nginx on loopback ports; the
# system nginx service is never used or touched).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # nginx-light is enough (upstream, proxy, zone); policy-rc.d keeps the package
  # from starting the system service on install.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO apt-get install -y -qq nginx-light >/dev/null
  [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
echo "deps: $(/usr/sbin/nginx -v 2>&1)"
