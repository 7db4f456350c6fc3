// packaging/vigil.service adapted to the test's systemd user manager, changing
// only what a test must: everything else (Type=notify, NotifyAccess, the
// watchdog, Restart=, the hardening) runs as shipped.
export interface UserUnitOptions {
  /** ReadWritePaths= (the shipped /var/lib/vigil belongs to the package's user). */
  stateDir: string;
  /** The manager's notification socket (UserManager.runtimeDir + /systemd/notify). */
  notifySocket: string;
  /** Replaces ExecStart= (e.g. the agent run from this checkout); the shipped one when absent. */
  execStart?: string;
  /** Replaces WatchdogSec= and RestartSec= (a quick test), e.g. { WatchdogSec: '3s' }. */
  timing?: { WatchdogSec?: string; RestartSec?: string };
  /** No journald under the test manager: the agent's output goes to this file. */
  logFile: string;
}

export function userUnit(shipped: string, o: UserUnitOptions): string {
  return shipped.split('\n')
    // User=/Group=: a user manager cannot switch users. (ProtectHome=, ProtectKernelTunables= and
    // ProtectKernelLogs= run as shipped: they need /run/systemd/inaccessible/*, which the harness creates.)
    .filter((l) => !/^(User|Group)=/.test(l))
    .map((l) => {
      // WorkingDirectory=/: a system manager's default, so the agent runs where it runs on a host; a user
      // manager's is $HOME (/root here), which ProtectHome= makes unreadable. (That once killed the bcrypt
      // worker on Node 24; test/server/basic-auth.test.ts now covers a broken working directory itself.)
      if (l.startsWith('ExecStart=')) return `StandardOutput=append:${o.logFile}\nStandardError=inherit\n${o.execStart ?? `WorkingDirectory=/\n${l}`}`;
      if (l.startsWith('ReadWritePaths=')) return `ReadWritePaths=${o.stateDir}`;
      // The harness's manager keeps its notify socket under /tmp, which PrivateTmp= hides (a system
      // manager's is /run/systemd/notify): bind it back in.
      if (l.startsWith('PrivateTmp=')) return `${l}\nBindPaths=${o.notifySocket}`;
      if (l.startsWith('WatchdogSec=') && o.timing?.WatchdogSec) return `WatchdogSec=${o.timing.WatchdogSec}`;
      if (l.startsWith('RestartSec=') && o.timing?.RestartSec) return `RestartSec=${o.timing.RestartSec}`;
      return l;
    }).join('\n');
}
