#!/bin/sh
# The exec action of the fleet lab's agents. It does no real work; it leaves
# marks a test can read, one line per event, appended to the shared marks
# file (every agent runs on this host, so the clock is shared):
#
#   <epoch ms> <member> <rule> start|end <pid> <VIGIL_INTENT_ID>
#
# pid is this script's, the leader of the process group exec runs it in (a
# test that SIGKILLs the agent kills the group too, as a host crash would).
#
# Usage:
#   sh mark-action.sh <marks file> [sleep ms]   the action; simulated work:
#       the content of <marks file>.sleep (ms) if it exists, else the argument
#   sh mark-action.sh --reconcile <marks file>  exec's reconcile_command:
#       exit 0 when VIGIL_INTENT_ID has an end mark (it took effect), else 1
set -u
if [ "${1:-}" = "--reconcile" ]; then
  grep -q " end [0-9]* ${VIGIL_INTENT_ID:-none}\$" "${2:?marks file}" && exit 0
  exit 1
fi
marks=${1:?usage: mark-action.sh <marks file> [sleep ms]}
member=${MARK_MEMBER:--}
rule=${VIGIL_RULE:--}
intent=${VIGIL_INTENT_ID:--}
mark() {
  # One printf, one O_APPEND write of a short line: lines from concurrent agents never interleave.
  printf '%s %s %s %s %s %s\n' "$(date +%s%3N)" "$member" "$rule" "$1" "$$" "$intent" >> "$marks"
}
ms=${2:-0}
if [ -f "$marks.sleep" ]; then ms=$(cat "$marks.sleep"); fi
mark start
if [ "$ms" -gt 0 ] 2>/dev/null; then sleep "$(awk "BEGIN { print $ms / 1000 }")"; fi
mark end
