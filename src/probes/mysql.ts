// MySQL/MariaDB connectivity probe: log in and run one query within the
// timeout, with connect and query time exported separately, so "the server
// is slow to accept" and "the server is slow to answer" look different.
import { z } from 'zod';
import { defineProbe } from './definition.js';
import { describeTarget, MysqlConnector, mysqlConnectionFields, mysqlTarget, normalizeMysqlConnection } from '../mysql/connection.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import type { ProbeOutcome } from './types.js';

export const mysqlProbe = defineProbe({
  type: 'mysql',
  fields: (ctx) => ({
    ...mysqlConnectionFields(ctx.env),
    query: z.string().min(1).default('SELECT 1'),
  }),
  normalize: (cfg, ctx) => normalizeMysqlConnection(cfg, ctx),
  create(cfg) {
    const connector = new MysqlConnector(mysqlTarget(cfg), cfg.keepalive);
    const who = describeTarget(connector.target);
    return {
      name: cfg.name,
      type: 'mysql',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, async (link) => (await link.query(cfg.query)).length);
        const observations = dbTimingObservations(res.timing);
        if (!res.ok) {
          const what = res.phase === 'connect' ? 'connect' : 'query';
          return fail(res.reason, `${what} ${who}: ${res.message}`, observations);
        }
        const ms = (s: number) => `${(s * 1000).toFixed(1)}ms`;
        const connect = res.timing.reused ? 'reused connection' : `connected in ${ms(res.timing.connectSeconds)}`;
        return { ok: true, observations,
          message: `${who}: ${connect}, query returned ${res.value} row${res.value === 1 ? '' : 's'} in ${ms(res.timing.querySeconds)}` };
      }),
      close: () => connector.close(),
    };
  },
});
