#!/bin/sh
# on_active / on_standby hook that points a symlink, the path the application
# uses (e.g. /srv/data), at this site's storage or away from it, in ONE atomic
# step. The disaster-recovery switch of examples/groups/vigil-group-dr-symlink.yaml
# (EDINA: /srv/data points at the SAN of data centre A, and at B's after a
# switch-over).
#
# Usage:
#   swap-symlink.sh active  LINK TARGET
#       LINK -> TARGET. TARGET must be an existing directory, else nothing is
#       changed and the exit code is 3 (on_active fails: the member steps
#       down and does not stand again for retry_after_failure).
#   swap-symlink.sh standby LINK TARGET [PLACEHOLDER]
#       This site gives the role up: when LINK points at TARGET (this site's
#       storage) or does not exist, LINK -> PLACEHOLDER (default LINK.inactive,
#       made an empty read-only directory when missing). When LINK points
#       anywhere else (another site's storage: that site is active, or the
#       placeholder) it is left alone, so the startup on_standby of a member
#       that shares the link never undoes another member's active term.
# All paths absolute; LINK's directory must be writable.
#
# Why a placeholder and not removing the link: the operator sees the state
# at a glance (`ls -l /srv/data` -> /srv/data.inactive), every change is the
# same single rename whether the link is new or not, and a program started
# by mistake on the standby finds an empty read-only directory (writes fail)
# instead of ENOENT, where a `mkdir -p /srv/data` would quietly create a
# local directory in the link's place: data written there forks from the
# SAN, and every later swap would refuse to replace a real directory.
#
# Why not plain `ln -sfn TARGET LINK`: POSIX specifies ln -f as unlink, then
# create; a reader between the two gets ENOENT (busybox ln as in Alpine,
# BSD/macOS ln and older GNU coreutils do exactly that). GNU coreutils 9.1
# (Debian 12) happens to make a temporary link and rename it (seen with
# strace), but that is an implementation detail. Here the new link is made
# under a temporary name in the same directory and renamed over LINK:
# rename(2) replaces the name atomically, so every reader resolves the old or
# the new target, never nothing. `mv -T` (GNU) matters: without it, mv would
# move the temporary link INTO the directory LINK points at.
#
# Idempotent: a LINK that already points at the wanted place is left as it
# is. A LINK that is a real file or directory is never replaced (exit 3).
# Concurrent runs on the same LINK (two members on one host sharing it) are
# serialized with flock(1) on LINK.lock when flock exists.
#
# Environment: HOOK_LOG, a file to append one line per step to (optional);
# every line also goes to stderr and, when /dev/log exists, to syslog/the
# journal (tag vigil-hook), with vigil's VIGIL_GROUP, VIGIL_MEMBER,
# VIGIL_FENCING_TOKEN and VIGIL_CAUSE.
#
# Exit codes: 0 done; 1 the swap itself failed; 2 usage; 3 refused (TARGET
# or PLACEHOLDER missing or not a directory, LINK not a symlink).
set -eu

prog=swap-symlink

log() {
  line="$(date +%s%3N) ${VIGIL_GROUP:--}/${VIGIL_MEMBER:--} $prog: $* token=${VIGIL_FENCING_TOKEN:--} cause=${VIGIL_CAUSE:--}"
  printf '%s\n' "$line" >&2
  if [ -n "${HOOK_LOG:-}" ]; then printf '%s\n' "$line" >> "$HOOK_LOG"; fi
  if [ -S /dev/log ]; then logger -t vigil-hook -- "$line" 2>/dev/null || true; fi
}

usage() {
  printf 'usage: %s active LINK TARGET | standby LINK TARGET [PLACEHOLDER]  (absolute paths)\n' "$0" >&2
  exit 2
}

refuse() {
  log "$mode $link: REFUSED: $*"
  exit 3
}

[ $# -ge 3 ] || usage
mode=$1
link=$2
target=$3
case $mode in
  active) [ $# -eq 3 ] || usage; placeholder= ;;
  standby) [ $# -le 4 ] || usage; placeholder=${4:-$link.inactive} ;;
  *) usage ;;
esac
for p in "$link" "$target" ${placeholder:+"$placeholder"}; do
  case $p in /*) ;; *) usage ;; esac
done
link=${link%/} target=${target%/} placeholder=${placeholder%/}

# LINK is a symlink, or absent; anything else holds data we must not replace.
if [ -e "$link" ] && [ ! -L "$link" ]; then
  refuse "$link exists and is not a symlink; move it away first, nothing was changed"
fi

if command -v flock >/dev/null 2>&1; then
  exec 9>>"$link.lock"
  flock -w 2 9 || { log "$mode $link: FAILED: could not lock $link.lock within 2s"; exit 1; }
fi

current=
if [ -L "$link" ]; then current=$(readlink -- "$link"); fi

if [ "$mode" = active ]; then
  want=$target
  # A mount point that is not mounted is still a directory: name a directory
  # INSIDE the mounted filesystem (e.g. /san/dc-a/data), which only exists
  # while it is mounted.
  [ -d "$want" ] || refuse "target $want does not exist or is not a directory (storage not mounted?); $link still points at ${current:-nothing}"
else
  if [ -n "$current" ] && [ "$current" != "$target" ] && [ "$current" != "$placeholder" ]; then
    log "standby $link: left alone: points at $current, not at this site's $target"
    exit 0
  fi
  want=$placeholder
  if [ ! -e "$want" ]; then
    mkdir -p -- "$want"
    printf 'This site is not active: %s points here until vigil makes this site active.\n' "$link" > "$want/INACTIVE"
    chmod 0555 -- "$want"
    log "standby $link: created placeholder $want"
  fi
  [ -d "$want" ] || refuse "placeholder $want is not a directory"
fi

if [ "$current" = "$want" ]; then
  log "$mode $link: done (already -> $want)"
  exit 0
fi

# Same directory as LINK, so the rename never crosses a filesystem.
tmp="$link.tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
ln -sfn -- "$want" "$tmp"
if ! mv -Tf -- "$tmp" "$link"; then
  log "$mode $link: FAILED: could not rename $tmp over $link"
  exit 1
fi
trap - EXIT
log "$mode $link: done (${current:-nothing} -> $want)"
