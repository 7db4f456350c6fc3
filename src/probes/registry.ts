// Probe type → definition. Adding a probe type is one file and one line here.
import type { ProbeDefinition } from './definition.js';
import { diskProbe } from './disk.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';

// Each definition is typed by its own fields; the registry only needs the
// common surface, hence the deliberate `any` for the field shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProbeDefinition = ProbeDefinition<any>;

export const PROBE_TYPES: readonly AnyProbeDefinition[] = [httpProbe, tcpProbe, diskProbe];
