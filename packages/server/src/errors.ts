import { defineErrors } from '@iip/core';

export const SERVER_ERRORS = defineErrors({
  IIP_ERR_DATA_DIR: {
    status: 500,
    meaning: 'The data directory cannot be created or written.',
    fix: 'Choose a writable directory with --data <dir> or IIP_DATA_DIR=<dir>.',
  },
  IIP_ERR_TOPOLOGY: {
    status: 500,
    meaning: 'The storage, bus and roles given to `iip up` do not make a platform that can run: e.g. a role split without a shared PostgreSQL and NATS, or a bus URL that is not nats://.',
    fix: 'Run everything in one process (no --role), or give every process the same --storage postgres://… and --bus nats://… (docs/scale-out.md).',
  },
  IIP_ERR_STREAM_LAGGED: {
    status: 503,
    meaning: 'A live-stream WebSocket stayed more than its buffer cap (4 MiB) behind for longer than 30 s: the client was not reading what it was sent. The socket is closed with code 4408.',
    fix: 'Read the socket promptly (do not block its message handler), subscribe to fewer devices, or reconnect; a client that lags for a moment is told with a {"type":"lagged"} frame instead.',
  },
});
