/** @iip/rules — see package.json. */
export * from './errors.js';
export * from './expression.js';
export * from './rule.js';
export { parseDuration } from './rule-doc.js';
export * from './actions.js';
export * from './dispatcher.js';
export * from './condition.js';
export * from './alarm-state.js';
export * from './engine.js';
export * from './alarm-service.js';
export * from './kpis.js';
export * from './backtest.js';
