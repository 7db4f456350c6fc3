#!/bin/sh
# The on_active / on_standby hook of the group lab's agents. It does no real
# work; it leaves marks a test can read, one line per event, appended to the
# shared marks file (every lab namespace shares the filesystem and the clock,
# so marks from different hosts are comparable):
#
#   <epoch ms> <member> <role> start|end|fail|killed <VIGIL_FENCING_TOKEN> <VIGIL_CAUSE>
#
# role is VIGIL_ROLE (active|standby); an unset value is written as "-"; the
# cause is the rest of the line (it may contain spaces). test/groups/marks.ts
# parses it.
#
# Usage: sh mark-hook.sh <marks file> [sleep ms]
# Simulated work, the first that is set wins:
#   the file <marks file>.sleep.<member>.<role> (its content, in ms), so a test
#     can slow one member's hook down without restarting its agent;
#   MARK_SLEEP_MS in the environment; the second argument; else none.
# Failure: while the file <marks file>.fail.<member>.<role> exists the hook
#   writes "fail" instead of "end" and exits 1 (after the simulated work).
# Killed (the agent's hook timeout, SIGTERM): writes "killed" and exits 143.
set -u
marks=${1:?usage: mark-hook.sh <marks file> [sleep ms]}
member=${VIGIL_MEMBER:--}
role=${VIGIL_ROLE:--}
token=${VIGIL_FENCING_TOKEN:--}
cause=${VIGIL_CAUSE:--}

mark() {
  # One printf, one O_APPEND write of a short line: lines from concurrent hooks never interleave.
  printf '%s %s %s %s %s %s\n' "$(date +%s%3N)" "$member" "$role" "$1" "$token" "$cause" >> "$marks"
}

ms=${2:-0}
ms=${MARK_SLEEP_MS:-$ms}
if [ -f "$marks.sleep.$member.$role" ]; then ms=$(cat "$marks.sleep.$member.$role"); fi

mark start
if [ "$ms" -gt 0 ] 2>/dev/null; then
  # sleep in the background and wait: a SIGTERM then runs the trap at once
  # instead of after the sleep.
  sleep "$(awk "BEGIN { print $ms / 1000 }")" &
  sleeper=$!
  trap 'kill "$sleeper" 2>/dev/null; mark killed; exit 143' TERM INT
  wait "$sleeper"
  trap - TERM INT
fi
if [ -e "$marks.fail.$member.$role" ]; then
  mark fail
  exit 1
fi
mark end
