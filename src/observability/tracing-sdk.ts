import type { Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

export interface Tracing {
  tracer: Tracer;
  /** Exports the spans still buffered and stops; at shutdown. */
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry SDK with the OTLP/HTTP exporter, configured by the standard OTEL_* variables
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
 * OTEL_EXPORTER_OTLP_HEADERS, …), which the SDK reads itself. Nothing is registered globally: the
 * tracer goes to the app, and spans' parents are carried by the request's scope. src/server.ts
 * imports this module only when tracing is on: without it, the SDK is not even loaded.
 */
export function startTracing(): Tracing {
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": "chirp" })).merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  return { tracer: provider.getTracer("chirp"), shutdown: () => provider.shutdown() };
}
