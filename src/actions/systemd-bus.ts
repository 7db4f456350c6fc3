// A short-lived connection to a systemd manager over D-Bus (the system bus,
// or a user manager's session bus): restart a unit and wait for its job's
// result, read a unit's state, reset a failed unit. One connection per use,
// so a restarted bus or manager never leaves a stale handle behind.
import type dbus from 'dbus-next';
import { loadDbus } from '../optional-deps.js';

const DEST = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';

// Only what we call, given to dbus-next up front: introspecting the whole
// Manager object (a large XML document) cost ~1 s on the first action.
const MANAGER_XML = `<node><interface name="org.freedesktop.systemd1.Manager">
<method name="Subscribe"/>
<method name="LoadUnit"><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
<method name="RestartUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
<method name="ResetFailedUnit"><arg type="s" direction="in"/></method>
<signal name="JobRemoved"><arg type="u"/><arg type="o"/><arg type="s"/><arg type="s"/></signal>
</interface></node>`;
const UNIT_XML = `<node><interface name="org.freedesktop.DBus.Properties">
<method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
</interface></node>`;

export interface UnitState {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  /** Service Result (success, exit-code, start-limit-hit…); '' for non-services. */
  readonly result: string;
  readonly mainPid: number;
  /** Epoch ms the unit last entered active (0 = never). */
  readonly activeEnterMs: number;
  /** Epoch ms the unit last left inactive/failed, i.e. began to start (0 = never). */
  readonly inactiveExitMs: number;
  readonly nRestarts: number;
  readonly startLimitBurst: number;
  readonly startLimitIntervalMs: number;
}

export class SystemdError extends Error {
  constructor(readonly code: string, message: string) { super(message); }
}

/** Where to find the bus, from the config override or the agent's environment. */
export function busAddressFor(scope: 'system' | 'user', override: string | undefined, env: NodeJS.ProcessEnv): string {
  if (override) return override;
  if (scope === 'system') return env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/run/dbus/system_bus_socket';
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
  throw new SystemdError('VIGIL_E_SYSTEMD_NO_BUS', 'scope user needs DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR in the agent\'s environment (or bus_address in the action)');
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number(String(v ?? 0));
}

/** D-Bus errors as one line with a hint for the ones operators meet. */
export function describeDbusError(err: unknown): string {
  const e = err as { type?: string; text?: string; message?: string; code?: string };
  const type = e.type ?? e.code ?? '';
  const text = e.text ?? e.message ?? String(err);
  if (/AccessDenied|InteractiveAuthorizationRequired/.test(type)) {
    return `${type}: ${text} — a non-root agent needs a polkit rule allowing manage-units for this unit (examples/polkit/50-vigil.rules)`;
  }
  if (/ENOENT|ECONNREFUSED/.test(type) || /ENOENT|ECONNREFUSED/.test(text)) return `D-Bus not reachable (${text}); is the systemd manager running?`;
  return type ? `${type}: ${text}` : text;
}

function callWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => { t = setTimeout(() => reject(new SystemdError('VIGIL_E_SYSTEMD_TIMEOUT', `${what} did not answer within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export interface SystemdSession {
  unitState(unit: string): Promise<UnitState>;
  resetFailed(unit: string): Promise<void>;
  /** Restarts and resolves with the job's result (done, failed, timeout, canceled, dependency, skipped) or 'wait_timeout'. */
  restart(unit: string, waitMs: number): Promise<{ job: string; result: string }>;
  close(): void;
}

/** Connects and subscribes (systemd sends JobRemoved only to subscribers). */
export async function connectSystemd(busAddress: string, callTimeoutMs = 10_000): Promise<SystemdSession> {
  const bus = loadDbus().sessionBus({ busAddress });
  // An 'error' event without a listener would crash the agent; it also fails every pending call at once
  // (a missing socket would otherwise only show as call timeouts).
  let busError: unknown;
  const broken = new Promise<never>((_r, reject) => bus.on('error', (err) => { busError = err; reject(err); }));
  broken.catch(() => undefined);
  const withTimeout = <T>(p: Promise<T>, ms: number, what: string) => callWithin(Promise.race([p, broken]), ms, what);
  const closed = () => { try { bus.disconnect(); } catch { /* already closed */ } };
  try {
    const obj = await withTimeout(bus.getProxyObject(DEST, MANAGER_PATH, MANAGER_XML), callTimeoutMs, 'systemd manager');
    const mgr = obj.getInterface('org.freedesktop.systemd1.Manager');
    await withTimeout(mgr.Subscribe() as Promise<void>, callTimeoutMs, 'Manager.Subscribe');
    const removed = new Map<string, string>();
    const waiters = new Map<string, (result: string) => void>();
    // Registered before any RestartUnit: JobRemoved can arrive before the call's reply is handled.
    mgr.on('JobRemoved', (_id: number, job: string, _unit: string, result: string) => {
      const w = waiters.get(job);
      if (w) w(result); else removed.set(job, result);
    });

    const unitState = async (unit: string): Promise<UnitState> => {
      const path = (await withTimeout(mgr.LoadUnit(unit) as Promise<string>, callTimeoutMs, 'Manager.LoadUnit'));
      const uobj = await withTimeout(bus.getProxyObject(DEST, path, UNIT_XML), callTimeoutMs, `unit ${unit}`);
      const props = uobj.getInterface('org.freedesktop.DBus.Properties');
      const u = (await withTimeout(props.GetAll('org.freedesktop.systemd1.Unit') as Promise<Record<string, dbus.Variant>>, callTimeoutMs, 'Properties.GetAll'));
      let svc: Record<string, dbus.Variant> = {};
      if (unit.endsWith('.service') && u.LoadState?.value === 'loaded') {
        svc = await withTimeout(props.GetAll('org.freedesktop.systemd1.Service') as Promise<Record<string, dbus.Variant>>, callTimeoutMs, 'Properties.GetAll');
      }
      return {
        loadState: String(u.LoadState?.value ?? ''),
        activeState: String(u.ActiveState?.value ?? ''),
        subState: String(u.SubState?.value ?? ''),
        result: String(svc.Result?.value ?? ''),
        mainPid: num(svc.MainPID?.value),
        activeEnterMs: Math.floor(num(u.ActiveEnterTimestamp?.value) / 1000),
        inactiveExitMs: Math.floor(num(u.InactiveExitTimestamp?.value) / 1000),
        nRestarts: num(svc.NRestarts?.value),
        startLimitBurst: num(u.StartLimitBurst?.value),
        startLimitIntervalMs: Math.floor(num(u.StartLimitIntervalUSec?.value) / 1000),
      };
    };

    return {
      unitState,
      async resetFailed(unit) {
        await withTimeout(mgr.ResetFailedUnit(unit) as Promise<void>, callTimeoutMs, 'Manager.ResetFailedUnit');
      },
      async restart(unit, waitMs) {
        const job = await withTimeout(mgr.RestartUnit(unit, 'replace') as Promise<string>, callTimeoutMs, 'Manager.RestartUnit');
        const early = removed.get(job);
        if (early !== undefined) return { job, result: early };
        const result = await new Promise<string>((resolve) => {
          const t = setTimeout(() => { waiters.delete(job); resolve('wait_timeout'); }, waitMs);
          waiters.set(job, (r) => { clearTimeout(t); waiters.delete(job); resolve(r); });
        });
        if (busError && result === 'wait_timeout') throw busError;
        return { job, result };
      },
      close: closed,
    };
  } catch (err) {
    closed();
    throw busError ?? err;
  }
}
