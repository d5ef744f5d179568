/**
 * `iip edge --config gateway.yaml`: runs an edge gateway near the devices until Ctrl-C.
 * `iip edge dead-letter list|retry --config gateway.yaml`: shows the rows the platform refused, or marks them
 * to be sent again (the running gateway, or the next start, moves them back into its buffer).
 */
import { join } from 'node:path';
import { createDriver } from '@iip/device-access';
import { BUFFER_FILE, DiskBuffer, EdgeGateway, gatewayOptionsFromFile, loadGatewayFile } from '@iip/edge-gateway';
import { UsageError, intOption, parse } from '../args.js';

export const edgeHelp = `iip edge — run an edge gateway / 运行边缘网关

  --config <file>   gateway.yaml (see packages/edge-gateway/gateway.example.yaml)
The gateway buffers every reading on disk before sending it, keeps collecting while the platform is
unreachable, and takes its channel configuration from the platform (PUT /api/v1/gateways/{id}/config).

iip edge dead-letter list  --config <file> [--limit n]   rows the platform refused, with its reason / 被平台拒收的数据
iip edge dead-letter retry --config <file> [--id n]      send them (or one) again / 重新发送
  Safe while the gateway runs: retry only marks the rows; the gateway moves them back within a state interval.`;

/** `iip edge dead-letter list|retry`: works on the buffer file named by gateway.yaml's dataDir. */
function deadLetter(argv: string[], out: (s: string) => void): void {
  const { values, positionals } = parse(argv, { config: { type: 'string' }, limit: { type: 'string' }, id: { type: 'string' } });
  const action = positionals[0];
  if (values.help || !action) {
    out(edgeHelp);
    return;
  }
  if (!values.config) throw new UsageError('iip edge dead-letter needs --config <gateway.yaml>');
  if (action !== 'list' && action !== 'retry') throw new UsageError(`iip edge dead-letter: unknown action "${action}" (list or retry)`);
  const file = loadGatewayFile(values.config);
  const buffer = new DiskBuffer({ path: join(file.dataDir, BUFFER_FILE), maxBytes: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY });
  try {
    const s = buffer.deadLetterStats();
    if (action === 'retry') {
      const n = buffer.requestRetry(values.id === undefined ? undefined : [intOption(values.id, '--id', 0, 1)]);
      out(`${n} dead-letter row(s) marked to be sent again / 已标记重发 ${n} 行`);
      return;
    }
    out(`dead letter: ${s.rows} rows, ${s.points} points; ${s.total} points ever refused, ${s.dropped} dropped by the bound / 死信 ${s.rows} 行`);
    for (const r of buffer.listDeadLetter(0, intOption(values.limit, '--limit', 100, 1))) {
      out(
        `#${r.id} ${new Date(r.rejectedAt).toISOString()} ${r.kind} ${r.device} ts=${r.ts} points=${r.points}${r.retry ? ' (retry pending)' : ''}\n    ${r.code}: ${r.message}\n    ${r.body}`,
      );
    }
  } finally {
    buffer.close();
  }
}

export async function edge(argv: string[], out: (s: string) => void): Promise<void> {
  if (argv[0] === 'dead-letter') return deadLetter(argv.slice(1), out);
  const { values } = parse(argv, { config: { type: 'string' } });
  if (values.help) return out(edgeHelp);
  if (!values.config) throw new UsageError('iip edge needs --config <gateway.yaml>');
  const file = loadGatewayFile(values.config);
  const gw = new EdgeGateway({
    ...gatewayOptionsFromFile(file),
    driverFactory: (ch) => createDriver(ch, { log: (level, msg, fields) => out(`[${ch.id}] ${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`) }),
    log: (level, msg, fields) => {
      if (level !== 'debug') out(`${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
    },
  });
  await gw.start();
  out('Edge gateway running / 边缘网关运行中 (Ctrl-C to stop)');
  const tick = setInterval(() => {
    const s = gw.stats();
    out(`  uplink ${s.uplink.connected ? 'up / 在线' : 'down / 离线'}, buffered ${s.buffer.points} points, sent ${s.uplink.sentPoints}, config v${s.appliedVersion ?? '-'}`);
  }, 10_000);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(tick);
  out('Stopping; buffered data stays on disk / 正在停止，缓存数据保留在磁盘');
  await gw.stop();
}
