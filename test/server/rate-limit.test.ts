// rate_limit's token bucket, as Go's rate.Limiter(rate.Every(interval), burst)
// that exporter-toolkit uses: full at start, one token back per interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/server/rate-limit.js';

test('burst at once, then one per interval, never more than burst saved up', () => {
  const b = new TokenBucket(1000, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.take(999), false);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(1000), false);
  assert.deepEqual([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)], [true, true, true, false], 'a minute idle saves up only the burst');
});
