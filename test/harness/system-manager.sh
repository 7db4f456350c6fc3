# Boots a SYSTEM-mode systemd (as PID 1 of new PID, mount, cgroup, network,
# UTS and IPC namespaces) on a throw-away overlay of /. Used by
# test/harness/system-manager.ts; read the comments there first.
#
#   sh system-manager.sh outer CGDIR DIR   (on the host: joins CGDIR, then unshares)
#   sh system-manager.sh inner DIR         (PID 1 of the new PID namespace; execs systemd)
#
# DIR is an empty host directory: in the private mount namespace a tmpfs is
# mounted over it that holds the overlay's upper and work dirs and its mount
# point, so every write of the booted system (dpkg, useradd, tmpfiles) lands
# in memory and goes away with the namespace. Nothing is mounted on the host.
set -e
case "$1" in
outer)
  # cgroup2 folder of our own: systemd needs a cgroup it may manage, and
  # --cgroup makes it the new namespace's root, so it sees only its subtree.
  echo $$ > "$2/cgroup.procs"
  exec unshare --cgroup --pid --mount --net --uts --ipc --fork --kill-child sh "$0" inner "$3"
  ;;
inner) ;;
*) echo "usage: $0 outer CGDIR DIR | inner DIR" >&2; exit 2 ;;
esac

D=$2
R=$D/root
mount --make-rprivate /
mount -t tmpfs -o mode=755 vigil-sysmgr "$D"
mkdir "$D/up" "$D/work" "$R"
mount -t overlay vigil-sysmgr -o "lowerdir=/,upperdir=$D/up,workdir=$D/work" "$R"
mount -t proc proc "$R/proc"
# Read-only sysfs: no udev in here (systemd-udevd/-trigger have
# ConditionPathIsReadWrite=/sys), no uevents sent to the host's devices.
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in null zero full random urandom tty; do
  touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"

# Masked in the overlay only. Consoles, network configuration, ssh and cron
# have no business here; the rest would change the HOST's kernel or disks from
# in here (we are real root with every capability): sysctl (kernel.* is not
# per namespace), module loading, binfmt_misc, the clock (timesyncd), pstore
# entries (read then deleted), udev, partitions, fsck/remount of /, swap, and
# the timers (apt, fstrim of the host's disks, e2scrub, man-db).
for u in getty@.service console-getty.service serial-getty@.service container-getty@.service \
    systemd-networkd.service systemd-networkd-wait-online.service networking.service \
    systemd-resolved.service ssh.service cron.service \
    systemd-sysctl.service systemd-modules-load.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount systemd-timesyncd.service \
    systemd-pstore.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-udev-settle.service systemd-hwdb-update.service kmod-static-nodes.service \
    systemd-repart.service systemd-firstboot.service systemd-pcrphase.service \
    systemd-pcrphase-sysinit.service systemd-remount-fs.service systemd-fsck-root.service \
    swap.target timers.target e2scrub_reap.service fstrim.service \
    apt-daily.service apt-daily-upgrade.service; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done

hostname vigil-sysmgr
cd "$R"; mkdir -p oldroot; pivot_root . oldroot; cd /; umount -l /oldroot; rmdir /oldroot
# container=: systemd then skips what it does to a real machine at boot
# (ConditionVirtualization=!container units, core_pattern, ...).
# basic.target: multi-user.target would start every service enabled on this
# machine (mariadb, etcd, prometheus, ...).
exec env -i container=vigil-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit=basic.target --show-status=no
