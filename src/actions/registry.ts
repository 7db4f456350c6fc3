// Action type → definition. Adding an action type is one file and one line here.
// Actions that need a subsystem of the agent get it by composition here
// (mysql_promote: the agent's cluster memberships), not through ActionDeps.
import type { ActionDefinition } from './types.js';
import { systemdRestartAction } from './systemd-restart.js';
import { asgSetUnhealthyAction } from './asg-set-unhealthy.js';
import { execAction } from './exec.js';
import { mysqlPromoteAction } from '../failover/mysql-promote-action.js';
import type { FailoverClusters } from '../failover/clusters.js';

// Each definition is typed by its own fields; the registry only needs the
// common surface, hence the deliberate `any` for the field shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActionDefinition = ActionDefinition<any, any>;

export interface ActionServices {
  /** The agent's cluster memberships; none without `coordination:` (mysql_promote then refuses with VIGIL_E_NO_COORDINATION). */
  readonly failover?: () => FailoverClusters | undefined;
}

export function actionTypes(services: ActionServices = {}): readonly AnyActionDefinition[] {
  return [systemdRestartAction, asgSetUnhealthyAction, execAction, mysqlPromoteAction(services.failover ?? (() => undefined))];
}

/** For config checks (fields and validation only): no agent, no services. */
export const ACTION_TYPES: readonly AnyActionDefinition[] = actionTypes();
