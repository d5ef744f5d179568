/**
 * The fleet benchmark's baseline peer: an MQTT server that stores nothing. It accepts every CONNECT and answers
 * every QoS 1 PUBLISH with its PUBACK at once, so the same generators against it measure what the machine, the
 * kernel and the generators themselves cost — the floor under any PUBACK latency the platform can show here.
 * Prints one JSON line {port} when it listens; stops when its stdin closes. 127.0.0.1 only.
 */
import { createServer, type Socket } from 'node:net';

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let at = 0;
    const out: Buffer[] = [];
    for (;;) {
      if (buf.length - at < 2) break;
      const type = (buf[at] as number) >> 4;
      const qos = ((buf[at] as number) >> 1) & 3;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        const b = buf[i] as number;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      if (type === 1) out.push(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      else if (type === 3 && qos === 1) {
        const topicLen = ((buf[i] as number) << 8) | (buf[i + 1] as number);
        const id = i + 2 + topicLen;
        out.push(Buffer.from([0x40, 0x02, buf[id] as number, buf[id + 1] as number]));
      } else if (type === 14) socket.end();
      at = i + len;
    }
    buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
    if (out.length) socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  });
}

const server = createServer(serve);
server.maxConnections = 30_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0, pid: process.pid }));
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
