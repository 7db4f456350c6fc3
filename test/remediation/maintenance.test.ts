// Maintenance windows with an injected clock: active iff a cron start lies in
// (now − duration, now], in the window's time zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaintenanceCalendar } from '../../src/remediation/maintenance.js';

const H = 3600_000;

test('a weekly window is active from its start for its duration, and not a minute outside', () => {
  // 2024-05-05 is a Sunday.
  const cal = new MaintenanceCalendar([{ schedule: '0 2 * * SUN', duration: 2 * H, timezone: 'UTC', name: 'weekly' }]);
  try {
    const at = (iso: string) => cal.status(Date.parse(iso)).active;
    assert.equal(at('2024-05-05T01:59:59Z'), false);
    assert.equal(at('2024-05-05T02:00:00Z'), true);
    const s = cal.status(Date.parse('2024-05-05T03:30:00Z'));
    assert.equal(s.active, true);
    assert.equal(s.windows[0].started_at, '2024-05-05T02:00:00.000Z');
    assert.equal(s.windows[0].ends_at, '2024-05-05T04:00:00.000Z');
    assert.match(s.detail, /maintenance window weekly \(until 2024-05-05T04:00:00.000Z\)/);
    assert.equal(at('2024-05-05T03:59:59Z'), true);
    assert.equal(at('2024-05-05T04:00:00Z'), false, 'the end is exclusive');
    assert.equal(at('2024-05-06T02:30:00Z'), false, 'Monday');
    // The clock going backwards (a test, an NTP step) rescans.
    assert.equal(at('2024-05-05T02:10:00Z'), true);
    assert.equal(at('2024-05-12T02:00:00Z'), true, 'a week later');
  } finally {
    cal.close();
  }
});

test('time zones: 02:00 in Berlin is 00:00 UTC in summer', () => {
  const cal = new MaintenanceCalendar([{ schedule: '0 2 * * *', duration: H, timezone: 'Europe/Berlin' }]);
  try {
    assert.equal(cal.status(Date.parse('2024-07-01T00:30:00Z')).active, true);
    assert.equal(cal.status(Date.parse('2024-07-01T02:30:00Z')).active, false);
  } finally {
    cal.close();
  }
});

test('several windows: any active one counts; none configured is never active', () => {
  const cal = new MaintenanceCalendar([
    { schedule: '0 2 * * SUN', duration: H, timezone: 'UTC' },
    { schedule: '30 12 1 * *', duration: 30 * 60_000, timezone: 'UTC', name: 'monthly' },
  ]);
  try {
    const s = cal.status(Date.parse('2024-06-01T12:45:00Z'));
    assert.deepEqual(s.windows.map((w) => w.active), [false, true]);
    assert.equal(s.active, true);
  } finally {
    cal.close();
  }
  const none = new MaintenanceCalendar([]);
  assert.deepEqual(none.status(Date.now()), { active: false, detail: 'no maintenance window is active', windows: [] });
  none.close();
});
