// How far V8 lets the old generation grow past what survived the last full
// collection. Its default lets it reach several times the live heap; a probe
// agent's live heap is small and steady, so that slack was most of its
// resident memory (1000 http probes: peak RSS 172 -> 142 MiB at 1.5x, with
// no measurable CPU cost: full collections stay rare and take ~10-40 ms).
//
// Set at run time rather than as a command-line flag: V8 reads this one at
// every full collection, and a runtime flag that a later V8 drops is
// ignored, where an unknown command-line flag would stop node from starting.
// An operator's own --heap-growing-percent on the command line wins.
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function tuneHeap(execArgv: readonly string[]): void {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
