/**
 * How the OPC UA simulator names its nodes, and how a thing-model data type maps onto an OPC UA built-in
 * type. Kept apart from the server so a gateway config generator (and tests) can compute node ids without
 * starting anything.
 */
import type { DataType as ModelDataType } from '@iip/core';

/** The simulator server's application URI, which node-opcua makes its own namespace: index 1. */
export const OPCUA_SIM_NAMESPACE_URI = 'urn:iip:simulator:opcua';

/** String node id of the folder holding one device's variables. */
export function opcUaDeviceNodeId(device: string): string {
  return `ns=1;s=${device}`;
}

/** String node id of one property's variable: `ns=1;s={device}.{property}`. */
export function opcUaPropertyNodeId(device: string, property: string): string {
  return `ns=1;s=${device}.${property}`;
}

export type OpcUaSimDataType = 'Double' | 'Int32' | 'Boolean' | 'String';

export function opcUaDataTypeOf(dt: ModelDataType): OpcUaSimDataType {
  switch (dt.type) {
    case 'float':
      return 'Double';
    case 'int':
      return 'Int32';
    case 'bool':
      return 'Boolean';
    case 'string':
    case 'enum':
      return 'String';
    case 'array':
      throw new Error('the OPC UA simulator exposes array properties of devices only as type samples (typeSamples: true)');
    default: {
      const never: never = dt;
      throw new Error(`no OPC UA type for ${String((never as { type?: unknown }).type)}`);
    }
  }
}
