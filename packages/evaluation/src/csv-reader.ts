/**
 * CSV for evaluation data: core's RFC 4180 reader, with syntax errors restated as IIP_ERR_EVAL_DATA_FORMAT
 * naming the file, so every data error of the evaluation names file, row and column the same way.
 */
import { type CsvRecord, IipError, readCsvRecords } from '@iip/core';

export type { CsvRecord };

export function readCsv(text: string, file = '<csv>', delimiter = ','): CsvRecord[] {
  try {
    return readCsvRecords(text, delimiter);
  } catch (e) {
    if (e instanceof IipError && e.code === 'IIP_ERR_CSV_INVALID') {
      throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${file}: ${e.message}`, { file, ...e.details });
    }
    throw e;
  }
}
