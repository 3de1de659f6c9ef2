import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { type HttpServer, createHttpServer } from "../src/http-server.js";
import { testApi } from "./support/api.js";

const { http: timeouts } = loadConfig({ JWT_SECRET: "test-secret-that-is-at-least-32-chars!", REQUEST_TIMEOUT: "2", HEADERS_TIMEOUT: "1" });
let http: HttpServer;
let port: number;
beforeAll(async () => {
  const api = await testApi();
  http = createHttpServer(api.app, timeouts);
  await new Promise<void>((resolve) => http.server.listen(0, "127.0.0.1", resolve));
  port = (http.server.address() as AddressInfo).port;
});
afterAll(() => http.server.close());

const body = JSON.stringify({ query: "{ __typename }" });
const head = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;

/** Sends `sent` at once, then the rest of `text` one byte a second; resolves with what came back when the server closed. */
function trickle(text: string, sent: number) {
  const started = Date.now();
  const socket = connect(port, "127.0.0.1");
  let answer = "";
  socket.on("data", (chunk) => (answer += chunk));
  socket.on("error", () => {});
  socket.write(text.slice(0, sent));
  let next = sent;
  // Bounded by the text's length: a server without timeouts would get the whole request after it.
  const timer = setInterval(() => next < text.length && socket.write(text[next++]!), 1_000);
  return new Promise<{ answer: string; seconds: number }>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      resolve({ answer, seconds: (Date.now() - started) / 1000 });
    }),
  );
}

describe("slow clients", () => {
  it("cuts a body trickled at 1 byte/s after REQUEST_TIMEOUT with a 408", async () => {
    const { answer, seconds } = await trickle(head + body, head.length);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    // Node checks the timeouts once a second.
    expect(seconds).toBeGreaterThanOrEqual(1.9);
    expect(seconds).toBeLessThan(3.5);
  });

  it("cuts headers trickled at 1 byte/s after HEADERS_TIMEOUT", async () => {
    const { answer, seconds } = await trickle(head + body, 10);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(seconds).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(2.5);
  });

  it("still answers a client that sends its request at once", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(await response.json()).toEqual({ data: { __typename: "Query" } });
  });
});
