// Builds an action exactly as the agent does: from vigil.yaml text through the
// real schema (defaults, normalisation, settings) and the registry's factory.
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import type { Action, ActionContext } from '../../src/actions/types.js';

export function actionFromYaml(action: string, env: NodeJS.ProcessEnv = process.env, top = ''): Action {
  const text = `probes:
  - name: api
    type: tcp
    address: 127.0.0.1:1
${top}
remediations:
  - name: rule
    when: { probe: api }
    action: ${action}
`;
  const r = parseConfigText(text, Agent.loadOptions(env));
  if (!r.ok) throw new Error(`config refused: ${JSON.stringify(r.problems)}`);
  const { definition, ...fields } = r.config.remediations[0].action;
  return definition.create(fields, { logger: pino({ level: 'silent' }), env }, r.config.actions[definition.type] ?? {});
}

export function ctx(over: Partial<ActionContext> = {}): ActionContext {
  return {
    rule: 'rule', probe: 'api', reason: 'connect_refused', message: 'connect to 127.0.0.1:1: refused', intentId: 'intent-1',
    dryRun: false, forced: false, signal: new AbortController().signal, logger: pino({ level: 'silent' }), ...over,
  };
}
