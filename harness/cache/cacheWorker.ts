// One app process with this library's cache, as an instance of a fleet:
// `node --import tsx cacheWorker.ts`. CACHE_OPTIONS (JSON of createCache options), CACHE_INSTANCE,
// CACHE_DATABASE (a FakeDatabase's URL, which its loaders read). See workerServer.ts.
import { createCache } from "../../src/index.js";
import type { CacheOptions } from "../../src/index.js";
import { serveCacheWorker } from "./workerServer.js";

const options = JSON.parse(process.env.CACHE_OPTIONS ?? "{}") as CacheOptions;
serveCacheWorker(createCache(options), {
  instance: process.env.CACHE_INSTANCE ?? "cache",
  database: process.env.CACHE_DATABASE ?? "",
});
