// One demo app instance: `tsx demo/server.ts`, configured by the environment the launcher sets.
import { pino } from "pino";
import type { RedisTopology } from "redis-ha-session";
import { createDemoApp } from "./app.js";

const instance = process.env.DEMO_INSTANCE ?? "app";
const logger = pino({ base: { instance } });
const secret = process.env.SESSION_SECRET;
const redis = process.env.DEMO_REDIS;
const databaseUrl = process.env.DEMO_DATABASE_URL;
if (secret === undefined || redis === undefined || databaseUrl === undefined) {
  logger.fatal(
    "SESSION_SECRET, DEMO_REDIS and DEMO_DATABASE_URL must be set (the launcher sets them)",
  );
  process.exit(1);
}
const topology = JSON.parse(redis) as RedisTopology;
const { app, sessions, cache, catalogue } = createDemoApp({
  instance,
  redis: topology,
  secret,
  databaseUrl,
  logger,
  cacheTtl:
    process.env.DEMO_CACHE_TTL === undefined ? undefined : Number(process.env.DEMO_CACHE_TTL),
});
const port = Number(process.env.PORT ?? 0);
// 127.0.0.1 unless told otherwise (the container image listens on 0.0.0.0).
const host = process.env.HOST ?? "127.0.0.1";
const server = app.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === "object" && address !== null ? address.port : port;
  logger.info({ port: actual }, "listening");
  process.stdout.write(`${JSON.stringify({ listening: actual })}\n`);
});
const shutdown = () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled([sessions.store.close(), cache.close(), catalogue.close()]).finally(() =>
    process.exit(0),
  );
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
