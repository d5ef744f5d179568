/**
 * Error codes of @iip/storage. Engine-independent failures (conflict, not found) use the core codes; these
 * cover what only a storage engine can get wrong: a database file from the future and a series whose kind
 * changed under it.
 */
import { defineErrors } from '@iip/core';

export const STORAGE_ERRORS = defineErrors({
  IIP_ERR_STORAGE_SCHEMA_TOO_NEW: {
    status: 500,
    meaning: 'The database file was migrated by a newer iip version than the one opening it.',
    fix: 'Run the newer iip version, or restore a backup taken before the upgrade.',
  },
  IIP_ERR_STORAGE_UNAVAILABLE: {
    status: 503,
    meaning: 'The storage server (PostgreSQL) cannot be reached, refused the connection or went away during the operation, so the operation was not confirmed.',
    fix: 'Retry later (telemetry writes are idempotent: a repeated point is a duplicate); check that PostgreSQL runs and is reachable at the storage URL (--storage / IIP_STORAGE_URL).',
  },
  IIP_ERR_STORAGE_SERIES_KIND: {
    status: 409,
    meaning: 'A telemetry series already exists with another value kind (number, boolean, string or array).',
    fix: "Keep a property's data type stable, or delete the device's telemetry before changing the type.",
  },
});
