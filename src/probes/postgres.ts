// PostgreSQL connectivity probe: log in and run one query within the timeout,
// connect and query time exported separately; the same reasons as the mysql
// probe for the same causes. How vigil talks to PostgreSQL (abort, byte
// budget, password refusals, TLS) lives in src/postgres/connection.ts.
import { z } from 'zod';
import { defineProbe } from './definition.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import {
  describeTarget, normalizePostgresConnection, PostgresConnector, postgresConnectionFields, postgresTarget,
} from '../postgres/connection.js';
import type { ProbeOutcome } from './types.js';

const ms = (s: number) => `${(s * 1000).toFixed(1)}ms`;

export const postgresProbe = defineProbe({
  type: 'postgres',
  fields: (ctx) => ({
    ...postgresConnectionFields(ctx.env),
    query: z.string().min(1).default('SELECT 1'),
  }),
  normalize: (cfg, ctx) => normalizePostgresConnection(cfg, ctx),
  create(cfg) {
    const connector = new PostgresConnector(postgresTarget(cfg), cfg.keepalive);
    const who = describeTarget(connector.target);
    return {
      name: cfg.name,
      type: 'postgres',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, async (link) => (await link.query(cfg.query)).rowCount);
        const observations = dbTimingObservations(res.timing);
        if (!res.ok) return fail(res.reason, `${res.phase} ${who}: ${res.message}`, observations);
        const rows = res.value;
        const connect = res.timing.reused ? 'reused connection' : `connected in ${ms(res.timing.connectSeconds)}`;
        return { ok: true, observations,
          message: `${who}: ${connect}, query returned ${rows} row${rows === 1 ? '' : 's'} in ${ms(res.timing.querySeconds)}` };
      }),
      close: () => connector.close(),
    };
  },
});
