/**
 * `iip up`: runs the platform until Ctrl-C — embedded by default (one process, SQLite, the simulated factory),
 * or as one process of a scaled-out platform (`--storage postgres://… --bus nats://… --role …`).
 */
import { resolve } from 'node:path';
import { oidcOptionsFromEnv, type PlatformRole, startPlatform } from '@iip/server';
import { intOption, parse, portOption } from '../args.js';
import { type EdgeDemo, startEdgeDemo } from '../edge-demo.js';

export const upHelp = `iip up — start the platform / 启动平台 (embedded by default / 默认嵌入式模式)

  --port <n>         HTTP port (env IIP_HTTP_PORT, default 8080; 0 = any free port)
  --mqtt-port <n>    MQTT port (env IIP_MQTT_PORT, default 11883; 0 = any free port)
  --host <addr>      interface to listen on (env IIP_HOST, default 127.0.0.1; 0.0.0.0 for devices on the network)
  --data <dir>       data directory (env IIP_DATA_DIR, default ./data)
  --simulate <n>     run a virtual factory of n devices (default 24; 0 = none)
  --interval <ms>    simulator publish interval per device (default 1000)
  --no-edge          do not start the edge demo (simulated Modbus PLCs + OPC UA server + edge gateway)
  --id-prefix <p>    identifier prefix the platform homes (env IIP_ID_PREFIX; default 88.888.1, a demo prefix —
                     use the enterprise prefix your secondary node assigned); products/devices get <p>/<id>

Scale-out / 集群部署 (docs/scale-out.md):
  --storage <url>    postgres://user@host:port/db (env IIP_STORAGE_URL; default: the SQLite file <data>/iip.db)
  --bus <url>        nats://host:port (env IIP_BUS_URL; default: in-process); needs --storage postgres://…
  --role <roles>     front-door, worker or front-door,worker (env IIP_ROLE; default: both). A front door takes
                     devices in (MQTT, HTTP ingest) and serves the API and console; a worker stores telemetry
                     (historian) and runs retention. With --bus the simulator, the edge demo and the identifier
                     node are off unless asked for (--simulate n, --id-prefix p).
The first admin password comes from IIP_ADMIN_PASSWORD or is generated and printed once.
Single sign-on / 单点登录 (OpenID Connect, docs/reference/oidc-sign-in.md): set IIP_OIDC_ISSUER and IIP_OIDC_CLIENT_ID
(optional: IIP_OIDC_CLIENT_SECRET, IIP_OIDC_REDIRECT_URL, IIP_OIDC_TENANT_CLAIM, IIP_OIDC_ROLES_CLAIM, IIP_OIDC_SCOPES,
IIP_OIDC_LABEL) / 设置这些环境变量即可通过 OIDC 身份提供方登录。`;

