/**
 * `iip id`: run an identifier node (标识解析节点) and manage identifiers on one. `serve` starts a Handle node
 * (binary protocol on UDP/TCP, REST on HTTP); the management commands talk to a node's REST API with the
 * node administrator's HS_SECKEY identity; `resolve` asks a node directly or recursively from the top level.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve as resolvePath } from 'node:path';
import {
  type HandleAuth,
  HandleClient,
  type HandleValue,
  decodePrivateKeyFile,
  decodePublicKey,
  siteRecordToJson,
  type NodeRole,
  RecursiveResolver,
  basicAuthorization,
  startHandleNode,
  tuneHeapForResolution,
  valueToJson,
} from '@iip/identifiers';
import { UsageError, intOption, parse } from '../args.js';

export const idHelp = `iip id — identifier resolution (标识解析, Handle protocol)

  iip id serve --role <top-level|secondary|enterprise|mirror> --prefix <p> [--data <dir>] [--host <addr>]
               [--udp-port 2641] [--tcp-port 2641] [--http-port 8000] [--primary-url <url>]   (mirror)
               [--answer-cache 1000000]   pre-rendered answers kept per front end (≈ 550 B/handle for both; 0 = off)
      admin identity: 300:0.NA/<prefix>; secret from IIP_ID_SECRET or generated once into <data>/admin.secret
  iip id create <handle> [--url <url>] [--value <type>=<text> …] [--template <id> --item <name>=<text> …] [--overwrite]
  iip id resolve <handle> [--server <host:port>] | [--root <host:port> …]   (direct, or recursive from the top level)
                 direct with --secret or --private-key <key file> [--passphrase <p>]: authenticate as --admin
                 (HS_SECKEY or HS_PUBKEY) and also get values only administrators may read;
                 --server-key <pubkey.bin>: every reply must be signed with that key (certified resolution)
  iip id site [--server <host:port>]   the node's site info (HS_SITE) and its server public key
  iip id delete <handle>
  iip id list --prefix <p> [--page <n>] [--page-size <n>]
  iip id template create --file <template.json> | iip id template list
  iip id compact [--up-to <seq>]   compact the node's transaction log (newest change per handle; mirrors keep up)
Management connects to --node <url> (env IIP_ID_NODE, default http://localhost:8000) as --admin <index:handle>
(env IIP_ID_ADMIN, default 300:0.NA/<prefix of the handle>) with --secret (env IIP_ID_SECRET). Add --json for JSON.`;

/** A key file read and decoded, or a usage error naming the flag and what was wrong. */
function readKey<T>(file: string, flag: string, decode: (bytes: Uint8Array) => T): T {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return decode(bytes);
  } catch (e) {
    throw new UsageError(`${flag}: ${file} is not a Handle key file: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function hostPort(s: string, flag: string): { address: string; udpPort: number; tcpPort: number } {
  const m = /^(.+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`${flag}: "${s}" must be host:port`);
  const port = Number(m[2]);
  return { address: m[1] as string, udpPort: port, tcpPort: port };
}

function textValue(index: number, type: string, text: string): HandleValue {
  return {
    index,
    type,
    data: new TextEncoder().encode(text),
    ttlType: 'relative',
    ttl: 86_400,
    timestamp: Math.floor(Date.now() / 1000),
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
  };
}

function render(values: readonly HandleValue[]): string {
  const rows = values.map((v) => {
    const j = valueToJson(v) as { data: { format: string; value: unknown } };
    const shown = typeof j.data.value === 'string' ? j.data.value : JSON.stringify(j.data.value);
    return `  ${String(v.index).padStart(5)}  ${v.type.padEnd(16)}  ${shown}`;
  });
  return rows.join('\n');
}

interface NodeApi {
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

function nodeApi(url: string | undefined, admin: string | undefined, secret: string | undefined, handleForDefault?: string): NodeApi {
  const base = (url ?? process.env.IIP_ID_NODE ?? 'http://localhost:8000').replace(/\/+$/, '');
  const adminSpec = admin ?? process.env.IIP_ID_ADMIN ?? (handleForDefault ? `300:0.NA/${handleForDefault.split('/')[0]}` : undefined);
  const key = secret ?? process.env.IIP_ID_SECRET;
  let auth: string | undefined;
  if (adminSpec && key) {
    const m = /^(\d+):(.+)$/.exec(adminSpec);
    if (!m) throw new UsageError(`--admin: "${adminSpec}" must be <index>:<handle>, e.g. 300:0.NA/88.118`);
    auth = basicAuthorization({ handle: m[2] as string, index: Number(m[1]) }, key);
  }
  return {
    async call<T>(method: string, path: string, body?: unknown) {
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers: { ...(auth ? { authorization: auth } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new UsageError(`cannot reach the identifier node at ${base} (${(e as Error).message}); set --node or IIP_ID_NODE`);
      }
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
    },
  };
}

function loadOrCreateSecret(dataDir: string): { secret: string; created: boolean } {
  if (process.env.IIP_ID_SECRET) return { secret: process.env.IIP_ID_SECRET, created: false };
  const file = join(dataDir, 'admin.secret');
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), created: false };
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(file, `${secret}\n`);
  chmodSync(file, 0o600);
  return { secret, created: true };
}

async function serve(argv: string[], out: (s: string) => void): Promise<void> {
  const { values } = parse(argv, {
    role: { type: 'string' },
    prefix: { type: 'string' },
    data: { type: 'string' },
    host: { type: 'string' },
    'udp-port': { type: 'string' },
    'tcp-port': { type: 'string' },
    'http-port': { type: 'string' },
    'primary-url': { type: 'string' },
    'answer-cache': { type: 'string' },
  });
  if (values.help) return out(idHelp);
  const role = values.role as NodeRole | undefined;
  if (!role || !['top-level', 'secondary', 'enterprise', 'mirror'].includes(role)) throw new UsageError('--role must be top-level, secondary, enterprise or mirror');
  if (!values.prefix) throw new UsageError('--prefix is required (e.g. 88.118; a top-level node: 88)');
  const dataDir = resolvePath(values.data ?? join('data', 'id', values.prefix));
  // A dedicated node process: size V8's young generation for serving (see heap-tuning.ts).
  tuneHeapForResolution();
  const { secret, created } = loadOrCreateSecret(dataDir);
  const admin = { handle: `0.NA/${values.prefix}`, index: 300, secretKey: secret };
  const node = await startHandleNode({
    role,
    prefix: values.prefix,
    dataDir,
    host: values.host ?? '127.0.0.1',
    udpPort: intOption(values['udp-port'], '--udp-port', 2641),
    tcpPort: intOption(values['tcp-port'], '--tcp-port', 2641),
    httpPort: intOption(values['http-port'], '--http-port', 8000),
    admin,
    ...(values['primary-url'] ? { primaryUrl: values['primary-url'] } : {}),
    answerEntries: intOption(values['answer-cache'], '--answer-cache', 1_000_000),
    log: out,
  });
  out(`Identifier node / 标识解析节点: ${role} for prefix ${node.prefix}`);
  out(`  Handle protocol: udp ${node.udpPort}, tcp ${node.tcpPort}   REST: http://${values.host ?? '127.0.0.1'}:${node.httpPort}/api/handles`);
  out(`  admin / 管理员: 300:${admin.handle}`);
  out(`  server key / 服务器公钥: ${join(dataDir, 'pubkey.bin')} (certified replies verify with it; also in the site info)`);
  if (created) out(`  admin secret / 管理员密钥 (stored in ${join(dataDir, 'admin.secret')}, mode 0600): ${secret}`);
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  out('Stopping / 正在停止 …');
  await node.close();
}

export async function id(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') return out(idHelp);
  if (sub === 'serve') return serve(rest, out);
  if (sub === 'template') return template(rest, out);
  const { values, positionals } = parse(rest, {
    node: { type: 'string' },
    admin: { type: 'string' },
    secret: { type: 'string' },
    url: { type: 'string' },
    value: { type: 'string', multiple: true },
    template: { type: 'string' },
    item: { type: 'string', multiple: true },
    overwrite: { type: 'boolean' },
    server: { type: 'string' },
    root: { type: 'string', multiple: true },
    prefix: { type: 'string' },
    page: { type: 'string' },
    'page-size': { type: 'string' },
    'up-to': { type: 'string' },
    'private-key': { type: 'string' },
    passphrase: { type: 'string' },
    'server-key': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return out(idHelp);
  const handle = positionals[0];
  const api = () => nodeApi(values.node, values.admin, values.secret, handle ?? (values.prefix ? `${values.prefix}/x` : undefined));
  const fail = (status: number, body: { responseCode?: number; message?: string; code?: string }) => {
    throw new UsageError(`${body.code ?? 'IIP_ERR_INTERNAL'} (responseCode ${body.responseCode ?? '?'}, HTTP ${status}): ${body.message ?? ''}`);
  };
  switch (sub) {
    case 'create': {
      if (!handle) throw new UsageError('iip id create <handle>');
      const list: HandleValue[] = [];
      let index = 1;
      if (values.url) list.push(textValue(index++, 'URL', values.url));
      for (const v of values.value ?? []) {
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError(`--value "${v}" must be <type>=<text>`);
        list.push(textValue(index++, v.slice(0, eq), v.slice(eq + 1)));
      }
      if (values.template) {
        const items: Record<string, string> = {};
        for (const it of values.item ?? []) {
          const eq = it.indexOf('=');
          if (eq <= 0) throw new UsageError(`--item "${it}" must be <name>=<text>`);
          items[it.slice(0, eq)] = it.slice(eq + 1);
        }
        const r = await api().call<{ results?: Array<{ ok: boolean; handle?: string; message?: string; code?: string }> }>('POST', '/api/handles/batch', {
          template: values.template,
          items: [{ handle, values: items }],
        });
        if (r.status >= 400) fail(r.status, r.body as { message?: string });
        if (values.json) return out(JSON.stringify(r.body, null, 2));
        const first = r.body.results?.[0];
        if (!first?.ok) throw new UsageError(`${first?.code ?? 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION'}: ${first?.message ?? 'refused'}`);
        return out(`Created / 已注册 ${handle} (template ${values.template})`);
      }
      if (list.length === 0) throw new UsageError('give at least --url or --value <type>=<text>');
      const q = values.overwrite ? '' : '?overwrite=false';
      const r = await api().call<{ handle?: string }>('PUT', `/api/handles/${encodeURI(handle)}${q}`, { values: list.map((v) => valueToJson(v)) });
      if (r.status >= 400) fail(r.status, r.body as { message?: string });
      return out(values.json ? JSON.stringify(r.body, null, 2) : `Created / 已注册 ${r.body.handle ?? handle}`);
    }
    case 'resolve': {
      if (!handle) throw new UsageError('iip id resolve <handle>');
      let result: HandleValue[];
      if (values.root && values.root.length > 0) {
        const resolver = new RecursiveResolver({ roots: values.root.map((r) => hostPort(r, '--root')) });
        try {
          result = await resolver.resolve(handle);
        } finally {
          resolver.close();
        }
      } else {
        const client = new HandleClient(values['server-key'] ? { certify: { publicKey: readKey(values['server-key'], '--server-key', decodePublicKey) } } : {});
        // An explicit --secret or --private-key asks for an authenticated resolution (restricted values too).
        let auth: HandleAuth | undefined;
        if (values.secret !== undefined || values['private-key'] !== undefined) {
          const spec = values.admin ?? `300:0.NA/${handle.split('/')[0]}`;
          const m = /^(\d+):(.+)$/.exec(spec);
          if (!m) throw new UsageError(`--admin: "${spec}" must be <index>:<handle>, e.g. 300:0.NA/88.118`);
          const identity = { handle: m[2] as string, index: Number(m[1]) };
          const file = values['private-key'];
          auth = file !== undefined ? { identity, privateKey: readKey(file, '--private-key', (b) => decodePrivateKeyFile(b, values.passphrase)) } : { identity, secretKey: new TextEncoder().encode(values.secret) };
        }
        try {
          result = (await client.resolve(hostPort(values.server ?? 'localhost:2641', '--server'), handle, {}, auth)).values;
        } finally {
          client.close();
        }
      }
      if (values.json) return out(JSON.stringify({ handle, values: result.map((v) => valueToJson(v)) }, null, 2));
      return out(`${handle}\n${render(result)}`);
    }
    case 'site': {
      const client = new HandleClient();
      try {
        const site = await client.getSiteInfo(hostPort(values.server ?? 'localhost:2641', '--server'));
        if (values.json) return out(JSON.stringify(siteRecordToJson(site), null, 2));
        out(`site serial ${site.serialNumber}, protocol ${site.protocolMajor}.${site.protocolMinor}${site.primary ? ', primary' : ''}${site.multiPrimary ? ', multi-primary' : ''}`);
        for (const srv of site.servers) {
          out(`  server ${srv.serverId} ${srv.address}: ${srv.interfaces.map((i) => `${['udp', 'tcp', 'http', 'https'][i.protocol] ?? i.protocol}/${i.port}`).join(' ')}`);
          out(`    public key / 公钥: ${srv.publicKey.length > 0 ? Buffer.from(srv.publicKey).toString('base64') : '(none)'}`);
        }
        return;
      } finally {
        client.close();
      }
    }
    case 'delete': {
      if (!handle) throw new UsageError('iip id delete <handle>');
      const r = await api().call('DELETE', `/api/handles/${encodeURI(handle)}`);
      if (r.status >= 400) fail(r.status, r.body as { message?: string });
      return out(`Deleted / 已删除 ${handle}`);
    }
    case 'list': {
      if (!values.prefix) throw new UsageError('iip id list --prefix <prefix>');
      const q = new URLSearchParams({ prefix: values.prefix, page: String(intOption(values.page, '--page', 0)), pageSize: String(intOption(values['page-size'], '--page-size', 100, 1)) });
      const r = await api().call<{ handles?: string[]; totalCount?: number }>('GET', `/api/handles?${q}`);
      if (r.status >= 400) fail(r.status, r.body as { message?: string });
      if (values.json) return out(JSON.stringify(r.body, null, 2));
      out((r.body.handles ?? []).join('\n'));
      return out(`${r.body.handles?.length ?? 0} of ${r.body.totalCount ?? '?'} handles / 共 ${r.body.totalCount ?? '?'} 个标识`);
    }
    case 'compact': {
      const q = values['up-to'] === undefined ? '' : `?upTo=${intOption(values['up-to'], '--up-to', 0)}`;
      const r = await api().call<{ removed?: number; stripped?: number; remaining?: number; seconds?: number }>('POST', `/api/replication/compact${q}`);
      if (r.status >= 400) fail(r.status, r.body as { message?: string });
      if (values.json) return out(JSON.stringify(r.body, null, 2));
      return out(
        `Transaction log compacted / 事务日志已压缩: ${r.body.removed ?? 0} superseded changes removed, ${r.body.stripped ?? 0} record copies dropped, ${r.body.remaining ?? 0} changes kept (${r.body.seconds ?? 0} s)`,
      );
    }
    default:
      throw new UsageError(`unknown subcommand "iip id ${sub}"`);
  }
}

async function template(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { node: { type: 'string' }, admin: { type: 'string' }, secret: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean' } });
  const api = nodeApi(values.node, values.admin, values.secret);
  if (sub === 'create') {
    if (!values.file) throw new UsageError('iip id template create --file <template.json>');
    const r = await api.call<{ id?: string; message?: string; code?: string }>('POST', '/api/templates', JSON.parse(readFileSync(values.file, 'utf8')));
    if (r.status >= 400) throw new UsageError(`${r.body.code ?? 'IIP_ERR_INTERNAL'}: ${r.body.message ?? `HTTP ${r.status}`}`);
    return out(values.json ? JSON.stringify(r.body, null, 2) : `Template created / 模板已创建: ${r.body.id ?? ''}`);
  }
  if (sub === 'list') {
    const r = await api.call<{ templates?: Array<{ id: string; name: string; industry?: string; items?: unknown[] }> }>('GET', '/api/templates');
    if (values.json) return out(JSON.stringify(r.body, null, 2));
    for (const t of r.body.templates ?? []) out(`${t.id.padEnd(20)} ${t.name} ${t.industry ?? ''} (${t.items?.length ?? 0} items)`);
    return;
  }
  throw new UsageError('iip id template create|list');
}
