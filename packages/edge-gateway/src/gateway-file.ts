/**
 * Reads `gateway.yaml`: how to reach the platform, where the buffer lives, its bounds and drain rate, and an
 * optional initial configuration (channels and rules) that runs until the platform pushes a newer one.
 * Every problem is an IipError naming the field, so `iip edge` can say exactly what to fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ChannelConfig, type EdgeRuleConfig, IipError, type VersionedGatewayConfig } from '@iip/core';
import { YAMLParseError, parse } from 'yaml';
import type { EdgeGatewayOptions } from './edge-gateway.js';

export interface GatewayFileConfig {
  readonly platform: { readonly mqttUrl: string; readonly tenant: string; readonly gatewayId: string; readonly secret: string };
  /** Absolute; a relative dataDir is taken relative to the file's directory. */
  readonly dataDir: string;
  readonly buffer: { readonly maxBytes: number; readonly maxAgeMs: number };
  readonly drain: { readonly maxPointsPerSec: number };
  readonly stateIntervalMs: number;
  readonly initialConfig?: VersionedGatewayConfig;
}

type Obj = Record<string, unknown>;

function invalid(field: string, message: string, file: string): never {
  throw new IipError('IIP_ERR_EDGE_CONFIG_INVALID', `${file}: ${field}: ${message}`, { field, path: file });
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A positive number, or a string with a unit ("512 MiB", "7d"). */
function quantity(v: unknown, units: Record<string, number>, field: string, file: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*$/.exec(v);
    const unit = m ? units[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined && Number(m[1]) > 0) return Number(m[1]) * unit;
  }
  return invalid(field, `must be a positive number or a string with one of the units ${Object.keys(units).join(', ')} (got ${JSON.stringify(v)})`, file);
}

function str(o: Obj, key: string, field: string, file: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '') invalid(field, 'is required and must be a non-empty string', file);
  return v;
}

function obj(v: unknown, field: string, file: string, required: boolean): Obj | undefined {
  if (v === undefined || v === null) return required ? invalid(field, 'is required', file) : undefined;
  if (typeof v !== 'object' || Array.isArray(v)) invalid(field, 'must be a mapping', file);
  return v as Obj;
}

function channels(v: unknown, file: string): ChannelConfig[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid('channels', 'must be a list', file);
  const ids = new Set<string>();
  return v.map((c, i) => {
    const o = obj(c, `channels[${i}]`, file, true)!;
    const id = str(o, 'id', `channels[${i}].id`, file);
    if (ids.has(id)) invalid(`channels[${i}].id`, `duplicate channel id "${id}"`, file);
    ids.add(id);
    if (!['modbus-tcp', 'modbus-rtu', 'opcua'].includes(String(o.protocol))) {
      invalid(`channels[${i}].protocol`, `must be modbus-tcp, modbus-rtu or opcua (got ${JSON.stringify(o.protocol)})`, file);
    }
    if (!Array.isArray(o.devices)) invalid(`channels[${i}].devices`, 'must be a list', file);
    for (const [j, d] of (o.devices as unknown[]).entries()) str(obj(d, `channels[${i}].devices[${j}]`, file, true)!, 'id', `channels[${i}].devices[${j}].id`, file);
    // Protocol details (addresses, types, node ids) are checked by the driver itself (IIP_ERR_DRIVER_CONFIG).
    return o as unknown as ChannelConfig;
  });
}

function rules(v: unknown, file: string): EdgeRuleConfig[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid('rules', 'must be a list', file);
  return v.map((r, i) => {
    const o = obj(r, `rules[${i}]`, file, true)!;
    for (const k of ['id', 'device', 'property']) str(o, k, `rules[${i}].${k}`, file);
    if (!['>', '>=', '<', '<='].includes(String(o.op))) invalid(`rules[${i}].op`, `must be one of > >= < <= (got ${JSON.stringify(o.op)})`, file);
    if (typeof o.threshold !== 'number' || !Number.isFinite(o.threshold)) invalid(`rules[${i}].threshold`, 'must be a number', file);
    if (!['info', 'warn', 'alert'].includes(String(o.severity))) invalid(`rules[${i}].severity`, 'must be info, warn or alert', file);
    return o as unknown as EdgeRuleConfig;
  });
}

