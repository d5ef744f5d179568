/**
 * @iip/simulator — a virtual factory for demos, end-to-end tests and benchmarks. It ships product
 * definitions (thing models for CNC machines, air compressors, injection-moulding machines and energy
 * meters), deterministic signal models with run/idle/fault life cycles and fault precursors, a
 * `VirtualFactory` that connects each simulated device to the platform over MQTT with its own
 * credentials, and `runLoad`, a bounded load driver that publishes batches at a fixed size and rate.
 */
export { SIMULATOR_ERRORS } from './errors.js';
export type { FactoryProductId, ProductDefinition } from './products/product-definition.js';
export { factoryProducts } from './products/factory-products.js';
export { DEMO_DEVICE_COUNT, type DevicePlanEntry, factoryDevicePlan } from './device-plan.js';
export { DeviceSimulation, type DeviceSimulationOptions, type SimulatedSample } from './device-simulation.js';
export type { SignalEvent, SignalValues } from './signals/kind-signals.js';
export type { MachineStateName } from './signals/machine-state.js';
export type { DeviceLogin } from './device-connection.js';
export { type FactoryStats, VirtualFactory, type VirtualFactoryDevice, type VirtualFactoryOptions } from './virtual-factory.js';
export { type LoadOptions, type LoadResult, runLoad } from './load-driver.js';
export { BatchBuilder, rangesFor, type ValueRange } from './load-payload.js';
export * from './modbus/index.js';
export * from './opcua/index.js';
