/**
 * `npm run bench -- <name>`: runs one benchmark. Each prints its figure beside a baseline measured in the
 * same run, and ends with one summary line whose format the issue that asked for it fixes.
 */
const BENCHES: Record<string, () => Promise<unknown>> = {
  ingest: async () => (await import('./ingest.js')).main(),
  'storage-engines': async () => (await import('./storage-engines.js')).main?.(),
  modbus: async () => (await import('./modbus.js')).main(),
  'edge-drain': async () => (await import('./edge-drain.js')).main(),
  opcua: async () => (await import('./opcua.js')).main(),
  evaluation: async () => (await import('./evaluation.js')).main(),
  resolve: async () => (await import('./resolve.js')).main(),
  'handle-store': async () => (await import('./handle-store.js')).main(),
  'mqtt-front-door': async () => (await import('./mqtt-front-door.js')).main(),
  'scale-out': async () => (await import('./scale-out.js')).main(),
  authz: async () => (await import('./authz.js')).main(),
  rules: async () => (await import('./rules.js')).main(),
  fleet: async () => (await import('./fleet.js')).main(),
  'sqlite-writer': async () => (await import('./sqlite-writer.js')).main(),
};

const name = process.argv[2];
const run = name ? BENCHES[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>`);
  process.exit(2);
}
await run();
