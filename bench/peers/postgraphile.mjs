// PostGraphile v5 over Chirp's tables plus the bench_peer schema (bench_peer.sql), with its fastest
// production settings: no GraphiQL, no watch mode, no schema export, no explain, no LISTEN client.
// Environment: DATABASE_URL, PORT, HOST (127.0.0.1), DATABASE_POOL_SIZE (10). The viewer is the
// X-Viewer-Id request header, handed to PostgreSQL as the jwt.claims.viewer_id transaction setting.
// It exposes the whole public schema, password hashes included: fine for generated benchmark data on
// 127.0.0.1, not a way to deploy.
import { createServer } from "node:http";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const port = Number(process.env.PORT ?? 5678);
const host = process.env.HOST ?? "127.0.0.1";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public", "bench_peer"],
      poolConfig: { max: Number(process.env.DATABASE_POOL_SIZE ?? 10) },
      pubsub: false,
    }),
  ],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false, websockets: false, outputDataAsString: true },
  grafast: {
    explain: false,
    context(requestContext) {
      const viewer = requestContext.node?.req.headers["x-viewer-id"];
      return typeof viewer === "string" && /^\d+$/.test(viewer) ? { pgSettings: { "jwt.claims.viewer_id": viewer } } : {};
    },
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
serv.addTo(server).then(
  () => server.listen(port, host, () => console.log(`PostGraphile ready at http://${host}:${port}/graphql`)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

async function shutdown() {
  server.close();
  await pgl.release();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
