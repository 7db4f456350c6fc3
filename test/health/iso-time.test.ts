// IsoTimes formats exactly as Date#toISOString does, minute boundaries and
// far-apart times included, and stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsoTimes } from '../../src/health/iso-time.js';

test('the same text as toISOString for 200k times across 120 years, every millisecond edge included', () => {
  const iso = new IsoTimes();
  const edges = [0, 1, 999, 1000, 59_999, 60_000, 60_001, 1_700_000_000_000, 1_700_000_059_999, 4_102_444_799_999];
  for (const ms of edges) assert.equal(iso.format(ms), new Date(ms).toISOString(), String(ms));
  let seed = 42;
  for (let i = 0; i < 200_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const ms = Math.floor((seed / 2 ** 31) * 3.8e12);
    assert.equal(iso.format(ms), new Date(ms).toISOString());
  }
});
