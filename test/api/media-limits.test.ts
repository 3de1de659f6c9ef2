import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApi, type TestUser, testApi } from "../support/api.js";

let api: TestApi;
let user: TestUser;
let server: Server;
let port: number;

beforeAll(async () => {
  api = await testApi();
  user = await api.signUp();
  server = createServer(api.app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const MB = 1_000_000;
const BOUNDARY = "chirp-boundary";

/**
 * Sends an upload of `fileBytes` over a real socket, 64 kB at a time, and stops writing as soon as
 * the answer arrives. Returns the answer's status and body, and how many bytes were written by then.
 */
function streamUpload(fileBytes: number, contentLength: number) {
  const operations = JSON.stringify({ query: "mutation ($input: UploadMediaInput!) { uploadMedia(input: $input) { __typename } }", variables: { input: { file: null } } });
  const head = [
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n`,
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.input.file"]}\r\n`,
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  ].join("");
  return new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let written = 0;
    let answered = false;
    socket.on("error", (error) => (answered ? undefined : reject(error)));
    socket.on("data", (chunk) => {
      answer += chunk.toString();
      const end = answer.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(answer)?.[1];
      if (end < 0 || length === undefined || answer.length < end + 4 + Number(length)) return;
      answered = true;
      socket.destroy();
      resolve({ status: Number(answer.split(" ")[1]), body: answer.slice(end + 4), written });
    });
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: chirp.test\r\nAuthorization: Bearer ${user.token}\r\nx-graphql-yoga-csrf: 1\r\n` +
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${contentLength}\r\n\r\n${head}`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0xff);
    const pump = () => {
      while (!answered && written < fileBytes) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once("drain", pump);
      }
    };
    setImmediate(pump);
  });
}

describe("an oversized upload is refused while it streams in, not after", () => {
  it("50 MB declared: 413 before the body is read, a few hundred kB written at most", async () => {
    const rss = process.memoryUsage().rss;
    const { status, body, written } = await streamUpload(50 * MB, 50 * MB + 1000);
    expect(status).toBe(413);
    expect(JSON.parse(body).errors[0]).toMatchObject({ extensions: { code: "BAD_REQUEST" }, message: expect.stringMatching(/^The request body is larger than 20204800 bytes\.$/) });
    expect(written).toBeLessThan(5 * MB);
    expect(process.memoryUsage().rss - rss).toBeLessThan(40 * MB);
  });

  it("a 19 MB file within the request's bound: 413 once 5 MB of it have streamed in, long before the rest", async () => {
    const { status, body, written } = await streamUpload(19 * MB, 19 * MB + 1000);
    expect(status).toBe(413);
    expect(JSON.parse(body).errors[0]).toMatchObject({ extensions: { code: "BAD_REQUEST" }, message: "A file is larger than the 5000000 bytes allowed." });
    expect(written).toBeGreaterThan(5 * MB);
    expect(written).toBeLessThan(12 * MB);
  });
});
