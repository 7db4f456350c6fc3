#!/bin/sh
# on_active / on_standby hook for an active/standby group whose service is a
# systemd unit: start the unit on the member that becomes active, stop it on
# every other member. Used by examples/groups/vigil-group-systemd.yaml.
#
# Usage: systemd-unit.sh start|stop UNIT
#   on_active:  [/usr/local/libexec/vigil/systemd-unit.sh, start, myapp.service]
#   on_standby: [/usr/local/libexec/vigil/systemd-unit.sh, stop, myapp.service]
#
# Environment (set in vigil's own unit, e.g. Environment=HOOK_LOG=...):
#   SYSTEMCTL  the systemctl command, split on spaces (default: systemctl), e.g.
#              "systemctl --user" for a user manager: the agent then needs that
#              manager's XDG_RUNTIME_DIR (the test runs it so).
#   HOOK_LOG   a file to append one line per step to (optional). Every line
#              also goes to stderr and, when /dev/log exists, to syslog/the
#              journal (tag vigil-hook).
# vigil sets VIGIL_GROUP, VIGIL_MEMBER, VIGIL_ROLE, VIGIL_HOOK, VIGIL_CAUSE,
# VIGIL_FENCING_TOKEN and VIGIL_PREVIOUS_ACTIVE; each line names the group,
# member, fencing token and cause, so a log shows which term did what.
#
# Idempotent, judged by the result, not by systemctl's exit code: start
# succeeds when the unit is active afterwards (starting an active unit is a
# no-op), stop succeeds when nothing of the unit runs afterwards (stopping a
# stopped unit, or one that is not even loaded, is fine: that is the state
# a standby wants; a unit that is not loaded is said on stderr, as it may be
# a typo that on_active will then fail on).
#
# `systemctl start|stop` waits for the job: stop returns once the unit's
# processes are gone, so the next member's on_active starts only after this
# member's copy has stopped. Keep the unit's TimeoutStopSec below
# on_standby.timeout: vigil kills an overrunning hook (this script and its
# systemctl), not systemd's stop job, and then hands the role over anyway.
#
# Exit codes: 0 the unit is in the wanted state; 1 it is not (systemctl's
# own message is on stderr); 2 usage.
set -eu
set -f # $SYSTEMCTL is split on purpose; nothing here globs

prog=systemd-unit
SYSTEMCTL=${SYSTEMCTL:-systemctl}

log() {
  line="$(date +%s%3N) ${VIGIL_GROUP:--}/${VIGIL_MEMBER:--} $prog: $* token=${VIGIL_FENCING_TOKEN:--} cause=${VIGIL_CAUSE:--}"
  printf '%s\n' "$line" >&2
  if [ -n "${HOOK_LOG:-}" ]; then printf '%s\n' "$line" >> "$HOOK_LOG"; fi
  if [ -S /dev/log ]; then logger -t vigil-hook -- "$line" 2>/dev/null || true; fi
}

usage() {
  printf 'usage: %s start|stop UNIT (SYSTEMCTL="systemctl --user" for a user manager)\n' "$0" >&2
  exit 2
}

[ $# -eq 2 ] || usage
verb=$1
unit=$2
case $verb in start|stop) ;; *) usage ;; esac
case $unit in ''|-*) usage ;; esac

state() {
  # ActiveState: active, reloading, inactive, failed, activating, deactivating
  # ("inactive" too for a unit that is not loaded).
  $SYSTEMCTL show -p ActiveState --value -- "$unit" 2>/dev/null || echo unknown
}

before=$(state)
log "$verb $unit: begin (was $before)"
if out=$($SYSTEMCTL "$verb" -- "$unit" 2>&1); then rc=0; else rc=$?; fi
after=$(state)

if [ "$verb" = start ]; then
  if [ "$after" = active ]; then
    log "$verb $unit: done (active)"
    exit 0
  fi
  log "$verb $unit: FAILED: $after after systemctl start (exit $rc): $out"
  exit 1
fi

case $after in
  inactive|failed)
    if [ "$rc" -ne 0 ]; then
      log "$verb $unit: done ($after; systemctl stop said: $out)"
    else
      log "$verb $unit: done ($after)"
    fi
    exit 0 ;;
esac
log "$verb $unit: FAILED: still $after after systemctl stop (exit $rc): $out"
exit 1
