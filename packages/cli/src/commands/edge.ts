/** `iip edge --config gateway.yaml`: runs an edge gateway near the devices until Ctrl-C. */
import { createDriver } from '@iip/device-access';
import { EdgeGateway, gatewayOptionsFromFile, loadGatewayFile } from '@iip/edge-gateway';
import { UsageError, parse } from '../args.js';

export const edgeHelp = `iip edge — run an edge gateway / 运行边缘网关

  --config <file>   gateway.yaml (see packages/edge-gateway/gateway.example.yaml)
The gateway buffers every reading on disk before sending it, keeps collecting while the platform is
unreachable, and takes its channel configuration from the platform (PUT /api/v1/gateways/{id}/config).`;

export async function edge(argv: string[], out: (s: string) => void): Promise<void> {
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
