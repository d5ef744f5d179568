/** A historian over a real SQLite file in a temp dir, with reopen for durability tests. */
import { join } from 'node:path';
import { Historian } from '@iip/historian';
import type { HistorianOptions } from '@iip/historian';
import { openSqliteStorage } from '@iip/storage';
import type { Storage } from '@iip/storage';
import { tempDir } from '@iip/testkit';

export interface HistorianFixture {
  storage: Storage;
  historian: Historian;
  /** The SQLite file, for a second (read-only) connection. */
  readonly file: string;
  /** Closes the historian and the file, then opens both again. */
  reopen(opts?: HistorianOptions): Promise<void>;
  cleanup(): Promise<void>;
}

export async function openHistorian(opts?: HistorianOptions): Promise<HistorianFixture> {
  const dir = await tempDir('iip-historian-');
  const file = join(dir.path, 'iip.db');
  const fx: HistorianFixture = {
    storage: openSqliteStorage({ file }),
    historian: undefined as unknown as Historian,
    file,
    async reopen(again) {
      await fx.historian.close();
      await fx.storage.close();
      fx.storage = openSqliteStorage({ file });
      fx.historian = new Historian(fx.storage.telemetry, again);
    },
    async cleanup() {
      await fx.historian.close().catch(() => undefined);
      await fx.storage.close();
      await dir.cleanup();
    },
  };
  fx.historian = new Historian(fx.storage.telemetry, opts);
  return fx;
}
