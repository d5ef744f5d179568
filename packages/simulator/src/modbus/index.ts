/**
 * Modbus TCP PLCs for the virtual factory: `startModbusPlc` serves factory machines as unit ids with
 * moving signals (and, for tests, chosen exceptions or silence); `modbusDemoChannel` is the matching
 * gateway channel configuration.
 */
export {
  DEFAULT_PLC_UNITS,
  type ModbusPlc,
  type ModbusPlcOptions,
  type ModbusPlcUnit,
  modbusDemoChannel,
  startModbusPlc,
} from './modbus-plc.js';
export type { UnitBehaviour } from './modbus-tcp-server.js';
export { registerLayout } from './plc-register-map.js';
