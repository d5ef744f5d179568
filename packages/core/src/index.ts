/**
 * @iip/core — the domain layer of iip: branded ids, thing models (物模型) and their validation, telemetry
 * payload parsing, and the IIP_ERR_* error contract. It imports nothing of ours and does no I/O, so every
 * other package (and the browser console, for types) can depend on it.
 */
export * from './ids.js';
export * from './errors.js';
export * from './thing-model.js';
export * from './telemetry.js';
export * from './device-event.js';
export * from './telemetry-clock.js';
export * from './tsl.js';
export * from './wot.js';
export * from './driver.js';
export * from './gateway-config.js';
export * from './csv.js';
export * from './prng.js';
