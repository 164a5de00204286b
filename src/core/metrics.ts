// Operation duration histograms through the global MeterProvider, at no cost when none is registered.
import { type Attributes, createNoopMeter, type Histogram, metrics as metricsApi } from '@opentelemetry/api';
import { TRACER_NAME } from './conventions.js';

/** A duration histogram, by its semantic-convention name, and the attributes of one operation's record. */
export interface OperationMetric {
  name: string;
  description: string;
  attributes: Attributes;
}

/** The semantic conventions' advice for RPC and HTTP durations, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

let histogramProvider: unknown;
let providerIsNoop = true;
const histograms = new Map<string, Histogram>();

/**
 * Whether a real MeterProvider is registered now. Without one, operations skip their clock reads and
 * records altogether: metrics then cost nothing but this check.
 */
export function metersActive(): boolean {
  const provider = metricsApi.getMeterProvider();
  if (provider !== histogramProvider) {
    histogramProvider = provider;
    histograms.clear();
    providerIsNoop = provider.getMeter(TRACER_NAME) === createNoopMeter();
  }
  return !providerIsNoop;
}

/** The histogram `name` of the global meter provider as it is now; made once per provider. */
export function histogram(metric: OperationMetric): Histogram {
  metersActive();
  let found = histograms.get(metric.name);
  if (!found) {
    found = metricsApi
      .getMeterProvider()
      .getMeter(TRACER_NAME)
      .createHistogram(metric.name, {
        unit: 's',
        description: metric.description,
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
    histograms.set(metric.name, found);
  }
  return found;
}
