/**
 * @iip/edge-gateway — runs protocol drivers near the devices and forwards their readings to the platform.
 * Every point is written to a disk buffer before it is acknowledged upstream, so an uplink outage or a
 * crash loses nothing; the configuration is versioned and pushed from the platform.
 */
export * from './errors.js';
export * from './topics.js';
export * from './disk-buffer.js';
export * from './bad-values.js';
export * from './buffer-drain.js';
export * from './edge-rules.js';
export * from './edge-gateway.js';
export * from './gateway-file.js';
