/**
 * Upper bounds the decoders enforce. They are generous for real records and small enough that a forged
 * length or count is refused before it can cost memory. Handle.Net uses the same order of magnitude
 * (2,048 values per message, 256 KiB messages); our TCP limit is larger so bulk admin requests fit.
 */
import { MAX_HANDLE_BYTES } from '../model/handle-name.js';

export const LIMITS = {
  /** Handles on the wire; a longer one is INVALID_HANDLE, not a protocol error. */
  handleBytes: MAX_HANDLE_BYTES,
  typeBytes: 1024,
  valueDataBytes: 1024 * 1024,
  valuesPerMessage: 2048,
  referencesPerValue: 1024,
  indexesPerRequest: 2048,
  typesPerRequest: 256,
  handlesPerList: 1_000_000,
  nonceBytes: 1024,
  digestBytes: 1024,
  credentialBytes: 64 * 1024,
  errorMessageBytes: 64 * 1024,
  /** Whole message after the envelope (header + body + credential). */
  messageBytes: 4 * 1024 * 1024,
  siteServers: 1024,
  siteAttributes: 1024,
  interfacesPerServer: 64,
} as const;
