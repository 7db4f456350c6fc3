// Action type → definition. Adding an action type is one file and one line here.
import type { ActionDefinition } from './types.js';
import { systemdRestartAction } from './systemd-restart.js';
import { asgSetUnhealthyAction } from './asg-set-unhealthy.js';
import { execAction } from './exec.js';
import { mysqlPromoteAction } from './mysql-promote.js';

// Each definition is typed by its own fields; the registry only needs the
// common surface, hence the deliberate `any` for the field shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActionDefinition = ActionDefinition<any, any>;

export const ACTION_TYPES: readonly AnyActionDefinition[] = [systemdRestartAction, asgSetUnhealthyAction, execAction, mysqlPromoteAction];
