/**
 * Edge gateway configuration: which channels (a Modbus TCP endpoint, a serial line, an OPC UA server) the
 * gateway runs, which devices sit on each, and how device registers/nodes bind to thing-model properties.
 * The platform keeps the desired, versioned copy and pushes it; the gateway reports the version applied.
 */
export type ModbusArea = 'coil' | 'discrete' | 'input' | 'holding';
export type ModbusDataType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64' | 'bool' | 'string';
export type Endianness = 'BE' | 'LE';

export interface ModbusPointConfig {
  readonly property: string;
  readonly area: ModbusArea;
  /** 0-based protocol address (register 40001 is holding address 0). */
  readonly address: number;
  readonly type: ModbusDataType;
  /** Characters for 'string' (two per register). */
  readonly length?: number;
  /** Byte order inside each 16-bit register; default BE (the Modbus norm). */
  readonly byteOrder?: Endianness;
  /** Register order of 32/64-bit values; default BE (high word first). */
  readonly wordOrder?: Endianness;
  /** Engineering value = raw × scale + offset. */
  readonly scale?: number;
  readonly offset?: number;
  /** A reading is reported only when it moved by more than this since the last reported value. */
  readonly deadband?: number;
  /** For a 'bool' read from a register: which bit (0 = least significant). */
  readonly bit?: number;
}

export interface ModbusDeviceConfig {
  /** Platform device id. */
  readonly id: string;
  readonly unitId: number;
  readonly pollIntervalMs: number;
  readonly points: readonly ModbusPointConfig[];
  /** Registers that may be read in between two wanted ranges to save a request (default 8). */
  readonly maxGap?: number;
}

export interface ModbusTcpChannelConfig {
  readonly id: string;
  readonly protocol: 'modbus-tcp';
  readonly host: string;
  readonly port: number;
  readonly timeoutMs?: number;
  readonly devices: readonly ModbusDeviceConfig[];
}

export interface ModbusRtuChannelConfig {
  readonly id: string;
  readonly protocol: 'modbus-rtu';
  readonly path: string;
  readonly baudRate: number;
  readonly parity?: 'none' | 'even' | 'odd';
  readonly dataBits?: 7 | 8;
  readonly stopBits?: 1 | 2;
  readonly timeoutMs?: number;
  readonly devices: readonly ModbusDeviceConfig[];
}

export interface OpcUaPointConfig {
  readonly property: string;
  readonly nodeId: string;
  readonly samplingIntervalMs?: number;
  readonly deadband?: { readonly type: 'absolute' | 'percent'; readonly value: number };
  /**
   * How a 64-bit integer node (Int64/UInt64) is delivered: 'number' (default) as a number, refusing values beyond
   * ±(2^53 − 1) that a double cannot hold exactly (a point failure in health, never a rounded value); 'string' as
   * the exact decimal string (bind it to a string property).
   */
  readonly valueAs?: 'number' | 'string';
  /**
   * For a node holding a structure (ExtensionObject, e.g. a Range): the field to deliver, a dot path such as
   * "low" or "limits.high". A structure without `field` is refused per point with the fields it has.
   */
  readonly field?: string;
}

export interface OpcUaDeviceConfig {
  readonly id: string;
  readonly points: readonly OpcUaPointConfig[];
}

export type OpcUaSecurityMode = 'None' | 'Sign' | 'SignAndEncrypt';

/**
 * Who the channel's session acts as. A username's password is write-only on the platform: the configuration
 * read back by the API carries `passwordSet: true` instead, and a configuration stored without `password`
 * keeps the one of the same channel in the previous version. A certificate identity names files on the
 * gateway (X.509 user certificate and its private key, PEM or DER), so no secret travels in the configuration.
 */
export type OpcUaUserIdentity =
  | { readonly type: 'anonymous' }
  | { readonly type: 'username'; readonly username: string; readonly password?: string; readonly passwordSet?: boolean }
  | { readonly type: 'certificate'; readonly certificateFile: string; readonly privateKeyFile: string };

export interface OpcUaChannelConfig {
  readonly id: string;
  readonly protocol: 'opcua';
  readonly endpointUrl: string;
  /** Sign: messages signed, not encrypted; SignAndEncrypt: both. Honoured as given, never upgraded. */
  readonly securityMode: OpcUaSecurityMode;
  readonly securityPolicy?: 'None' | 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep';
  /** Where the client keeps its own certificate and trusted server certificates (PKI folder). */
  readonly pkiDir?: string;
  readonly publishingIntervalMs?: number;
  /** The session's user identity (default anonymous). */
  readonly identity?: OpcUaUserIdentity;
  readonly devices: readonly OpcUaDeviceConfig[];
}

export type ChannelConfig = ModbusTcpChannelConfig | ModbusRtuChannelConfig | OpcUaChannelConfig;

/** A threshold rule the gateway evaluates locally, so alarms still fire while the uplink is down. */
export interface EdgeRuleConfig {
  readonly id: string;
  readonly device: string;
  readonly property: string;
  readonly op: '>' | '>=' | '<' | '<=';
  readonly threshold: number;
  readonly severity: 'info' | 'warn' | 'alert';
  readonly message?: string;
}

/**
 * How a thing-model service of a device behind the gateway is carried out: writes of the device's points,
 * in order. Each write sets a writable ('rw') property the device's point map binds, to a constant or to
 * the value of one of the service's inputs. E.g. `start(rpm)` = write `speed_setpoint` ← rpm, then `run` ← true.
 */
export interface ServiceBindingConfig {
  readonly device: string;
  readonly service: string;
  readonly writes: ReadonlyArray<{ readonly property: string; readonly value?: number | boolean | string; readonly input?: string }>;
}

export interface GatewayConfig {
  readonly channels: readonly ChannelConfig[];
  readonly rules?: readonly EdgeRuleConfig[];
  readonly services?: readonly ServiceBindingConfig[];
}

/** What the platform pushes: the desired configuration and its version. */
export interface VersionedGatewayConfig {
  readonly version: number;
  readonly config: GatewayConfig;
}
