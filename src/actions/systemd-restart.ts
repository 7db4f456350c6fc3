// systemd_restart: Manager.RestartUnit over D-Bus, wait for the job's
// JobRemoved result, then confirm the unit is active. Only units listed in
// actions.systemd_restart.allowed_units may be named (checked at config load).
// A unit in start-limit-hit is reported as such and, with reset_failed,
// reset first — systemd counts our restarts toward StartLimitBurst too.
import { z } from 'zod';
import { positiveDuration } from '../config/fields.js';
import { formatDuration } from '../config/durations.js';
import { defineAction } from './types.js';
import { busAddressFor, connectSystemd, describeDbusError, type SystemdSession, type UnitState } from './systemd-bus.js';

const UNIT_RE = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|mount|automount|timer|path|swap|slice|scope)$/;
const unitName = () => z.string().regex(UNIT_RE, 'must be a full unit name such as api.service');
/** How long after the job finished a unit may still be "activating" before we call it failed. */
const CONFIRM_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describe(unit: string, s: UnitState): string {
  const result = s.result && s.result !== 'success' ? `, Result=${s.result}` : '';
  const pid = s.mainPid ? `, MainPID ${s.mainPid}` : '';
  return `${unit} ${s.activeState} (${s.subState}${result}${pid})`;
}

const START_LIMIT_HINT = (unit: string) => `systemd refuses to start ${unit} until its StartLimitIntervalSec passes or \`systemctl reset-failed ${unit}\`; set reset_failed: true to let vigil reset it`;

export const systemdRestartAction = defineAction({
  type: 'systemd_restart',
  scope: 'host',
  fields: () => ({
    unit: unitName(),
    scope: z.enum(['system', 'user']).default('system'),
    reset_failed: z.boolean().default(false),
    timeout: positiveDuration().default('2m'),
    bus_address: z.string().optional(),
  }),
  settings: () => ({
    allowed_units: z.array(unitName()).default([]),
  }),
  validate(cfg, settings, report) {
    if (!settings.allowed_units.includes(cfg.unit)) {
      report(['unit'], `unit "${cfg.unit}" is not in actions.systemd_restart.allowed_units`
        + ` (${settings.allowed_units.length ? settings.allowed_units.join(', ') : 'empty'}); add it there, and to the polkit rule for a non-root agent, to let vigil restart it`);
    }
  },
  create(cfg, deps) {
    const target = cfg.scope === 'user' ? `${cfg.unit} (user)` : cfg.unit;
    const session = async (): Promise<SystemdSession> => connectSystemd(busAddressFor(cfg.scope, cfg.bus_address, deps.env));
    const withSession = async <T>(fn: (s: SystemdSession) => Promise<T>): Promise<T> => {
      const s = await session();
      try { return await fn(s); } finally { s.close(); }
    };

    return {
      type: 'systemd_restart',
      scope: 'host',
      target,
      async precheck() {
        try {
          return await withSession(async (s) => {
            const st = await s.unitState(cfg.unit);
            if (st.loadState !== 'loaded') return { ok: false, reason: 'precheck_failed', detail: `${cfg.unit} is ${st.loadState || 'unknown'} to the ${cfg.scope} manager` } as const;
            if (st.result === 'start-limit-hit' && st.activeState === 'failed' && !cfg.reset_failed) {
              return { ok: false, reason: 'precheck_failed', detail: `${cfg.unit} is in start-limit-hit: ${START_LIMIT_HINT(cfg.unit)}` } as const;
            }
            return { ok: true, detail: describe(cfg.unit, st) } as const;
          });
        } catch (err) {
          return { ok: false, reason: 'precheck_failed', detail: `cannot reach the ${cfg.scope} manager: ${describeDbusError(err)}` };
        }
      },
      async execute() {
        try {
          return await withSession(async (s) => {
            const before = await s.unitState(cfg.unit);
            let reset = '';
            if (cfg.reset_failed && before.activeState === 'failed' && before.result === 'start-limit-hit') {
              await s.resetFailed(cfg.unit);
              reset = 'reset start-limit-hit, then ';
            }
            let { result } = await s.restart(cfg.unit, cfg.timeout);
            let after = await s.unitState(cfg.unit);
            // A failed unit keeps its first Result (signal, exit-code…), so a start refused by the
            // start limit does not say start-limit-hit: it shows as a job that failed without starting.
            let refused = result === 'failed' && after.activeState === 'failed'
              && (after.result === 'start-limit-hit' || after.inactiveExitMs === before.inactiveExitMs);
            if (refused && cfg.reset_failed && !reset) {
              await s.resetFailed(cfg.unit);
              reset = 'start refused (start limit); reset-failed, then ';
              ({ result } = await s.restart(cfg.unit, cfg.timeout));
              after = await s.unitState(cfg.unit);
              refused = false;
            }
            if (refused && after.result !== 'start-limit-hit') {
              return { outcome: 'failed', detail: `restart job failed without starting ${cfg.unit}: systemd refused the start, most likely its start limit`
                + ` (StartLimitBurst=${before.startLimitBurst} within ${formatDuration(before.startLimitIntervalMs)}, vigil's restarts included) — ${START_LIMIT_HINT(cfg.unit)}; ${describe(cfg.unit, after)}` } as const;
            }
            const deadline = Date.now() + CONFIRM_MS;
            while (result === 'done' && after.activeState === 'activating' && Date.now() < deadline) {
              await sleep(100);
              after = await s.unitState(cfg.unit);
            }
            if (result === 'wait_timeout') {
              return { outcome: 'failed', detail: `${reset}restart job did not finish within ${formatDuration(cfg.timeout)}; ${describe(cfg.unit, after)}` } as const;
            }
            if (after.result === 'start-limit-hit') {
              return { outcome: 'failed', detail: `${reset}restart job ${result}: start-limit-hit — ${START_LIMIT_HINT(cfg.unit)}; ${describe(cfg.unit, after)}` } as const;
            }
            if (result !== 'done' || after.activeState !== 'active') {
              return { outcome: 'failed', detail: `${reset}restart job ${result}; ${describe(cfg.unit, after)}` } as const;
            }
            return { outcome: 'succeeded', detail: `${reset}restart job done; ${describe(cfg.unit, after)}` } as const;
          });
        } catch (err) {
          return { outcome: 'failed', detail: `restart of ${target} failed: ${describeDbusError(err)}` };
        }
      },
      async reconcile(_ctx, intent) {
        try {
          return await withSession(async (s) => {
            const st = await s.unitState(cfg.unit);
            const since = st.activeEnterMs ? new Date(st.activeEnterMs).toISOString() : 'never';
            if (st.activeState === 'active' && st.activeEnterMs >= intent.at) {
              return { outcome: 'reconciled_succeeded', detail: `${describe(cfg.unit, st)}, active since ${since}, after the intent` } as const;
            }
            if (st.activeState === 'active') {
              return { outcome: 'reconciled_failed', detail: `${describe(cfg.unit, st)}, but active since ${since}, before the intent: the restart did not happen` } as const;
            }
            return { outcome: 'reconciled_failed', detail: `${describe(cfg.unit, st)} (not active)` } as const;
          });
        } catch (err) {
          return { outcome: 'reconciled_unknown', detail: `cannot ask the ${cfg.scope} manager: ${describeDbusError(err)}` };
        }
      },
    };
  },
});
