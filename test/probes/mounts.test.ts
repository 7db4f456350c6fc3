// Read-only means the filesystem's own flag, not the agent's view of the mount:
// vigil.service's ProtectSystem=strict shows every mount read-only to the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountInfo } from '../../src/probes/mounts.js';

test('mountinfo: a sandbox\'s read-only view of a writable filesystem is not read-only; a read-only filesystem is', () => {
  const [sandboxed, remounted, plain] = parseMountInfo([
    '617 600 8:1 / / ro,relatime master:1 - ext4 /dev/sda1 rw,errors=remount-ro',
    '618 617 0:52 / /srv ro,relatime - ext4 /dev/sdb1 ro,errors=remount-ro',
    '619 617 0:53 / /mnt/my\\040disk rw,relatime - tmpfs tmpfs rw,size=4096k',
  ].join('\n'));
  assert.deepEqual(sandboxed, { mountPoint: '/', readOnly: false, fsType: 'ext4' });
  assert.deepEqual(remounted, { mountPoint: '/srv', readOnly: true, fsType: 'ext4' });
  assert.deepEqual(plain, { mountPoint: '/mnt/my disk', readOnly: false, fsType: 'tmpfs' });
});
