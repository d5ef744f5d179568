/** Types of node-flags.mjs (the launchers are plain JavaScript). */
export declare const PLATFORM_NODE_FLAGS: readonly string[];
