/**
 * One source of truth for "can a driver run this channel?": the checks each driver makes when it is built,
 * callable without building it. The platform runs them when a gateway configuration is stored (so a point
 * type or option the driver does not support is refused at PUT, not discovered on the gateway), and the
 * drivers run the same functions in their constructors.
 */
import type { ChannelConfig } from '@iip/core';
import { IipError } from '@iip/core';
import { validateModbusChannel } from './modbus/config-validation.js';
import { bindOpcUaPoints } from './opcua/opcua-point-map.js';

/** Throws IIP_ERR_DRIVER_CONFIG with `details.path` relative to the channel (e.g. `devices[0].points[2].type`). */
export function validateChannelConfig(channel: ChannelConfig): void {
  switch (channel.protocol) {
    case 'modbus-tcp':
    case 'modbus-rtu':
      validateModbusChannel(channel);
      return;
    case 'opcua':
      try {
        bindOpcUaPoints(channel);
      } catch (e) {
        // The OPC UA binder names the channel by id (`channels[line-2].devices[0]…`); report paths relative to it.
        if (e instanceof IipError && typeof e.details?.path === 'string') {
          const path = e.details.path.replace(/^channels\[[^\]]*\]\.?/, '');
          throw new IipError(e.code, e.message, { ...e.details, path: path || 'id' });
        }
        throw e;
      }
      if (channel.securityMode !== 'None' && !channel.pkiDir) {
        throw new IipError('IIP_ERR_DRIVER_CONFIG', `securityMode ${channel.securityMode} needs pkiDir (the client's certificate folder)`, { path: 'pkiDir' });
      }
      return;
    default: {
      const never: never = channel;
      throw new IipError('IIP_ERR_DRIVER_CONFIG', `unknown protocol ${JSON.stringify((never as { protocol?: unknown }).protocol)}`, { path: 'protocol' });
    }
  }
}
