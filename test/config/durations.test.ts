import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/config/durations.js';

test('durations as Prometheus writes them', () => {
  const cases: Array<[string, number | undefined]> = [
    ['500ms', 500], ['5s', 5000], ['1m', 60_000], ['1h30m', 5_400_000], ['2h', 7_200_000],
    ['1m30s500ms', 90_500], ['1d', 86_400_000], ['1w', 604_800_000], ['0', 0], ['0s', 0],
    ['', undefined], ['5', undefined], ['1.5s', undefined], ['5 s', undefined], ['30m1h', undefined],
    ['-1s', undefined], ['1S', undefined], ['ms', undefined], ['5sec', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, `parseDuration(${JSON.stringify(text)})`);
});

test('formatDuration is the inverse for messages', () => {
  for (const [ms, text] of [[0, '0s'], [500, '500ms'], [1000, '1s'], [90_500, '1m30s500ms'], [5_400_000, '1h30m']] as const) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});

test('sizes: binary and decimal units or plain bytes', () => {
  const cases: Array<[string | number, number | undefined]> = [
    ['10GiB', 10 * 2 ** 30], ['512MiB', 512 * 2 ** 20], ['1KiB', 1024], ['1.5GB', 1.5e9], ['4096', 4096],
    [4096, 4096], ['100B', 100], [' 1MiB ', 2 ** 20],
    ['10XB', undefined], ['10gib', undefined], ['-5', undefined], [-5, undefined], ['', undefined], [Number.NaN, undefined],
  ];
  for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, `parseSize(${JSON.stringify(text)})`);
});

test('formatSize: binary units, three significant digits at most, plain bytes below 1 KiB', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(900), '900 B');
  assert.equal(formatSize(1024), '1 KiB');
  assert.equal(formatSize(1536), '1.5 KiB');
  assert.equal(formatSize(4 * 1024 * 1024), '4 MiB');
  assert.equal(formatSize(10 * 2 ** 30), '10 GiB');
  assert.equal(formatSize(83_995_492_352), '78.2 GiB');
  assert.equal(formatSize(270_553_174_016), '252 GiB');
  assert.equal(formatSize(3 * 2 ** 40 + 2 ** 39), '3.5 TiB');
});
