/**
 * Report outputs of an evaluation: the self-contained HTML report (ECharts inlined, 中文/English),
 * `result.json` and one CSV per table. Reads only the `EvaluationResult` contract.
 */
export { columnsOf, csvFileName, toCsv } from './csv.js';
export type { Cell, Row } from './csv.js';
export { buildPayload, renderReportHtml } from './report-html.js';
export type { ReportLang, ReportPayload } from './report-html.js';
export { reportTables } from './report-tables.js';
export { isSynthetic, renderReport, reportCsvFiles, writeReport } from './write-report.js';
export type { WriteReportOptions } from './write-report.js';
