/**
 * The little of parse-prometheus-text-format 1.1 (a port of the Prometheus Python client's text-format parser)
 * that issue-20-metrics.test.ts uses; the package ships no types of its own. Values stay strings, as parsed.
 */
declare module 'parse-prometheus-text-format' {
  export interface ParsedSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    /** HISTOGRAM: `le` → cumulative count. */
    readonly buckets?: Readonly<Record<string, string>>;
    /** SUMMARY: quantile → value. */
    readonly quantiles?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly ParsedSample[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
