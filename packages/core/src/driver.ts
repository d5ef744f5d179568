/**
 * The one interface every protocol driver implements (Modbus TCP/RTU, OPC UA, later S7/BACnet), so the
 * edge gateway, the platform and the shared conformance suite in @iip/testkit treat them alike. Types
 * only: drivers themselves live in @iip/device-access.
 */
import type { PointValue } from './telemetry.js';

/** One value read from a device, already converted to the thing model's units (scale/offset applied). */
export interface DriverReading {
  readonly device: string;
  readonly property: string;
  readonly ts: number;
  readonly value: PointValue;
}

/** A typed driver failure; `code` is an IIP_ERR_* code, protocol details (e.g. Modbus exception code) in details. */
export interface DriverFailure {
  readonly code: string;
  readonly message: string;
  readonly ts: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type DeviceLinkState = 'unknown' | 'ok' | 'failing' | 'demoted';

/**
 * One point of a device that yields no value while the device itself answers: an address the device
 * refuses (Modbus exception 2 on that point alone) or a value no thing model can hold (NaN, ±Infinity).
 * The other points keep flowing; this says which one is missing and why.
 */
export interface PointFailure extends DriverFailure {
  readonly property: string;
  /** How many polls have had this failure since it was first seen. */
  readonly count: number;
}

export interface DeviceHealth {
  readonly device: string;
  readonly state: DeviceLinkState;
  /** Latency of the last successful poll cycle (Modbus) or read (OPC UA), ms. */
  readonly lastLatencyMs: number | null;
  readonly polls: number;
  readonly errors: number;
  readonly consecutiveFailures: number;
  readonly lastError: DriverFailure | null;
  /** Points that currently give no value, with their reasons (absent when every point reads). */
  readonly pointFailures?: readonly PointFailure[];
}

/** One period the channel's link was down: from the first failure to the moment it was back (null: still down). */
export interface ChannelOutage {
  readonly start: number;
  readonly end: number | null;
  /** Why it started: the IIP_ERR_* code and message of the first failure. */
  readonly code: string;
  readonly message: string;
}

/** A certificate as an operator needs to recognise it before trusting it. */
export interface CertificateInfo {
  /** SHA-1 of the DER, upper-case hex without separators (what OPC UA tools call the thumbprint). */
  readonly thumbprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The application URI in the certificate's subjectAltName, when present. */
  readonly applicationUri: string | null;
  /** The certificate itself, PEM, so it can be copied to the other side. */
  readonly pem: string;
}

/**
 * Why a secure link does not come up when the cause is trust: 'server-untrusted' — this side rejected the
 * peer's certificate (`certificate` is the peer's; the platform can trust it with one command); 'client-untrusted'
 * — the peer rejected ours (`certificate` is ours, to be trusted on the peer). `fix` says what to do, step by step.
 */
export interface TrustProblem {
  readonly kind: 'server-untrusted' | 'client-untrusted';
  readonly certificate: CertificateInfo;
  readonly fix: string;
  readonly since: number;
}

export interface DriverHealth {
  readonly channel: string;
  readonly protocol: string;
  readonly connected: boolean;
  readonly devices: readonly DeviceHealth[];
  /** Periods the link was down, oldest first, the last ones kept (absent: the driver keeps no history). */
  readonly outages?: readonly ChannelOutage[];
  /** Set while the link is refused over certificate trust. */
  readonly trust?: TrustProblem | null;
}

/** One protocol request the driver will issue each cycle (for Modbus: one coalesced read). */
export interface ReadPlanEntry {
  readonly device: string;
  /** Human-readable, e.g. "unit 1 holding 0..9 (10 registers)" or "ns=1;s=Temperature". */
  readonly request: string;
  readonly properties: readonly string[];
}

export type ReadingSink = (readings: readonly DriverReading[]) => void;
export type FailureSink = (device: string, failure: DriverFailure) => void;

export interface Driver {
  readonly channel: string;
  readonly protocol: string;
  /** Opens the link. Rejects with a typed IipError when the peer cannot be reached at all. */
  connect(): Promise<void>;
  /** The requests a cycle issues (Modbus: coalesced reads; OPC UA: monitored items). */
  readPlan(): readonly ReadPlanEntry[];
  /** Starts polling (Modbus) or monitoring (OPC UA); readings and failures flow to the sinks until close(). */
  subscribe(onReadings: ReadingSink, onFailure?: FailureSink): Promise<void>;
  /** Reads every point of one device once, now. */
  readOnce(device: string): Promise<DriverReading[]>;
  /** Writes one writable point; rejects with a typed IipError (e.g. a Modbus exception) on failure. */
  write(device: string, property: string, value: PointValue): Promise<void>;
  health(): DriverHealth;
  /**
   * Trusts the peer certificate this driver rejected (reported in `health().trust`, kind 'server-untrusted'),
   * named by thumbprint so a stale request cannot trust another certificate. Drivers without certificates omit it.
   */
  trustServerCertificate?(thumbprint: string): Promise<CertificateInfo>;
  /** Stops polling/monitoring and closes the link; safe to call twice. */
  close(): Promise<void>;
}
