// Talks to systemd's notification socket ($NOTIFY_SOCKET) for a Type=notify
// unit: READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 and a STATUS= line.
//
// Why the `systemd-notify` binary and not a socket of our own: the protocol is
// one datagram on an AF_UNIX SOCK_DGRAM socket, and Node has no unix datagram
// sockets (dgram is UDP only); the npm modules that add them are native
// builds, which the .deb and `npm install -g` must not need. systemd-notify
// ships with systemd itself, so it is present wherever $NOTIFY_SOCKET is set.
// It sends from its own PID, a child of the agent, so the unit needs
// `NotifyAccess=all` (with the default `main`, systemd drops every message not
// sent by the main PID). `--pid=<agent pid>` names the agent as MAINPID. By
// default systemd-notify (systemd >= 246) waits until the manager processed
// the message, so it cannot exit before systemd has attributed the message to
// the unit by the sender's cgroup.
import { execFile } from 'node:child_process';

/** Runs `systemd-notify ARGS`; resolves when it exited (rejects on failure). */
export type NotifyRunner = (args: readonly string[], env: NodeJS.ProcessEnv) => Promise<void>;

export interface SdNotifier {
  /** False when $NOTIFY_SOCKET is unset (not started by systemd as Type=notify): every call is a no-op. */
  readonly enabled: boolean;
  ready(status: string): Promise<void>;
  reloading(status: string): Promise<void>;
  stopping(status: string): Promise<void>;
  watchdog(): Promise<void>;
  status(status: string): Promise<void>;
}

export const runSystemdNotify: NotifyRunner = (args, env) => new Promise((resolve, reject) => {
  execFile('systemd-notify', [...args], { env, timeout: 10_000 }, (err, _stdout, stderr) => {
    if (err) reject(new Error(`systemd-notify ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
    else resolve();
  });
});

/** CLOCK_MONOTONIC in µs (libuv's hrtime reads it on Linux), for RELOADING=1's MONOTONIC_USEC. */
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

export function createSdNotifier(env: NodeJS.ProcessEnv, pid: number, run: NotifyRunner = runSystemdNotify): SdNotifier {
  const enabled = Boolean(env.NOTIFY_SOCKET);
  const send = (args: string[]): Promise<void> => (enabled ? run([`--pid=${pid}`, ...args], env) : Promise.resolve());
  return {
    enabled,
    ready: (status) => send(['--ready', `--status=${status}`]),
    reloading: (status) => send([`--status=${status}`, 'RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`]),
    stopping: (status) => send([`--status=${status}`, 'STOPPING=1']),
    watchdog: () => send(['WATCHDOG=1']),
    status: (status) => send([`--status=${status}`]),
  };
}
