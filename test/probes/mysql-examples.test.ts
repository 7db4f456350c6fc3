// examples/vigil-replica.yaml and examples/vigil-primary.yaml are valid and
// work: the users are created with exactly the grants their comments give,
// the files are pointed at a real primary + replica (address, secret file,
// datadir), and every probe in them passes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import { SingleFlight } from '../../src/probes/single-flight.js';
import type { Probe } from '../../src/probes/types.js';
import { startMariaTopology, type MariaNode, type MariaTopology } from '../harness/mariadb.js';

const example = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'examples', name), 'utf8');

/** The `#   CREATE USER …;` / `#   GRANT …;` lines of an example's header comment. */
function documentedGrants(text: string): string[] {
  return text.split('\n').map((l) => /^#\s+((?:CREATE USER|GRANT) .*;)$/.exec(l)?.[1]).filter((s): s is string => s !== undefined);
}

describe('examples/vigil-replica.yaml and vigil-primary.yaml (real MariaDB)', () => {
  let topo: MariaTopology;
  let dir: string;

  before(async () => {
    topo = await startMariaTopology({ replicas: 1 });
    dir = await mkdtemp(join(tmpdir(), 'vigil-examples-'));
  });
  after(async () => {
    await topo?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function runExample(file: string, node: MariaNode, datadir: string): Promise<Record<string, string>> {
    let text = example(file);
    const grants = documentedGrants(text);
    assert.ok(grants.length >= 2, `${file} documents its user and grants`);
    for (const g of grants) await topo.primary.query(g.replace("'...'", "'example-pw'"));
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    for (const secretPath of new Set(text.match(/\/etc\/vigil\/[a-z-]+password/g) ?? [])) {
      const local = join(dir, secretPath.split('/').pop()!);
      await writeFile(local, 'example-pw\n', { mode: 0o600 });
      text = text.replaceAll(secretPath, local);
    }
    text = text.replaceAll('127.0.0.1:3306', `127.0.0.1:${node.port}`).replaceAll('/var/lib/mysql', datadir);
    const loaded = parseConfigText(text, Agent.loadOptions({}));
    assert.ok(loaded.ok, `${file}: ${JSON.stringify(!loaded.ok && loaded.problems)}`);
    const results: Record<string, string> = {};
    for (const cfg of loaded.config.probes) {
      const probe: Probe = cfg.definition.create(cfg, { logger: pino({ level: 'silent' }), singleFlight: new SingleFlight() });
      const r = await probe.run(AbortSignal.timeout(cfg.timeoutMs));
      await probe.close?.();
      assert.equal(r.ok, true, `${file} probe ${cfg.name}: ${r.reason} ${r.message}`);
      results[`${cfg.name} (${cfg.type})`] = r.message ?? '';
    }
    return results;
  }

  it('the primary example writes the heartbeat with the documented grants', async () => {
    const results = await runExample('vigil-primary.yaml', topo.primary, join(topo.dir, 'primary', 'data'));
    assert.deepEqual(Object.keys(results), ['mysql (mysql)', 'heartbeat (mysql_heartbeat)', 'datadir-disk (disk)']);
    assert.match(results['heartbeat (mysql_heartbeat)'], /created vigil\.heartbeat and inserted/);
  });

  it('the replica example reads replication and heartbeat lag with the documented grants', async () => {
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    const results = await runExample('vigil-replica.yaml', topo.replicas[0], join(topo.dir, 'replica1', 'data'));
    assert.deepEqual(Object.keys(results), ['mysql (mysql)', 'replication (mysql_replication)', 'datadir-disk (disk)']);
    assert.match(results['replication (mysql_replication)'], /default: IO and SQL threads running, lag [\d.]+s \(heartbeat\)/);
  });
});
