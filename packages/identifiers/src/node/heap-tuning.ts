/**
 * V8 tuning for a process whose job is serving identifier resolution. A node holds its pre-rendered
 * answers (hundreds of MB for a million handles) in the old generation and allocates small short-lived
 * objects for every request. With V8's default 16 MiB semi-spaces, requests in flight at each scavenge get
 * promoted and the large old generation is then marked again and again; 32 MiB semi-spaces let them die
 * young. Measured with `npm run bench -- resolve` (docs/benchmarks.md): faster warm-up, a third less RSS
 * and steadier throughput. It is a process-wide setting, so the node's entry points (`iip id serve`, the
 * bench) apply it, not the library.
 */
import { setFlagsFromString } from 'node:v8';

export const RESOLUTION_SEMI_SPACE_MIB = 32;

/** Applies the tuning unless the operator chose a semi-space size already; returns what is in force. */
export function tuneHeapForResolution(): string {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].find((a) => a.startsWith('--max-semi-space-size'));
  if (given) return `${given} (as given)`;
  setFlagsFromString(`--max-semi-space-size=${RESOLUTION_SEMI_SPACE_MIB}`);
  return `--max-semi-space-size=${RESOLUTION_SEMI_SPACE_MIB}`;
}
