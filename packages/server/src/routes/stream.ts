/**
 * The live stream, /api/v1/stream (WebSocket). The token never travels in the URL (where proxies and access logs
 * keep it): the client's first frame is `{"type":"auth","token":"…"}`, within 10 s, or the socket is closed
 * (4401). Frames then carry only devices the user may read (devices:read on the tenant or on their assets; the
 * visible set is recomputed every 30 s, so a grant taken away stops the flow within that time).
 */
import { IipError } from '@iip/core';
import type { AccessStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { LiveStream } from '../live-stream.js';
import { type PrincipalResolver, requireEnrolled } from './auth.js';

const AUTH_TIMEOUT_MS = 10_000;
const VISIBLE_REFRESH_MS = 30_000;

function fail(socket: WebSocket, code: string, message: string, close: number): void {
  socket.send(JSON.stringify({ type: 'error', code, message }));
  socket.close(close);
}

export async function streamRoutes(app: FastifyInstance, opts: { live: LiveStream; access: AccessStore; resolve: PrincipalResolver }): Promise<void> {
  app.get(
    '/api/v1/stream',
    {
      websocket: true,
      config: { public: true },
      schema: {
        tags: ['telemetry'],
        description:
          'WebSocket. First frame from the client: {"type":"auth","token":"<bearer token>","tenant":"<optional, platform administrators>"}; then {"type":"subscribe","devices":[…]|null} at any time. Server frames: {type:"hello", tenant}, {type:"telemetry", device, points}, {type:"lagged", dropped, ms} (the client fell more than 4 MiB behind for ms milliseconds and missed `dropped` values replaced by newer ones; sent once it catches up), {type:"error", code, message}. A client that stays behind for 30 s is closed with 4408 (IIP_ERR_STREAM_LAGGED).',
      },
    },
    (socket, req) => {
      let handle: ReturnType<LiveStream['add']> | undefined;
      let authenticating = false;
      /** A subscribe frame that came while the auth frame was being checked: applied once the socket is open. */
      let early: string[] | null | undefined;
      let refresh: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => fail(socket, 'IIP_ERR_AUTH_REQUIRED', 'send {"type":"auth","token":…} first', 4401), AUTH_TIMEOUT_MS);
      socket.on('close', () => {
        clearTimeout(timer);
        clearInterval(refresh);
        handle?.remove();
      });
      socket.on('message', (data: Buffer) => {
        let msg: { type?: string; devices?: unknown; token?: unknown; tenant?: unknown };
        try {
          msg = JSON.parse(data.toString());
        } catch {
          socket.send(JSON.stringify({ type: 'error', code: 'IIP_ERR_PAYLOAD_NOT_JSON', message: 'stream control messages are JSON' }));
          return;
        }
        const devices = Array.isArray(msg.devices) ? msg.devices.map(String) : null;
        if (!handle && authenticating) {
          if (msg.type === 'subscribe') early = devices;
          return;
        }
        if (!handle) {
          if (msg.type !== 'auth' || typeof msg.token !== 'string') {
            fail(socket, 'IIP_ERR_AUTH_REQUIRED', 'the first frame must be {"type":"auth","token":…}', 4401);
            return;
          }
          clearTimeout(timer);
          authenticating = true;
          void start(msg.token, typeof msg.tenant === 'string' ? msg.tenant : undefined).catch((e: unknown) => {
            const err = e instanceof IipError ? e : new IipError('IIP_ERR_INTERNAL', String(e), {});
            fail(socket, err.code, err.message, err.code === 'IIP_ERR_AUTH_FORBIDDEN' || err.code === 'IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED' ? 4403 : 4401);
          });
          return;
        }
        if (msg.type === 'subscribe') handle.setDevices(devices);
      });

      async function start(token: string, tenant: string | undefined): Promise<void> {
        const p = await opts.resolve(token, tenant, req.ip);
        requireEnrolled(p, undefined);
        const ac = req.server.accessControl;
        if (!p.subject.anywhere('devices:read', p.tenant)) throw new IipError('IIP_ERR_AUTH_FORBIDDEN', 'not permitted to read any device of this tenant: needs "devices:read"', { permission: 'devices:read', tenant: p.tenant });
        let visible: Set<string> | undefined;
        const computeVisible = async (): Promise<void> => {
          if (await ac.allows(p.subject, 'devices:read', { tenant: p.tenant })) {
            visible = undefined;
            return;
          }
          const tree = await ac.tree(p.tenant);
          const assets = new Set(tree.subtrees(p.subject.assetsWith('devices:read')));
          visible = new Set((await opts.access.listPlacements(p.tenant)).filter((x) => assets.has(x.asset)).map((x) => x.device));
        };
        await computeVisible();
        if (socket.readyState !== socket.OPEN) return;
        handle = opts.live.add(socket, p.tenant, (device) => visible === undefined || visible.has(device));
        if (early !== undefined) handle.setDevices(early);
        refresh = setInterval(() => void computeVisible().catch(() => undefined), VISIBLE_REFRESH_MS);
        refresh.unref();
        // Hello once batches flow, so a client that waits for it misses nothing stored after it.
        handle.ready.then(
          () => socket.send(JSON.stringify({ type: 'hello', tenant: p.tenant })),
          (e: unknown) => fail(socket, 'IIP_ERR_BUS_UNAVAILABLE', `the live stream cannot subscribe to the bus: ${(e as Error).message}`, 1011),
        );
      }
    },
  );
}
