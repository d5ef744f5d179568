/**
 * One Modbus channel's link — a TCP connection or a serial line — wrapped around modbus-serial's client.
 * It issues one request at a time (a serial line cannot do otherwise, and many TCP gateways misbehave with
 * pipelining), types every failure, and reports when the link drops so the driver can reconnect. On TCP it
 * also watches the MBAP framing of incoming bytes: garbage on the stream is a frame error at once (and the
 * connection is reset to resynchronise) instead of a silent wait for the timeout.
 */
import { Socket } from 'node:net';
import type { ModbusRtuChannelConfig, ModbusTcpChannelConfig } from '@iip/core';
import type { IipError } from '@iip/core';
import ModbusSerial from 'modbus-serial';
import { classifyModbusError, frameError, linkError, type RequestContext } from './modbus-errors.js';

// modbus-serial is CommonJS: under NodeNext its default export arrives as `.default` of module.exports.
const ModbusRTU = ModbusSerial.default;
export type ModbusClient = InstanceType<typeof ModbusRTU>;

export const DEFAULT_TIMEOUT_MS = 1000;
/** Largest MBAP length field: unit id + function + 252 bytes of data (Modbus TCP spec). */
const MAX_MBAP_LENGTH = 254;

type DownListener = (reason: IipError) => void;

interface InFlight {
  readonly ctx: RequestContext;
  readonly reject: (e: IipError) => void;
}

export class ModbusLink {
  readonly timeoutMs: number;
  private client: ModbusClient | null = null;
  private socket: Socket | null = null;
  private open_ = false;
  private queue: Promise<unknown> = Promise.resolve();
  private inFlight: InFlight | null = null;
  private readonly downListeners: DownListener[] = [];
  private rx: Buffer = Buffer.alloc(0);

  constructor(private readonly channel: ModbusTcpChannelConfig | ModbusRtuChannelConfig) {
    this.timeoutMs = channel.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /** Called once per drop (peer closed, serial line gone, stream desynchronised). */
  onDown(listener: DownListener): void {
    this.downListeners.push(listener);
  }

  /** Opens the link; rejects with IIP_ERR_DRIVER_CONNECT. */
  async open(): Promise<void> {
    if (this.open_) return;
    try {
      if (this.channel.protocol === 'modbus-tcp') await this.openTcp(this.channel);
      else await this.openRtu(this.channel);
      this.open_ = true;
    } catch (e) {
      this.teardown();
      const where = this.channel.protocol === 'modbus-tcp' ? `${this.channel.host}:${this.channel.port}` : this.channel.path;
      throw linkError(`cannot open ${where}: ${(e as Error)?.message ?? String(e)}`, { channel: this.channel.id });
    }
  }

  private async openTcp(c: ModbusTcpChannelConfig): Promise<void> {
    const socket = new Socket();
    this.socket = socket;
    socket.on('error', () => {
      // 'close' follows and reports the drop; without a listener the error would crash the process.
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TCP connection within ${Math.max(this.timeoutMs, 3000)} ms`));
      }, Math.max(this.timeoutMs, 3000));
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error('connection closed while opening'));
      });
      socket.connect(c.port, c.host);
    });
    socket.on('data', (d: Buffer) => this.watchMbap(d));
    socket.on('close', () => this.down(linkError(`connection to ${c.host}:${c.port} closed`, { channel: c.id })));
    const client = new ModbusRTU();
    this.client = client;
    client.on('error', () => {
      // surfaced through the socket's 'close' and the request's own rejection
    });
    await client.linkTCP(socket, { port: c.port });
    client.setTimeout(this.timeoutMs);
  }

  private async openRtu(c: ModbusRtuChannelConfig): Promise<void> {
    const client = new ModbusRTU();
    this.client = client;
    client.on('error', (e: unknown) => this.down(linkError(`serial line ${c.path}: ${String((e as Error)?.message ?? e)}`, { channel: c.id })));
    client.on('close', () => this.down(linkError(`serial line ${c.path} closed`, { channel: c.id })));
    await client.connectRTUBuffered(c.path, {
      baudRate: c.baudRate,
      parity: c.parity ?? 'none',
      dataBits: c.dataBits ?? 8,
      stopBits: c.stopBits ?? 1,
    });
    client.setTimeout(this.timeoutMs);
  }

  /** Checks that incoming bytes frame as MBAP (protocol id 0, sane length); garbage is a frame error. */
  private watchMbap(d: Buffer): void {
    this.rx = this.rx.length === 0 ? d : Buffer.concat([this.rx, d]);
    while (this.rx.length >= 6) {
      const protocolId = this.rx.readUInt16BE(2);
      const length = this.rx.readUInt16BE(4);
      if (protocolId !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
        const sample = this.rx.subarray(0, 16).toString('hex');
        this.rx = Buffer.alloc(0);
        const ctx = this.inFlight?.ctx ?? { unit: -1, function: 0, address: 0, count: 0 };
        const reason = `bytes that are not a Modbus TCP frame (protocol id ${protocolId}, length ${length}, starting ${sample})`;
        this.inFlight?.reject(frameError(reason, ctx));
        // The stream cannot be trusted past garbage: reconnect to resynchronise.
        this.down(linkError('stream desynchronised by a malformed frame; reconnecting', { channel: this.channel.id }));
        return;
      }
      if (this.rx.length < 6 + length) return;
      this.rx = this.rx.subarray(6 + length);
    }
  }

  private down(reason: IipError): void {
    if (!this.open_) return;
    this.open_ = false;
    this.inFlight?.reject(reason);
    this.teardown();
    for (const l of this.downListeners) l(reason);
  }

  private teardown(): void {
    const client = this.client;
    this.client = null;
    this.rx = Buffer.alloc(0);
    if (client) {
      // the client is an EventEmitter at runtime; its typings list only on()
      (client as unknown as NodeJS.EventEmitter).removeAllListeners('close');
      client.on('error', () => {});
      try {
        // destroy() cancels modbus-serial's pending transaction timers; close() is what frees a serial port
        client.destroy(() => {});
        if (this.channel.protocol === 'modbus-rtu') client.close(() => {});
      } catch {
        // already closed
      }
    }
    this.socket?.destroy();
    this.socket = null;
  }

  /**
   * Runs one request against `unit`, after every earlier request on this link finished. Rejects with a
   * typed IipError: IIP_ERR_MODBUS_EXCEPTION, IIP_ERR_DRIVER_TIMEOUT, IIP_ERR_MODBUS_FRAME or IIP_ERR_DRIVER_CONNECT.
   */
  request<T>(ctx: RequestContext, run: (client: ModbusClient) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.runNow(ctx, run));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private runNow<T>(ctx: RequestContext, run: (client: ModbusClient) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!this.open_ || !client) return Promise.reject(linkError('not connected', { channel: this.channel.id }));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.inFlight = null;
        f();
      };
      this.inFlight = { ctx, reject: (e) => finish(() => reject(e)) };
      client.setID(ctx.unit);
      run(client).then(
        (v) => finish(() => resolve(v)),
        (e: unknown) => finish(() => reject(classifyModbusError(e, ctx, this.timeoutMs))),
      );
    });
  }

  async close(): Promise<void> {
    const wasOpen = this.open_;
    this.open_ = false;
    this.inFlight?.reject(linkError('closed', { channel: this.channel.id }));
    if (wasOpen || this.client || this.socket) this.teardown();
  }
}
