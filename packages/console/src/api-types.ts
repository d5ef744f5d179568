/**
 * Shapes of the platform's /api/v1 responses as the console uses them. Domain types come from @iip/core
 * as types only: the console never bundles platform code, it talks HTTP and WebSocket.
 */
import type { GatewayConfig, PointValue, ThingModel } from '@iip/core';

export type { DataType, DeviceHealth, DeviceLinkState, DriverHealth, EventSpec, GatewayConfig, PointValue, PropertySpec, ServiceSpec, ThingModel } from '@iip/core';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly tenant: string;
}

/** What the signed-in user may do: permissions on the whole tenant and per asset (menus and buttons follow it). */
export interface AccessSummary {
  readonly tenant: string;
  readonly homeTenant: string;
  readonly platformAdmin: boolean;
  readonly tenantWide: readonly string[];
  readonly assets: Readonly<Record<string, readonly string[]>>;
}

/** The second-factor state of a session (absent from an older platform's or an OIDC sign-in's reply: nothing asked). */
export interface SecurityState {
  readonly totpEnabled: boolean;
  /** The tenant requires a second factor of this user; with none on, the session may only set it up. */
  readonly totpRequired: boolean;
}

export interface LoginResponse {
  readonly token: string;
  readonly expiresAt: number | string;
  readonly user: User;
  /** Absent in a session saved by an older console. */
  readonly access?: AccessSummary;
  readonly security?: SecurityState;
}

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly version: string | number;
  readonly model: ThingModel;
}

export interface Device {
  readonly id: string;
  readonly name: string;
  readonly product: string;
  readonly createdAt: number | string;
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** The asset it is placed on (null or absent: not on the tree). */
  readonly asset?: string | null;
}

export interface LatestValue {
  readonly ts: number;
  readonly value: PointValue;
}

export type LatestValues = Readonly<Record<string, LatestValue>>;

export interface TrendBucket {
  readonly start: number;
  readonly end: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly avg: number | null;
  readonly count: number;
}

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** A frame on /api/v1/stream. Unknown types are ignored, so the server may add kinds later. */
export interface TelemetryFrame {
  readonly type: 'telemetry';
  readonly device: string;
  readonly points: readonly { readonly property: string; readonly ts: number; readonly value: PointValue }[];
}

/** One row of GET /gateways. */
export interface GatewaySummary {
  readonly gateway: string;
  readonly desiredVersion: number | null;
  readonly appliedVersion: number | null;
  readonly updatedAt: number | null;
  readonly online: boolean;
}

/**
 * GET /gateways/{id}. `reported.state` is the document the gateway itself sent, so it is typed `unknown`
 * and read only through gateway-state.ts, which treats every field as possibly missing.
 */
export interface GatewayStatus {
  readonly gateway: string;
  readonly online: boolean;
  readonly inSync: boolean;
  readonly desired: {
    readonly version: number;
    readonly config: GatewayConfig;
    readonly createdAt: number;
    readonly createdBy: string;
  } | null;
  readonly reported: { readonly appliedVersion: number | null; readonly updatedAt: number; readonly state: unknown } | null;
}

export interface AuditEntry {
  readonly id?: number;
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly device: string;
  readonly property: string | null;
  readonly oldValue: unknown;
  readonly newValue: unknown;
  readonly result: 'ok' | 'error';
  readonly error: string | null;
}

/** Whether a service can be invoked: its device is behind a gateway whose configuration binds it. */
export type ServiceState = 'bound' | 'not-bound' | 'no-gateway';

export interface DeviceServices {
  readonly device: string;
  readonly gateway: string | null;
  readonly items: ReadonlyArray<{ readonly id: string; readonly name: string | null; readonly state: ServiceState }>;
}

export interface ServiceResult {
  readonly ok: boolean;
  readonly device: string;
  readonly service: string;
  /** The point writes the gateway carried out, in order. */
  readonly writes: ReadonlyArray<{ readonly property: string; readonly value: PointValue }>;
}

export interface WriteResult {
  readonly ok: boolean;
  readonly device: string;
  readonly property: string;
  readonly oldValue: PointValue | null;
  readonly newValue: PointValue;
}
