/**
 * Binds an OPC UA channel's configuration to resolved node ids, checked once up front: duplicate devices
 * or properties, unparsable node ids and impossible deadbands fail with IIP_ERR_DRIVER_CONFIG naming the
 * offending element, instead of surfacing later as a bad status on one monitored item.
 */
import type { OpcUaChannelConfig, OpcUaPointConfig } from '@iip/core';
import { IipError } from '@iip/core';
import { type NodeId, resolveNodeId } from 'node-opcua';

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
      if (p.deadband) {
        const { type, value } = p.deadband;
        if (!(value >= 0) || (type === 'percent' && value > 100)) throw configError(path, `a ${type} deadband must be in ${type === 'percent' ? '[0, 100]' : '[0, ∞)'}`);
      }
      points.set(p.property, { device: d.id, property: p.property, nodeId, config: p });
    });
    devices.set(d.id, points);
  });
  if (channel.securityMode === 'SignAndEncrypt' && channel.securityPolicy === 'None') {
    throw configError(`channels[${channel.id}]`, 'securityMode SignAndEncrypt needs a security policy other than None');
  }
  return devices;
}
