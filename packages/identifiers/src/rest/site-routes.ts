/**
 * `GET /api/site`: the node's own site information, as Handle.Net v9's JSON API answers a site request —
 * `{responseCode: 1, site: {...}}` with the site in the reference's JSON shape (GsonUtility's response
 * adapter puts a site-info response under `site`). The site is the very record the binary protocol's
 * get-site-info returns for this node, so both front ends describe the same servers, ports and key.
 */
import type { FastifyInstance } from 'fastify';
import type { HandleService } from '../model/handle-service.js';
import { ResponseCode } from '../model/response-codes.js';
import { type SiteJson, siteToJson } from './value-json.js';

export interface SiteResponseJson {
  responseCode: number;
  site: SiteJson;
}

export function registerSiteRoutes(app: FastifyInstance, service: Pick<HandleService, 'siteInfo'>): void {
  // Anonymous like the binary get-site-info: clients need it before they can authenticate.
  app.get('/api/site', async (): Promise<SiteResponseJson> => ({ responseCode: ResponseCode.SUCCESS, site: siteToJson(service.siteInfo()) }));
}
