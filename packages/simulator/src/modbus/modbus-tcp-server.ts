/**
 * A small Modbus TCP server (MBAP framing, FC1/2/3/4/5/6/15/16) over node:net, holding the memory of
 * several unit ids. Written here rather than taken from a library because the simulator must misbehave on
 * request: answer one unit with a chosen exception code or let it stay silent, which test peers need and
 * general-purpose servers do not offer.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ModbusArea } from '@iip/core';

/** Addresses 0..UNIT_SIZE-1 exist in every area; beyond that the server answers exception 2. */
export const UNIT_SIZE = 10_000;

export class UnitMemory {
  readonly coil = new Uint8Array(UNIT_SIZE);
  readonly discrete = new Uint8Array(UNIT_SIZE);
  readonly holding = new Uint16Array(UNIT_SIZE);
  readonly input = new Uint16Array(UNIT_SIZE);

  area(a: ModbusArea): Uint8Array | Uint16Array {
    return this[a];
  }
}

/** How a unit answers: normally, with a fixed exception code, or not at all. */
export type UnitBehaviour = { readonly exception: number } | 'silent' | null;

export interface ModbusServerHooks {
  /** Called after a write request changed a unit's memory. */
  onWrite?(unitId: number, area: 'coil' | 'holding', address: number, count: number): void;
}

const EX_ILLEGAL_FUNCTION = 1;
const EX_ILLEGAL_ADDRESS = 2;
const EX_ILLEGAL_VALUE = 3;
const EX_GATEWAY_TARGET_FAILED = 11;

export class ModbusTcpServer {
  readonly units = new Map<number, UnitMemory>();
  readonly behaviour = new Map<number, UnitBehaviour>();
  /** Requests answered (or swallowed), for benchmarks and tests. */
  requests = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly hooks: ModbusServerHooks = {}) {
    this.server = createServer((s) => this.accept(s));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(s: Socket): void {
    this.sockets.add(s);
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('close', () => this.sockets.delete(s));
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 7) {
        const length = buf.readUInt16BE(4);
        if (buf.readUInt16BE(2) !== 0 || length < 2 || length > 254) {
          s.destroy(); // not Modbus TCP: drop the connection like a real device would
          return;
        }
        if (buf.length < 6 + length) return;
        const frame = buf.subarray(0, 6 + length);
        buf = buf.subarray(6 + length);
        const reply = this.handle(frame);
        if (reply) s.write(reply);
      }
    });
  }

  private handle(frame: Buffer): Buffer | null {
    this.requests++;
    const unitId = frame.readUInt8(6);
    const pdu = frame.subarray(7);
    const fc = pdu.readUInt8(0);
    const behaviour = this.behaviour.get(unitId) ?? null;
    if (behaviour === 'silent') return null;
    const mem = this.units.get(unitId);
    let out: Buffer;
    if (behaviour) out = exception(fc, behaviour.exception);
    else if (!mem) out = exception(fc, EX_GATEWAY_TARGET_FAILED);
    else out = this.execute(unitId, mem, fc, pdu);
    const head = Buffer.alloc(7);
    frame.copy(head, 0, 0, 4); // transaction id and protocol id echo the request
    head.writeUInt16BE(out.length + 1, 4);
    head.writeUInt8(unitId, 6);
    return Buffer.concat([head, out]);
  }

  private execute(unitId: number, mem: UnitMemory, fc: number, pdu: Buffer): Buffer {
    if (pdu.length < 5) return exception(fc, EX_ILLEGAL_VALUE);
    const address = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    switch (fc) {
      case 1:
      case 2: {
        if (qty < 1 || qty > 2000) return exception(fc, EX_ILLEGAL_VALUE);
        if (address + qty > UNIT_SIZE) return exception(fc, EX_ILLEGAL_ADDRESS);
        const bits = fc === 1 ? mem.coil : mem.discrete;
        const bytes = Buffer.alloc(Math.ceil(qty / 8));
        for (let i = 0; i < qty; i++) if (bits[address + i]) bytes[i >> 3]! |= 1 << (i & 7);
        return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
      }
      case 3:
      case 4: {
        if (qty < 1 || qty > 125) return exception(fc, EX_ILLEGAL_VALUE);
        if (address + qty > UNIT_SIZE) return exception(fc, EX_ILLEGAL_ADDRESS);
        const regs = fc === 3 ? mem.holding : mem.input;
        const out = Buffer.alloc(2 + qty * 2);
        out.writeUInt8(fc, 0);
        out.writeUInt8(qty * 2, 1);
        for (let i = 0; i < qty; i++) out.writeUInt16BE(regs[address + i]!, 2 + i * 2);
        return out;
      }
      case 5: {
        if (address >= UNIT_SIZE) return exception(fc, EX_ILLEGAL_ADDRESS);
        if (qty !== 0xff00 && qty !== 0) return exception(fc, EX_ILLEGAL_VALUE);
        mem.coil[address] = qty === 0xff00 ? 1 : 0;
        this.hooks.onWrite?.(unitId, 'coil', address, 1);
        return Buffer.from(pdu.subarray(0, 5));
      }
      case 6: {
        if (address >= UNIT_SIZE) return exception(fc, EX_ILLEGAL_ADDRESS);
        mem.holding[address] = qty;
        this.hooks.onWrite?.(unitId, 'holding', address, 1);
        return Buffer.from(pdu.subarray(0, 5));
      }
      case 15:
      case 16: {
        const byteCount = pdu.readUInt8(5);
        const max = fc === 15 ? 1968 : 123;
        const need = fc === 15 ? Math.ceil(qty / 8) : qty * 2;
        if (qty < 1 || qty > max || byteCount !== need || pdu.length < 6 + need) return exception(fc, EX_ILLEGAL_VALUE);
        if (address + qty > UNIT_SIZE) return exception(fc, EX_ILLEGAL_ADDRESS);
        for (let i = 0; i < qty; i++) {
          if (fc === 15) mem.coil[address + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
          else mem.holding[address + i] = pdu.readUInt16BE(6 + i * 2);
        }
        this.hooks.onWrite?.(unitId, fc === 15 ? 'coil' : 'holding', address, qty);
        return Buffer.from(pdu.subarray(0, 5));
      }
      default:
        return exception(fc, EX_ILLEGAL_FUNCTION);
    }
  }
}

function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}
