/** Builds the driver for a channel configuration: the one place that maps a protocol name to a class. */
import type { ChannelConfig, Driver } from '@iip/core';
import { ModbusDriver } from './modbus/index.js';
import { OpcUaDriver } from './opcua/index.js';

export type DriverLog = (level: 'info' | 'warn', msg: string, fields?: object) => void;

export function createDriver(channel: ChannelConfig, opts: { log?: DriverLog } = {}): Driver {
  switch (channel.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu':
      return new ModbusDriver(channel, opts);
    case 'opcua':
      return new OpcUaDriver(channel, opts);
    default: {
      const never: never = channel;
      throw new Error(`unknown protocol ${JSON.stringify((never as { protocol?: unknown }).protocol)}`);
    }
  }
}
