/**
 * OPC UA for device access: the `OpcUaDriver` (subscriptions with sampling and deadband, reads, typed
 * writes, browse, security None/Sign/SignAndEncrypt, user identities, every value type incl. 64-bit integers, arrays and structures, reconnect that re-creates monitored items) and helpers
 * for the client's PKI folder.
 */
export { type OpcUaBrowseEntry, OpcUaDriver, type OpcUaDriverOptions, type OpcUaLog, type OpcUaNodeClassName } from './opcua-driver.js';
export { ensureOpcUaClientCertificate, opcUaClientApplicationUri, opcUaClientCertificateFile, trustOpcUaServerCertificate } from './opcua-client-pki.js';
