/**
 * Error codes of @iip/historian: values it cannot store, trends over series that have no numbers, and
 * writes after close(), and commits that failed.
 */
import { defineErrors } from '@iip/core';

export const HISTORIAN_ERRORS = defineErrors({
  IIP_ERR_HISTORIAN_VALUE: {
    status: 422,
    meaning: 'A telemetry value is not a finite number, a boolean, a string or an array of them.',
    fix: 'Send finite numbers (no NaN or Infinity), booleans, strings or arrays of them; details name the property.',
  },
  IIP_ERR_HISTORIAN_NOT_NUMERIC: {
    status: 422,
    meaning: 'A trend (min/max/avg) was asked of a string, enum or array property.',
    fix: 'Ask for the history (raw points) of string and array properties instead; trends exist for numeric and boolean ones.',
  },
  IIP_ERR_HISTORIAN_WRITE_FAILED: {
    status: 503,
    meaning: 'The transaction that was to commit the telemetry failed, so it was not stored and not acknowledged (no MQTT PUBACK, no HTTP 2xx).',
    fix: 'Send the message again (re-delivered points are stored once); check the platform log and the data directory (disk full, permissions).',
  },
  IIP_ERR_HISTORIAN_CLOSED: {
    status: 503,
    meaning: 'Telemetry was ingested after the historian was closed.',
    fix: 'Ingest before close(); a closing platform rejects new points so that none are lost silently.',
  },
});