/** Parses gateway.yaml text; `file` names the file in errors and anchors a relative dataDir. */
export function parseGatewayFile(text: string, file: string): GatewayFileConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const line = e instanceof YAMLParseError ? e.linePos?.[0]?.line : undefined;
    throw new IipError('IIP_ERR_EDGE_CONFIG_FILE', `${file}: not valid YAML: ${(e as Error).message}`, { path: file, line });
  }
  const root = obj(doc, '(top level)', file, true)!;
  const p = obj(root.platform, 'platform', file, true)!;
  const mqttUrl = str(p, 'mqttUrl', 'platform.mqttUrl', file);
  if (!/^(mqtts?|tcp|tls|wss?):\/\//.test(mqttUrl)) invalid('platform.mqttUrl', `must be an mqtt://, mqtts://, ws:// or wss:// URL (got "${mqttUrl}")`, file);
  const platform = {
    mqttUrl,
    tenant: str(p, 'tenant', 'platform.tenant', file),
    gatewayId: str(p, 'gatewayId', 'platform.gatewayId', file),
    secret: str(p, 'secret', 'platform.secret', file),
  };
  const dataDir = resolve(dirname(resolve(file)), str(root, 'dataDir', 'dataDir', file));
  const b = obj(root.buffer, 'buffer', file, false) ?? {};
  const d = obj(root.drain, 'drain', file, false) ?? {};
  const buffer = {
    maxBytes: b.maxBytes === undefined ? 512 * 1024 ** 2 : quantity(b.maxBytes, SIZE_UNITS, 'buffer.maxBytes', file),
    maxAgeMs: b.maxAge === undefined ? 7 * 86_400_000 : quantity(b.maxAge, TIME_UNITS, 'buffer.maxAge', file),
  };
  const rate = d.maxPointsPerSec;
  if (rate !== undefined && rate !== 'unlimited' && !(typeof rate === 'number' && Number.isFinite(rate) && rate > 0)) {
    invalid('drain.maxPointsPerSec', `must be a positive number or "unlimited" (got ${JSON.stringify(rate)})`, file);
  }
  const drain = { maxPointsPerSec: rate === undefined ? 100_000 : rate === 'unlimited' ? Number.POSITIVE_INFINITY : (rate as number) };
  const stateIntervalMs = root.stateInterval === undefined ? 10_000 : quantity(root.stateInterval, TIME_UNITS, 'stateInterval', file);
  const chs = channels(root.channels, file);
  const rs = rules(root.rules, file);
  let version = 0;
  if (root.configVersion !== undefined) {
    if (!Number.isInteger(root.configVersion) || (root.configVersion as number) < 0) invalid('configVersion', 'must be a whole number ≥ 0', file);
    version = root.configVersion as number;
  }
  const initialConfig = chs.length > 0 || rs.length > 0 ? { version, config: { channels: chs, rules: rs } } : undefined;
  return { platform, dataDir, buffer, drain, stateIntervalMs, ...(initialConfig ? { initialConfig } : {}) };
}

/** Reads and checks a gateway.yaml file. */
export function loadGatewayFile(path: string): GatewayFileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new IipError('IIP_ERR_EDGE_CONFIG_FILE', `cannot read the gateway configuration ${path}: ${(e as Error).message}`, { path });
  }
  return parseGatewayFile(text, path);
}

/** EdgeGateway options from a gateway file; the caller adds the driver factory (and a log). */
export function gatewayOptionsFromFile(f: GatewayFileConfig): Omit<EdgeGatewayOptions, 'driverFactory'> {
  return {
    platform: f.platform,
    dataDir: f.dataDir,
    buffer: f.buffer,
    drain: f.drain,
    stateIntervalMs: f.stateIntervalMs,
    ...(f.initialConfig ? { initialConfig: f.initialConfig } : {}),
  };
}
