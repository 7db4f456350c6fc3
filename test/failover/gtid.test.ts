import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compare, contains, formatPosition, GtidParseError, mergePositions, parseMariaGtidList, parseMysqlGtidSet, transactionCount,
} from '../../src/mysql/gtid.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = 'a2d3d2b4-1111-2222-3333-444455556666';

test('MariaDB GTID lists: parse, keep the furthest per domain, format', () => {
  const p = parseMariaGtidList('0-1-10, 1-2-5,0-3-7');
  assert.equal(formatPosition(p), '0-1-10,1-2-5');
  assert.equal(formatPosition(parseMariaGtidList('')), '');
  assert.equal(formatPosition(parseMariaGtidList(null)), '');
  assert.throws(() => parseMariaGtidList('0-1'), GtidParseError);
  assert.throws(() => parseMariaGtidList('a-b-c'), /not a MariaDB GTID/);
});

test('MariaDB comparison is per domain seq_no, whoever wrote it', () => {
  const a = parseMariaGtidList('0-1-10');
  assert.equal(compare(a, parseMariaGtidList('0-1-10')), 'equal');
  assert.equal(compare(a, parseMariaGtidList('0-1-9')), 'ahead');
  assert.equal(compare(a, parseMariaGtidList('0-2-11')), 'behind'); // a new primary continues the domain's seq
  assert.equal(compare(a, parseMariaGtidList('')), 'ahead');
  assert.equal(compare(parseMariaGtidList('0-1-10,1-1-3'), parseMariaGtidList('0-1-11')), 'diverged');
  assert.equal(compare(parseMariaGtidList('0-1-10,1-1-3'), parseMariaGtidList('0-1-10')), 'ahead');
  assert.ok(contains(parseMariaGtidList('0-1-5,1-1-1'), parseMariaGtidList('1-1-1')));
  // seq_no beyond 2^53 stays exact
  assert.equal(compare(parseMariaGtidList('0-1-9007199254740993'), parseMariaGtidList('0-1-9007199254740992')), 'ahead');
});

test('MariaDB merge: slave_pos ∪ Gtid_IO_Pos is the furthest per domain', () => {
  const m = mergePositions(parseMariaGtidList('0-1-8,2-1-1'), parseMariaGtidList('0-1-10'));
  assert.equal(formatPosition(m), '0-1-10,2-1-1');
  assert.equal(transactionCount(m), 11n);
});

test('MySQL GTID sets: parse intervals, merge adjacent ones, subset comparison', () => {
  const s = parseMysqlGtidSet(`${U1.toUpperCase()}:1-5:7,\n${U1}:6, ${U2}:1-3`);
  assert.equal(formatPosition(s), `${U1}:1-7,${U2}:1-3`);
  assert.equal(transactionCount(s), 10n);
  assert.equal(compare(s, parseMysqlGtidSet(`${U1}:1-7,${U2}:1-3`)), 'equal');
  assert.equal(compare(s, parseMysqlGtidSet(`${U1}:1-6`)), 'ahead');
  assert.equal(compare(parseMysqlGtidSet(`${U1}:1-5`), s), 'behind');
  // a hole: 1-5:7 lacks 6
  assert.equal(contains(parseMysqlGtidSet(`${U1}:1-5:7`), parseMysqlGtidSet(`${U1}:6`)), false);
  assert.equal(compare(parseMysqlGtidSet(`${U1}:1-5`), parseMysqlGtidSet(`${U2}:1`)), 'diverged');
  assert.equal(formatPosition(mergePositions(parseMysqlGtidSet(`${U1}:1-3`), parseMysqlGtidSet(`${U1}:4-9`))), `${U1}:1-9`);
  assert.throws(() => parseMysqlGtidSet('nope:1'), GtidParseError);
  assert.throws(() => parseMysqlGtidSet(`${U1}:5-3`), /ends before it starts/);
  assert.throws(() => compare(parseMysqlGtidSet(''), parseMariaGtidList('')), GtidParseError);
});
