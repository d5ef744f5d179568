/**
 * The OPC UA side of the virtual factory: a node-opcua server exposing simulated devices as folders of
 * variables, with security modes None, Sign and SignAndEncrypt, users and type samples, for demos and driver tests.
 */
export { OPCUA_SIM_NAMESPACE_URI, opcUaDeviceNodeId, opcUaPropertyNodeId } from './opcua-node-ids.js';
export { type OpcUaServerOptions, type OpcUaSimSecurityMode, type OpcUaSimulatorServer, startOpcUaServer } from './opcua-simulator-server.js';
export { BEYOND_SAFE_UINT64, sampleValue, sampleVariant, TYPE_SAMPLES, TYPE_SAMPLES_FOLDER, typeSampleNodeId } from './opcua-type-samples.js';
