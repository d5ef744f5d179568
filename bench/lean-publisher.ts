/**
 * A lean MQTT 3.1.1 QoS 1 publisher for load generation on the same small machine as the platform it
 * measures. It speaks real MQTT over TCP — CONNECT with the device's credentials, CONNACK checked, PUBLISH
 * QoS 1 with packet ids, PUBACK matched to its packet id — but builds each PUBLISH by hand into one buffer
 * and reads PUBACKs without a general codec. mqtt.js spends about as much CPU per message as the platform
 * spends storing it (≈ 45 µs on the 2-core CI machine), and on a shared 2-core machine that CPU is taken
 * from the platform; this client needs a few µs.
 *
 * Only what a telemetry publisher needs: no subscriptions, no keep-alive pings (keep-alive 0), no reconnect.
 * Anything unexpected from the server (a refused CONNACK, an unknown packet id, a DISCONNECT, the socket
 * closing with messages in flight) is an error that fails the run.
 */
import { connect, type Socket } from 'node:net';

export interface LeanConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** Bytes of the MQTT remaining-length varint (§2.2.3). */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function connectPacket(o: LeanConnectOptions): Buffer {
  // Variable header: "MQTT", level 4, flags (user name, password, clean session), keep-alive 0.
  const header = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0b1100_0010, 0, 0])]);
  const body = Buffer.concat([header, utf8Field(o.clientId), utf8Field(o.username), utf8Field(o.password)]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

export class LeanPublisher {
  private readonly pending = new Map<number, () => void>();
  private nextId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private onFailure: ((e: Error) => void) | undefined;
  private readonly topic: Buffer;

  private constructor(
    private readonly socket: Socket,
    topic: string,
  ) {
    this.topic = utf8Field(topic);
  }

  /** Connects and waits for a CONNACK that accepts the connection. */
  static async connect(o: LeanConnectOptions, topic: string): Promise<LeanPublisher> {
    const socket = connect({ host: o.host, port: o.port, noDelay: true });
    const p = new LeanPublisher(socket, topic);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write(connectPacket(o)));
      socket.once('data', (d: Buffer) => {
        socket.off('error', reject);
        // CONNACK: 0x20, length 2, session present, return code (§3.2).
        if (d.length < 4 || d[0] !== 0x20 || d[1] !== 2) return reject(new Error(`unexpected answer to CONNECT: ${d.subarray(0, 8).toString('hex')}`));
        if (d[3] !== 0) return reject(new Error(`CONNECT refused with return code ${d[3]}`));
        if (d.length > 4) p.onData(d.subarray(4));
        resolve();
      });
    });
    socket.on('data', (d: Buffer) => p.onData(d));
    socket.on('error', (e) => p.fail(e));
    socket.on('close', () => {
      if (p.pending.size > 0) p.fail(new Error(`connection closed with ${p.pending.size} messages unacknowledged`));
    });
    return p;
  }

  /** Publishes one QoS 1 message; `acked` runs once its PUBACK arrives. */
  publish(payload: Buffer, acked: () => void): void {
    if (this.failure) throw this.failure;
    let id = this.nextId;
    while (this.pending.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextId = id === 65535 ? 1 : id + 1;
    this.pending.set(id, acked);
    const rest = this.topic.length + 2 + payload.length;
    const rl = remainingLength(rest);
    const packet = Buffer.allocUnsafe(1 + rl.length + rest);
    let at = 0;
    packet[at++] = 0x32; // PUBLISH, QoS 1
    for (const b of rl) packet[at++] = b;
    at += this.topic.copy(packet, at);
    packet[at++] = id >> 8;
    packet[at++] = id & 0xff;
    payload.copy(packet, at);
    this.socket.write(packet);
  }

  /** Holds writes until uncork(): a burst of PUBLISHes leaves in one segment. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Called with the first error (the run is over: nothing more is acknowledged). */
  whenFailed(cb: (e: Error) => void): void {
    this.onFailure = cb;
    if (this.failure) cb(this.failure);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
    });
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.socket.destroy();
    this.onFailure?.(e);
  }

  private onData(d: Buffer): void {
    const data = this.buffered.length ? Buffer.concat([this.buffered, d]) : d;
    let at = 0;
    while (data.length - at >= 2) {
      const type = (data[at] as number) >> 4;
      const len = data[at + 1] as number;
      if (type !== 4 || len !== 2) {
        this.fail(new Error(`unexpected packet from the server: type ${type}, length byte ${len}`));
        return;
      }
      if (data.length - at < 4) break;
      const id = ((data[at + 2] as number) << 8) | (data[at + 3] as number);
      at += 4;
      const acked = this.pending.get(id);
      if (!acked) {
        this.fail(new Error(`PUBACK for packet id ${id}, which is not in flight`));
        return;
      }
      this.pending.delete(id);
      acked();
    }
    this.buffered = at === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
  }
}