export async function up(argv: string[], out: (s: string) => void): Promise<void> {
  const { values } = parse(argv, {
    port: { type: 'string' },
    'mqtt-port': { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    simulate: { type: 'string' },
    interval: { type: 'string' },
    'no-edge': { type: 'boolean' },
    'id-prefix': { type: 'string' },
    storage: { type: 'string' },
    bus: { type: 'string' },
    role: { type: 'string' },
  });
  if (values.help) return out(upHelp);
  const httpPort = portOption(values.port, 'IIP_HTTP_PORT', 8080, '--port');
  const mqttPort = portOption(values['mqtt-port'], 'IIP_MQTT_PORT', 11883, '--mqtt-port');
  // An empty flag or variable means "not set", as resolveTopology reads it.
  const storage = values.storage || process.env.IIP_STORAGE_URL || undefined;
  const bus = values.bus || process.env.IIP_BUS_URL || undefined;
  const roleText = values.role || process.env.IIP_ROLE || undefined;
  const roles = roleText ? (roleText.split(',').map((r) => r.trim()) as PlatformRole[]) : undefined;
  const scaledOut = bus !== undefined;
  // One process of several: nothing demo-like unless asked for (every process would start its own factory).
  const devices = intOption(values.simulate, '--simulate', scaledOut ? 0 : 24);
  const idPrefix = values['id-prefix'] ?? process.env.IIP_ID_PREFIX ?? (scaledOut ? undefined : '88.888.1');
  const dataDir = resolve(values.data ?? process.env.IIP_DATA_DIR ?? 'data');
  const oidc = oidcOptionsFromEnv(process.env);
  out(`Starting iip / 正在启动 iip … (data: ${dataDir}${storage ? `, storage: ${storage.replace(/\/\/[^@/]*@/, '//…@')}` : ''}${bus ? `, bus: ${bus}` : ''}${roles ? `, roles: ${roles.join(',')}` : ''})`);
  const platform = await startPlatform({
    dataDir,
    httpPort,
    mqttPort,
    ...(storage ? { storage } : {}),
    ...(bus ? { bus } : {}),
    ...(roles ? { roles } : {}),
    host: values.host ?? process.env.IIP_HOST ?? '127.0.0.1',
    adminPassword: process.env.IIP_ADMIN_PASSWORD || undefined,
    simulate: devices > 0 ? { devices, intervalMs: intOption(values.interval, '--interval', 1000, 10) } : undefined,
    httpLog: true,
    ...(oidc ? { oidc } : {}),
    ...(idPrefix ? { identifiers: { prefix: idPrefix, ...(process.env.IIP_ID_SECRET ? { secret: process.env.IIP_ID_SECRET } : {}) } } : {}),
    log: (line) => out(line),
  });
  if (platform.initialAdmin) {
    out('');
    out('  First start: an administrator was created / 首次启动，已创建管理员:');
    out(`    username / 用户名: ${platform.initialAdmin.username}`);
    out(`    password / 密码:   ${platform.initialAdmin.password}`);
    out('  This password is shown only once; keep it safe / 此密码只显示一次，请妥善保存。');
    out('');
  }
  if (devices > 0) out(`Simulator / 模拟工厂: ${devices} devices publishing / 台设备正在上报`);
  let edgeDemo: EdgeDemo | undefined;
  if (devices > 0 && !values['no-edge']) {
    try {
      edgeDemo = await startEdgeDemo(platform, dataDir, out);
    } catch (e) {
      // The platform itself is fine; say what failed and keep serving.
      out(`edge demo failed to start / 边缘演示启动失败: ${(e as Error).message}`);
    }
  }
  // Loopback and wildcard listeners are reachable as localhost from this machine's browser.
  const local = (url: string) => url.replace(/\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):/, '//localhost:');
  out(`Console: ${local(platform.httpUrl)}   (控制台)`);
  out(`API docs: ${local(platform.httpUrl)}/docs`);
  if (platform.mqttUrl) out(`MQTT: ${local(platform.mqttUrl)}`);
  if (platform.roles.size < 2) out(`Role / 角色: ${[...platform.roles].join(', ')}`);
  out('Press Ctrl-C to stop / 按 Ctrl-C 停止');

  await new Promise<void>((resolveStop) => {
    let stoppingSince = 0;
    const stop = (sig: string) => {
      if (stoppingSince) {
        // The same Ctrl-C often arrives twice (terminal and npm both deliver it): only a later one forces.
        if (Date.now() - stoppingSince < 2000) return;
        out('Forced exit / 强制退出');
        process.exit(130);
      }
      stoppingSince = Date.now();
      out(`\n${sig}: stopping, flushing data / 正在停止并写入数据 …`);
      (edgeDemo ? edgeDemo.stop().catch((e: unknown) => out(`edge demo: ${(e as Error).message}`)) : Promise.resolve())
        .then(() => platform.close())
        .then(() => {
          out('Stopped cleanly / 已安全停止');
          resolveStop();
        })
        .catch((e: unknown) => {
          out(`error while stopping: ${(e as Error).message}`);
          resolveStop();
        });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
