/**
 * @iip/server — the platform process. `startPlatform()` is the composition root that wires storage,
 * device access, the bus, the historian, security and the HTTP API (REST, OpenAPI at /docs, WebSocket
 * live stream, the console) into one running platform.
 */
export * from './errors.js';
export * from './platform.js';
export { PLATFORM_ROLES, resolveTopology } from './scale-out/topology.js';
export type { PlatformRole, Topology, TopologyOptions } from './scale-out/topology.js';
export { HISTORIAN_GROUP, startHistorianWorker } from './scale-out/bus-telemetry.js';
export type { WorkerStats } from './scale-out/bus-telemetry.js';
export { parseCsv, parseCsvRecords } from './csv.js';
export type { IssuedDevice, PublicDevice } from './registry-service.js';
export { TenantQuotas, startTenantGovernance } from './tenant-governance.js';
export type { TenantGovernance, TenantGovernanceOptions, TenantPolicyApi, TenantQuotaOptions, TenantUsage } from './tenant-governance.js';
export { verifyAuditLog } from './routes/audit-events.js';
export { type OidcOptions, oidcOptionsFromEnv } from './oidc-sign-in.js';
export { METRICS_CONTENT_TYPE, PUBACK_BUCKETS_SECONDS, PlatformLoad, WINDOW_SECONDS } from './load-metrics.js';
export type { LoadSnapshot, LoadSources, WindowPercentiles } from './load-metrics.js';
