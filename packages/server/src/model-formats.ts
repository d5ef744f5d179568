/** Import and export of thing models in the formats the API offers: iip's own, JetLinks-style TSL, W3C WoT TD. */
import { IipError, modelToTsl, modelToWot, tslToModel, wotToModel, type ThingModel } from '@iip/core';
import type { Product } from '@iip/storage';

export interface ModelFormats {
  importModel(format: 'tsl' | 'wot', doc: unknown): ThingModel;
  exportModel(format: 'iip' | 'tsl' | 'wot', p: Product): unknown;
}

export const modelFormats: ModelFormats = {
  importModel(format, doc) {
    switch (format) {
      case 'tsl':
        return tslToModel(doc);
      case 'wot':
        return wotToModel(doc);
      default:
        throw new IipError('IIP_ERR_VALIDATION', `unknown model format "${String(format)}"`, { field: 'format' });
    }
  },
  exportModel(format, p) {
    switch (format) {
      case 'iip':
        return p.model;
      case 'tsl':
        return modelToTsl(p.model);
      case 'wot':
        return modelToWot(p.model, { id: `urn:iip:${p.tenant}:product:${p.id}`, title: p.name });
      default:
        throw new IipError('IIP_ERR_VALIDATION', `unknown model format "${String(format)}"`, { field: 'format' });
    }
  },
};
