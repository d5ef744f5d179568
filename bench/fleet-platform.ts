/**
 * The platform under test of the fleet benchmark, in its own process so that its memory (peak RSS) and its
 * event loop are its own: the embedded platform (SQLite, in-process bus, our MQTT front door) on free ports.
 * Prints one JSON line {httpUrl, mqttPort, dataDir, pid} when it listens; stops when its stdin closes.
 */
import { startPlatform } from '@iip/server';
const debug = process.env.BENCH_FLEET_DEBUG ? await import('./fleet-platform-debug.js') : undefined;

const job = JSON.parse(process.argv[2] as string) as { dataDir: string; adminPassword: string };
const platform = await startPlatform({ dataDir: job.dataDir, httpPort: 0, mqttPort: 0, adminPassword: job.adminPassword, consoleDir: '/nonexistent', log: process.env.BENCH_FLEET_LOG ? (...a: unknown[]) => console.error(...a) : () => {} });
debug?.watch(platform);
console.log(JSON.stringify({ httpUrl: platform.httpUrl, mqttPort: platform.mqttPort, dataDir: job.dataDir, pid: process.pid }));
process.stdin.resume();
process.stdin.on('end', () => {
  void platform.close().then(() => process.exit(0));
});
