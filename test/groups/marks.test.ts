// marks.ts on hand-made lines: parsing, the widest reading of active
// intervals (active start .. standby end), and the overlap arithmetic the
// group tests will assert split-brain bounds with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activeAt, activeIntervals, firstMarkAfter, lastActiveDone, lastStandbyDone, overlapMs, overlaps, overlapWithin, parseMarks, type Interval,
} from './marks.js';

const T = 1_700_000_000_000; // a 13-digit epoch ms
const line = (dt: number, rest: string): string => `${T + dt} ${rest}\n`;
const iv = (member: string, start: number, end: number): Interval => ({ member, start: T + start, end: T + end, open: false, token: undefined });

test('parseMarks: fields, "-" as none, a cause with spaces, an unterminated last line skipped', () => {
  const text = line(0, 'g1 active start 7 lease acquired') + line(5, 'g1 active end - -') + `${T + 9} g2 act`;
  assert.deepEqual(parseMarks(text), [
    { at: T, member: 'g1', role: 'active', phase: 'start', token: '7', cause: 'lease acquired', line: 1 },
    { at: T + 5, member: 'g1', role: 'active', phase: 'end', token: undefined, cause: undefined, line: 2 },
  ]);
  assert.deepEqual(parseMarks(''), []);
});

test('parseMarks: a malformed complete line throws with its number', () => {
  assert.throws(() => parseMarks(line(0, 'g1 active start 1 x') + 'garbage\n'), /marks line 2 is malformed: "garbage"/);
  assert.throws(() => parseMarks(line(0, 'g1 leader start 1 x')), /line 1/);
});

test('activeIntervals: active start .. next standby end; an open one ends at now', () => {
  const marks = parseMarks(
    line(0, 'g1 standby start - startup') + line(10, 'g1 standby end - startup') // standby without active: no interval
    + line(100, 'g1 active start 1 elected') + line(150, 'g1 active end 1 elected')
    + line(900, 'g1 standby start 1 lease-lost') + line(1000, 'g1 standby end 1 lease-lost')
    + line(1200, 'g2 active start 2 takeover') + line(1300, 'g2 active end 2 takeover'));
  assert.deepEqual(activeIntervals(marks, T + 2000), [
    { member: 'g1', start: T + 100, end: T + 1000, open: false, token: '1' },
    { member: 'g2', start: T + 1200, end: T + 2000, open: true, token: '2' },
  ]);
});

test('activeIntervals: a failed or killed on_standby does not end the interval; a retried on_active continues it', () => {
  const marks = parseMarks(
    line(0, 'g1 active start 1 a') + line(10, 'g1 active fail 1 a')
    + line(20, 'g1 active start 1 retry') + line(30, 'g1 active end 1 retry')
    + line(100, 'g1 standby start 1 b') + line(110, 'g1 standby killed 1 b')
    + line(200, 'g1 standby start 1 c') + line(210, 'g1 standby fail 1 c')
    + line(300, 'g1 standby start 1 d') + line(350, 'g1 standby end 1 d'));
  assert.deepEqual(activeIntervals(marks, T + 1000), [{ member: 'g1', start: T, end: T + 350, open: false, token: '1' }]);
});

test('overlapMs: disjoint and touching intervals do not overlap', () => {
  assert.equal(overlapMs([iv('g1', 0, 100), iv('g2', 100, 200), iv('g3', 300, 400)]), 0);
  assert.deepEqual(overlaps([iv('g1', 0, 100), iv('g2', 100, 200)]), []);
  assert.equal(overlapMs([]), 0);
});

test('overlapMs: a handover with a 40 ms overlap, and the window names both members', () => {
  const ivs = [iv('g1', 0, 540), iv('g2', 500, 900)];
  assert.equal(overlapMs(ivs), 40);
  assert.deepEqual(overlaps(ivs), [{ start: T + 500, end: T + 540, members: ['g1', 'g2'] }]);
});

test('overlapMs: three members counts time with two or more active once, over separate windows', () => {
  // g1 0..100, g2 50..300, g3 80..120 → ≥2 active during 50..120 (70); g1 again 250..260 with g2 → 10.
  const ivs = [iv('g1', 0, 100), iv('g2', 50, 300), iv('g3', 80, 120), iv('g1', 250, 260)];
  assert.equal(overlapMs(ivs), 80);
  assert.deepEqual(overlaps(ivs).map((w) => [w.start - T, w.end - T, w.members]), [[50, 120, ['g1', 'g2', 'g3']], [250, 260, ['g1', 'g2']]]);
});

test('activeAt, lastActiveDone, lastStandbyDone, firstMarkAfter', () => {
  const marks = parseMarks(
    line(0, 'g1 active start 1 x') + line(20, 'g1 active end 1 x')
    + line(500, 'g1 standby start 1 y') + line(530, 'g1 standby end 1 y')
    + line(600, 'g2 active start 2 z') + line(640, 'g2 active end 2 z'));
  const ivs = activeIntervals(marks, T + 1000);
  assert.deepEqual(activeAt(ivs, T + 10), ['g1']);
  assert.deepEqual(activeAt(ivs, T + 530), [], 'end is exclusive');
  assert.deepEqual(activeAt(ivs, T + 700), ['g2']);
  assert.equal(lastActiveDone(marks, 'g1'), T + 20);
  assert.equal(lastActiveDone(marks, 'g3'), undefined);
  assert.equal(lastStandbyDone(marks, 'g1'), T + 530);
  assert.equal(firstMarkAfter(marks, T + 550, { role: 'active', phase: 'end' })?.member, 'g2');
  assert.equal(firstMarkAfter(marks, T + 640, { role: 'active' }), undefined, 'after is exclusive');
});

test('overlapWithin: only the part of each overlap inside [from, to)', () => {
  const ivs = [iv('g1', 0, 100), iv('g2', 50, 200), iv('g3', 150, 300)];
  assert.equal(overlapMs(ivs), 100); // 50..100 and 150..200
  assert.equal(overlapWithin(ivs, T, T + 1000), 100);
  assert.equal(overlapWithin(ivs, T + 75, T + 160), 35); // 75..100 and 150..160
  assert.equal(overlapWithin(ivs, T + 100, T + 150), 0);
  assert.equal(overlapWithin(ivs, T + 400, T + 500), 0);
});
