/**
 * The binary protocol client as the resolver's upstream: a server's error reply (100, 200, 301…) is an
 * answer and comes back as a response code, while "no reply" (timeout, refused) rejects, because only that
 * should make the resolver fail over to another server or site.
 */
import { HandleError } from '../model/handle-error.js';
import type { HandleClient } from '../transport/handle-client.js';
import type { ResolutionUpstream } from './recursive-resolver.js';

export function handleClientUpstream(client: HandleClient): ResolutionUpstream {
  return {
    async ask(server, handle) {
      try {
        return await client.resolve(server, handle);
      } catch (e) {
        if (e instanceof HandleError && e.code !== 'IIP_ERR_HANDLE_UNREACHABLE') return { responseCode: e.responseCode, values: [], message: e.message };
        throw e;
      }
    },
  };
}
