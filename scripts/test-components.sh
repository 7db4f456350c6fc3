#!/usr/bin/env bash
# `npm test` runs this first: on a fresh Debian machine it installs, with apt,
# every real component the tests start (no mocks: MariaDB, PostgreSQL,
# Prometheus, Alertmanager, etcd, systemd, HAProxy, ...). Anything already
# there is left alone, so on a prepared machine this only checks (~10 ms).
# Needs root or sudo when something is missing. (Moved here from .ci/run, so
# that the README's one test command works by itself.)
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Packages whose binaries the tests need (binary:package).
need=(
  promtool:prometheus prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager
  mariadbd:mariadb-server mariadb-install-db:mariadb-server pt-heartbeat:percona-toolkit
  pg_ctlcluster:postgresql etcd:etcd-server etcdctl:etcd-client haproxy:haproxy chromium:chromium
  /lib/systemd/systemd:systemd systemd-notify:systemd systemd-analyze:systemd dbus-daemon:dbus-user-session
  openssl:openssl unshare:util-linux setpriv:util-linux dpkg-deb:dpkg
)
missing=()
for pair in "${need[@]}"; do
  bin=${pair%%:*}; pkg=${pair##*:}
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "$bin" ] && [ ! -x "/usr/sbin/$bin" ]; then missing+=("$pkg"); fi
done
# dbus-user-session ships no binary of its own; check its file.
[ -e /usr/lib/systemd/user/dbus.socket ] || missing+=(dbus-user-session)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "test: installing the components the tests start: $pkgs"
  # No init system here: keep package scripts from trying to start services.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/tmp/vigil-test-apt.log 2>&1 \
    || { tail -50 /tmp/vigil-test-apt.log; exit 1; }
fi
