/**
 * @iip/edge-gateway — runs protocol drivers near the devices and forwards their readings to the platform.
 * Every point is written to a disk buffer before it is acknowledged upstream, so an uplink outage or a
 * crash loses nothing; the configuration is versioned and pushed from the platform.
 */
export {};
