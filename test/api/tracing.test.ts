import { mkdtempSync } from "node:fs";
import { type IncomingMessage, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpanKind } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type TestApi, type TestUser, testApi } from "../support/api.js";
import { killServers, postGraphQL, startServer } from "../support/server-process.js";

// Traces of real requests, collected in memory: the request, its parse, validate and execute, and
// each SQL statement beneath execute, in one trace; a trusted proxy's traceparent continues its
// trace; and, through a real server process, spans exported over OTLP/HTTP to a peer that listens.

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

let api: TestApi;
let alice: TestUser;
beforeAll(async () => {
  // A proxy on loopback is trusted: its X-Request-Id and traceparent are believed.
  const config = loadConfig({ NODE_ENV: "test", JWT_SECRET: "test-secret-that-is-at-least-32-chars!", LOG_LEVEL: "silent", TRUST_PROXY: "loopback", SIGNUPS_PER_IP: "1000000" });
  api = await testApi(config, { tracer: provider.getTracer("test") });
  alice = await api.signUp({ handle: "traced_alice" });
});
afterAll(() => killServers());

const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe("a traced request", () => {
  it("is one trace: the request, its parse, validate and execute, and each statement beneath execute", async () => {
    exporter.reset();
    const { statements, headers } = await api.executeCounted('query Profile { user(handle: "traced_alice") { handle posts: followers(first: 2) { edges { node { handle } } } } }', undefined, { as: alice });
    expect(statements).toHaveLength(2);
    const root = exporter.getFinishedSpans().find((span) => span.name === "POST /graphql")!;
    expect(root).toBeDefined();
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(parentOf(root)).toBeUndefined();
    expect(root.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/graphql",
      "http.response.status_code": 200,
      "graphql.operation.name": "Profile",
      "graphql.operation.type": "query",
      "chirp.request_id": headers!.get("x-request-id"),
    });
    const trace = spansOf(root.spanContext().traceId);
    const named = (name: string) => trace.filter((span) => span.name === name);
    for (const phase of ["graphql.parse", "graphql.validate", "graphql.execute"]) {
      expect(named(phase), phase).toHaveLength(1);
      expect(parentOf(named(phase)[0]!)).toBe(root.spanContext().spanId);
    }
    const execute = named("graphql.execute")[0]!;
    expect(execute.attributes).toMatchObject({ "graphql.operation.name": "Profile", "graphql.operation.type": "query" });
    const sql = trace.filter((span) => span.kind === SpanKind.CLIENT);
    expect(sql.map((span) => span.attributes["db.statement"])).toEqual(statements);
    for (const span of sql) {
      expect(parentOf(span)).toBe(execute.spanContext().spanId);
      expect(span.attributes["db.system"]).toBe("postgresql");
      expect(span.name).toBe("SELECT");
      // The statement's text has placeholders; the values bound to them are nowhere in the span.
      expect(JSON.stringify(span.attributes)).not.toContain("traced_alice");
    }
    // Everything started inside the request's span. Ends are not compared: the SDK anchors each span on
    // Date.now() at its start (whole milliseconds) and adds performance.now() durations, so two spans'
    // clocks differ by up to 1 ms (a child was seen to "end" 0.13 ms after the request on PostgreSQL).
    for (const span of trace) expect(span.startTime[0] * 1e9 + span.startTime[1]).toBeLessThanOrEqual(root.endTime[0] * 1e9 + root.endTime[1]);
  });

  it("continues the trace a trusted proxy's traceparent names", async () => {
    exporter.reset();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    await api.execute("query Who { __typename }", undefined, { headers: { traceparent: `00-${traceId}-${parentId}-01` } });
    const root = exporter.getFinishedSpans().find((span) => span.name === "POST /graphql")!;
    expect(root.spanContext().traceId).toBe(traceId);
    expect(parentOf(root)).toBe(parentId);
  });

  it("starts a trace of its own when the traceparent comes from anyone else", async () => {
    exporter.reset();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await api.execute("query Who { __typename }", undefined, { ip: "203.0.113.9", headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const root = exporter.getFinishedSpans().find((span) => span.name === "POST /graphql")!;
    expect(root.spanContext().traceId).not.toBe(traceId);
    expect(parentOf(root)).toBeUndefined();
  });

  it("traces what is not GraphQL too, by route", async () => {
    exporter.reset();
    const response = await api.app.fetch("http://chirp.test/media/1/" + "a".repeat(64) + "-small.jpg", {}, { req: { socket: { remoteAddress: "127.0.0.1" } } });
    expect(response.status).toBe(404);
    const root = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    expect(root.name).toBe("GET /media/*");
    expect(root.attributes["http.response.status_code"]).toBe(404);
    expect(spansOf(root.spanContext().traceId).filter((span) => span.kind === SpanKind.CLIENT).length).toBeGreaterThan(0);
  });
});

describe("OTLP/HTTP export from a server process", () => {
  it("sends its spans to OTEL_EXPORTER_OTLP_ENDPOINT, named by OTEL_SERVICE_NAME, and flushes them at shutdown", { timeout: 150_000 }, async () => {
    const received: { path: string; type: string | undefined; body: unknown }[] = [];
    const collector = createServer((req: IncomingMessage, res) => {
      let text = "";
      req.setEncoding("utf8");
      req.on("data", (chunk) => (text += chunk));
      req.on("end", () => {
        received.push({ path: req.url ?? "", type: req.headers["content-type"], body: JSON.parse(text) });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const { port: collectorPort } = collector.address() as AddressInfo;
    try {
      const server = await startServer(mkdtempSync(join(tmpdir(), "chirp-otlp-")), {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
        OTEL_SERVICE_NAME: "chirp-under-test",
      });
      expect(server.output()).toContain('"tracing":true');
      const { answer } = postGraphQL(server.port, { query: "query Hello { __typename }" });
      expect((await answer).status).toBe(200);
      server.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(received.length).toBeGreaterThan(0);
      expect(received.every((r) => r.path === "/v1/traces" && r.type === "application/json")).toBe(true);
      type Otlp = { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string; attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] };
      const batches = received.map((r) => r.body as Otlp).flatMap((b) => b.resourceSpans);
      expect(batches[0]!.resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "chirp-under-test" } });
      const spans = batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans));
      const names = spans.map((span) => span.name);
      expect(names).toEqual(expect.arrayContaining(["POST /graphql", "graphql.parse", "graphql.validate", "graphql.execute"]));
      const root = spans.find((span) => span.name === "POST /graphql")!;
      expect(root.attributes).toContainEqual({ key: "graphql.operation.name", value: { stringValue: "Hello" } });
    } finally {
      collector.close();
    }
  });

  it("makes no spans and starts no exporter without OTEL_EXPORTER_OTLP_ENDPOINT", () => {
    const config = loadConfig({ NODE_ENV: "test", JWT_SECRET: "test-secret-that-is-at-least-32-chars!" });
    expect(config.tracing.enabled).toBe(false);
    expect(loadConfig({ NODE_ENV: "test", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).tracing.enabled).toBe(true);
    expect(loadConfig({ NODE_ENV: "test", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }).tracing.enabled).toBe(false);
    expect(() => loadConfig({ NODE_ENV: "test", OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/);
  });
});
