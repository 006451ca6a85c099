import type { RedisSessionStore } from "./RedisSessionStore.js";

/** Stores not yet closed: the helpers that take a user id use the one there is. */
export const liveStores = new Set<RedisSessionStore>();
