#!/usr/bin/env bash
# System packages the test suite needs, from Debian:
# - nginx: config tests and the load-balancing end-to-end tests start their own nginx
#   on loopback ports;
# - Mono (with mcs) and MariaDB: the real suite (tests/real_robust.rs) runs OpenSim
#   0.9.2.2 (Robust and two simulators, from ../shared/opensim) on Mono against a private
#   MariaDB it starts itself, and logs in with a bot it compiles with mcs;
# - podman (with runc, and catatonit for the pause image `kube play` builds offline):
#   tests/kube_play.rs plays a gridctl pod from its own image in a private storage
#   (tests/kube_play_real.rs: with the real Robust and this host's Mono in the image).
# The system nginx and MariaDB services are never started, used or touched.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have nginx || missing+=(nginx-light)              # upstream, proxy and zone are enough
have mono || missing+=(mono-complete)             # what ../shared/robust/install.sh installs
have mcs || missing+=(mono-mcs)                    # the real suite compiles its viewer-library bot
have mariadbd || missing+=(mariadb-server)
have mariadb || missing+=(mariadb-client)
have podman || missing+=(podman)
have runc || missing+=(runc)
have catatonit || missing+=(catatonit)

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages from starting their system services on install.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
echo "deps: $(/usr/sbin/nginx -v 2>&1); $(mono --version | head -n 1); $(/usr/sbin/mariadbd --version); $(podman --version)"
