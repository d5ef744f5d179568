/**
 * Binds an OPC UA channel's configuration to resolved node ids, checked once up front: duplicate devices
 * or properties, unparsable node ids and impossible deadbands fail with IIP_ERR_DRIVER_CONFIG naming the
 * offending element, instead of surfacing later as a bad status on one monitored item.
 */
import type { OpcUaChannelConfig, OpcUaPointConfig } from '@iip/core';
import { IipError } from '@iip/core';
// node-opcua's NodeId package alone: the platform validates channels without loading the whole client.
import { type NodeId, resolveNodeId } from 'node-opcua-nodeid';

export interface BoundOpcUaPoint {
  readonly device: string;
  readonly property: string;
  readonly nodeId: NodeId;
  readonly config: OpcUaPointConfig;
}

/** device id → property → point, in configuration order. */
export type OpcUaPointMap = ReadonlyMap<string, ReadonlyMap<string, BoundOpcUaPoint>>;

function configError(path: string, what: string, details: Record<string, unknown> = {}): IipError {
  return new IipError('IIP_ERR_DRIVER_CONFIG', `${path}: ${what}`, { path, ...details });
}

export function bindOpcUaPoints(channel: OpcUaChannelConfig): OpcUaPointMap {
  const devices = new Map<string, Map<string, BoundOpcUaPoint>>();
  channel.devices.forEach((d, i) => {
    const dpath = `channels[${channel.id}].devices[${i}]`;
    if (devices.has(d.id)) throw configError(dpath, `device "${d.id}" appears twice`);
    const points = new Map<string, BoundOpcUaPoint>();
    d.points.forEach((p, j) => {
      const path = `${dpath}.points[${j}]`;
      if (points.has(p.property)) throw configError(path, `property "${p.property}" is bound twice`);
      let nodeId: NodeId;
      try {
        nodeId = resolveNodeId(p.nodeId);
      } catch (e) {
        throw configError(path, `node id "${p.nodeId}" cannot be parsed (expected e.g. ns=2;s=Line1.Temperature)`, { cause: String(e) });
      }
      if (p.samplingIntervalMs !== undefined && !(p.samplingIntervalMs >= 0)) throw configError(path, 'samplingIntervalMs must be >= 0');
      if (p.valueAs !== undefined && p.valueAs !== 'number' && p.valueAs !== 'string') throw configError(path, 'valueAs must be "number" or "string"', { value: p.valueAs });
      if (p.field !== undefined && (typeof p.field !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(p.field))) {
        throw configError(path, 'field must be a dot path of field names, e.g. "low" or "limits.high"', { value: p.field as unknown });
      }
      if (p.deadband) {
        const { type, value } = p.deadband;
        if (!(value >= 0) || (type === 'percent' && value > 100)) throw configError(path, `a ${type} deadband must be in ${type === 'percent' ? '[0, 100]' : '[0, ∞)'}`);
      }
      points.set(p.property, { device: d.id, property: p.property, nodeId, config: p });
    });
    devices.set(d.id, points);
  });
  const cpath = `channels[${channel.id}]`;
  if (!['None', 'Sign', 'SignAndEncrypt'].includes(channel.securityMode)) {
    throw configError(`${cpath}.securityMode`, 'must be "None", "Sign" or "SignAndEncrypt"', { value: channel.securityMode as unknown });
  }
  if (channel.securityMode !== 'None' && channel.securityPolicy === 'None') {
    throw configError(`${cpath}.securityPolicy`, `securityMode ${channel.securityMode} needs a security policy other than None`);
  }
  if (channel.securityMode === 'None' && channel.securityPolicy !== undefined && channel.securityPolicy !== 'None') {
    throw configError(`${cpath}.securityPolicy`, `securityMode None uses no security policy; set securityMode Sign or SignAndEncrypt to use ${channel.securityPolicy}`);
  }
  checkIdentity(channel.identity, `${cpath}.identity`);
  return devices;
}

/** The shape of a channel's user identity; never echoes a password into the error. */
function checkIdentity(id: OpcUaChannelConfig['identity'], path: string): void {
  if (id === undefined) return;
  if (id === null || typeof id !== 'object') throw configError(path, 'must be an object with a "type"');
  const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
  switch (id.type) {
    case 'anonymous':
      return;
    case 'username':
      if (!nonEmpty(id.username)) throw configError(`${path}.username`, 'must be a non-empty string');
      if (id.password !== undefined && typeof id.password !== 'string') throw configError(`${path}.password`, 'must be a string');
      return;
    case 'certificate':
      if (!nonEmpty(id.certificateFile)) throw configError(`${path}.certificateFile`, "must name the user certificate's file on the gateway (PEM or DER)");
      if (!nonEmpty(id.privateKeyFile)) throw configError(`${path}.privateKeyFile`, "must name the user certificate's private key file on the gateway (PEM or PKCS#8 DER)");
      return;
    default:
      throw configError(`${path}.type`, 'must be "anonymous", "username" or "certificate"', { value: (id as { type?: unknown }).type });
  }
}
