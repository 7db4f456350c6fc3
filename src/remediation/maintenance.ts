// Maintenance windows: a window is active at `now` when one of its cron starts
// lies in (now − duration, now]. Matching uses node-cron's own matcher (so the
// expression means what it means to node-cron, time zone included); the scan
// is incremental, minute by minute, so each call only looks at new minutes.
import { createTask, type ScheduledTask } from 'node-cron';
import { formatDuration } from '../config/durations.js';
import type { MaintenanceConfig } from './schema.js';

const MINUTE = 60_000;

interface WindowState {
  readonly cfg: MaintenanceConfig;
  readonly task: ScheduledTask;
  /** Newest start found so far (epoch ms), and the last minute already scanned. */
  lastStart?: number;
  scannedTo?: number;
}

export interface MaintenanceStatus {
  readonly active: boolean;
  readonly detail: string;
  readonly windows: ReadonlyArray<{ name?: string; schedule: string; duration: string; timezone?: string; active: boolean; started_at?: string; ends_at?: string }>;
}

export class MaintenanceCalendar {
  private readonly windows: WindowState[];

  constructor(configs: readonly MaintenanceConfig[]) {
    // Never started: used only for match(); destroyed in close() so node-cron's registry does not grow.
    this.windows = configs.map((cfg) => ({ cfg, task: createTask(cfg.schedule, () => undefined, { timezone: cfg.timezone }) }));
  }

  /** The newest start of the window within (now − duration, now], if any. */
  private startWithin(w: WindowState, now: number): number | undefined {
    const dur = w.cfg.duration;
    const newest = Math.floor(now / MINUTE) * MINUTE;
    const oldest = Math.floor((now - dur) / MINUTE) * MINUTE + MINUTE;
    // Clock went backwards or a long gap: rescan the whole span.
    if (w.scannedTo === undefined || w.scannedTo > newest || w.scannedTo < oldest - MINUTE) {
      w.scannedTo = oldest - MINUTE;
      w.lastStart = undefined;
    }
    for (let t = w.scannedTo + MINUTE; t <= newest; t += MINUTE) {
      if (w.task.match(new Date(t))) w.lastStart = t;
    }
    w.scannedTo = newest;
    return w.lastStart !== undefined && w.lastStart > now - dur ? w.lastStart : undefined;
  }

  status(now: number): MaintenanceStatus {
    const windows = this.windows.map((w) => {
      const start = this.startWithin(w, now);
      return {
        name: w.cfg.name, schedule: w.cfg.schedule, duration: formatDuration(w.cfg.duration), timezone: w.cfg.timezone,
        active: start !== undefined,
        started_at: start !== undefined ? new Date(start).toISOString() : undefined,
        ends_at: start !== undefined ? new Date(start + w.cfg.duration).toISOString() : undefined,
      };
    });
    const active = windows.filter((w) => w.active);
    const detail = active.length === 0 ? 'no maintenance window is active'
      : `maintenance window ${active.map((w) => `${w.name ?? `"${w.schedule}"`} (until ${w.ends_at})`).join(', ')}`;
    return { active: active.length > 0, detail, windows };
  }

  close(): void {
    for (const w of this.windows) void w.task.destroy();
  }
}
