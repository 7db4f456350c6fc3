// Builds a real probe from a YAML snippet through the real schema, and runs it
// once the way the scheduler does (timeout through an AbortSignal).
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import type { ProbeConfig } from '../../src/config/schema.js';
import type { SecureContexts } from '../../src/probes/secure-contexts.js';
import { SingleFlight } from '../../src/probes/single-flight.js';
import { ProbeRunner } from '../../src/scheduler/probe-runner.js';
import type { Probe, ProbeResult } from '../../src/probes/types.js';

export interface TestProbe {
  readonly cfg: ProbeConfig;
  readonly probe: Probe;
  readonly singleFlight: SingleFlight;
  /** One run with the probe's timeout, as the scheduler would run it. */
  run(): Promise<ProbeResult>;
  close(): Promise<void>;
}

/** `fields` is one probe's YAML mapping (without the leading "- "), e.g. {type: http, url: ...}. */
export function buildProbe(fields: Record<string, unknown>, opts: { singleFlight?: SingleFlight; env?: NodeJS.ProcessEnv; secureContexts?: SecureContexts } = {}): TestProbe {
  const yaml = `probes:\n  - ${JSON.stringify({ name: 'under-test', ...fields })}\n`;
  const loaded = parseConfigText(yaml, Agent.loadOptions(opts.env ?? {}));
  if (!loaded.ok) throw new Error(`bad test probe: ${JSON.stringify(loaded.problems)}`);
  const cfg = loaded.config.probes[0];
  const singleFlight = opts.singleFlight ?? new SingleFlight();
  const probe = cfg.definition.create(cfg, { logger: pino({ level: 'silent' }), singleFlight, secureContexts: opts.secureContexts });
  const noop = { onResult: () => undefined, onSkip: () => undefined, onLateness: () => undefined };
  return {
    cfg, probe, singleFlight,
    run: () => new ProbeRunner(probe, cfg, noop).runOnce(),
    close: async () => { await probe.close?.(); },
  };
}

export function observation(r: ProbeResult, name: string, labels?: Record<string, string>): number | undefined {
  return r.observations.find((o) => o.name === name && (!labels || JSON.stringify(o.labels ?? {}) === JSON.stringify(labels)))?.value;
}
