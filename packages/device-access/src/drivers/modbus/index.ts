/**
 * Modbus TCP and RTU for the platform: the `ModbusDriver` (one channel, its devices, coalesced polling,
 * demotion, reconnect, typed errors) and the pure pieces it is built from — point codec, read planner,
 * config validation and timing rules — exported so the edge gateway and tools can show plans and check
 * point maps without opening a link.
 */
export { type ModbusChannelConfig, ModbusDriver, type ModbusDriverOptions } from './modbus-driver.js';
export { validateModbusChannel } from './config-validation.js';
export { decodeRegisters,
  shortestFloat32, encodeRegisters, isBitArea, losesPrecision, passesDeadband, pointWidth } from './point-codec.js';
export {
  DEFAULT_MAX_GAP,
  describeRequest,
  MODBUS_MAX_BITS_PER_READ,
  MODBUS_MAX_REGISTERS_PER_READ,
  type ModbusReadRequest,
  planReads,
  type ReadLimits,
  readFunctionOf,
} from './read-plan.js';
export {
  DEMOTE_AFTER_FAILURES,
  DEMOTED_CAP_MS,
  DEMOTED_FACTOR,
  effectiveIntervalMs,
  linkState,
  nextDue,
  RECONNECT_CAP_MS,
  RECONNECT_FIRST_MS,
  reconnectDelayMs,
} from './poll-schedule.js';
