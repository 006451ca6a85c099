import { deserialize, serialize } from "node:v8";
import type { CacheSerializer } from "./entry.js";

/**
 * A `serializer` for the cache that keeps what JSON would change: Dates, Maps, Sets, BigInts,
 * typed arrays, `undefined` in arrays, NaN (the structured clone of `node:v8`, as base64). Class
 * instances still come back as plain objects, so the cache refuses them. Only Node.js processes
 * can read its values.
 */
export const v8Serializer: CacheSerializer = {
  stringify: (value) => serialize(value).toString("base64"),
  parse: (text) => deserialize(Buffer.from(text, "base64")) as unknown,
};
