/** Recognising SQLite's own errors, so adapters can turn them into IIP_ERR_* codes. */

/** True for a PRIMARY KEY / UNIQUE violation (better-sqlite3 puts the extended result code in `code`). */
export function isConstraintViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export function isForeignKeyViolation(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
