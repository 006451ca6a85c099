import { randomBytes } from "node:crypto";
import type { CacheBus } from "./CacheBus.js";
import type { CacheCounters } from "./CacheCounters.js";
import type { Budget, CacheRedis } from "./CacheRedis.js";
import { decodeEntry, encodeValue } from "./entry.js";
import type { StoredEntry } from "./entry.js";
import type { Limiter } from "./Limiter.js";
import { answerWithin, timedOut } from "./loaderTimeouts.js";
import { ttlMsOf } from "./callOptions.js";
import type { CallTtl } from "./callOptions.js";
import type { Answer } from "./loaderTimeouts.js";
import { CorruptEntryError } from "../errors/internal/CorruptEntryError.js";
import { debugFor } from "../redis/debug.js";

const log = debugFor("cache");

/** A load's lease lives this long unless renewed: a holder that dies frees it within a second. */
export const LEASE_MS = 1_000;
/** The holder renews its lease this often while its loader runs. */
const RENEW_MS = 250;
/**
 * A fence outlives its last use by this; a load or write older than this is refused (its fence
 * may have expired and started over).
 */
export const FENCE_TTL_MS = 10 * 60_000;
/** After a failed refresh of an expired value, no other is tried for this long (see #underLease). */
export const REFRESH_BACKOFF_MS = 5_000;
/** A caller waits for another process's load at most this long, then loads itself. */
const WAIT_FOR_LOAD_MS = 10_000;

/** What one call's read found. */
export interface Found {
  /** A fresh value, its tags valid. */
  fresh: StoredEntry | undefined;
  /** An expired value still kept (`staleTtl`), its tags valid. */
  stale: StoredEntry | undefined;
  /** The oldest creation time a value may have, from its tags' invalidations (0: none). */
  minCreated: number;
  /** The key held something not in the cache's format (reported): to be overwritten. */
  corrupt: boolean;
}

/** What a load was asked for. */
export interface LoadRequest {
  key: string;
  redisKey: string;
  loader: () => unknown;
  /** The call's `ttl`: ms, a function of the value, or undefined (the cache's). */
  ttl: CallTtl;
  tags: string;
  tagList: readonly string[] | undefined;
}

export type { Answer } from "./loaderTimeouts.js";

/**
 * The miss path of getOrLoad: one load per key at a time across every process, by a lease in
 * Redis; the others wait for the holder's message (or for its lease to lapse, if it died) and
 * read what it stored. A load's value is stored only if nothing invalidated or wrote the key
 * meanwhile (the fill script). Without Redis, the loader is called directly. Either way at most
 * `unavailable.loaderConcurrency` loaders run at once in a process.
 */
export class CacheLoads {
  constructor(
    private readonly commands: CacheRedis,
    private readonly bus: CacheBus,
    private readonly counters: CacheCounters,
    private readonly limiter: Limiter,
  ) {}

  /** Reads a value and, if it has tags, their invalidation times; a corrupt entry is none. */
  async find(
    redisKey: string,
    tagList: readonly string[] | undefined,
    budget: Budget,
  ): Promise<Found> {
    const [stored, times] =
      tagList === undefined
        ? [await this.commands.read(redisKey, budget), undefined]
        : await Promise.all([
            this.commands.read(redisKey, budget),
            this.commands.tagTimes(tagList, budget),
          ]);
    let minCreated = times === undefined ? 0 : Math.max(0, ...times) + 1;
    if (stored === null) return { fresh: undefined, stale: undefined, minCreated, corrupt: false };
    const entry = this.decode(redisKey, stored);
    if (entry === undefined)
      return { fresh: undefined, stale: undefined, minCreated, corrupt: true };
    const unread = entry.tags?.filter((tag) => tagList?.includes(tag) !== true) ?? [];
    if (unread.length > 0) {
      const more = await this.commands.tagTimes(unread, budget);
      minCreated = Math.max(minCreated, Math.max(0, ...more) + 1);
    }
    if (entry.created < minCreated)
      return { fresh: undefined, stale: undefined, minCreated, corrupt: false };
    return entry.freshUntil > this.commands.serverNow()
      ? { fresh: entry, stale: undefined, minCreated, corrupt: false }
      : { fresh: undefined, stale: entry, minCreated, corrupt: false };
  }

  decode(redisKey: string, stored: string): StoredEntry | undefined {
    try {
      return decodeEntry(stored, this.commands.options.serializer);
    } catch (error) {
      if (!(error instanceof CorruptEntryError)) throw error;
      this.commands.reportCorrupt(redisKey, error.message);
      return undefined;
    }
  }

  /**
   * Loads under the key's lease, or waits for whoever holds it; see the class. With an expired
   * value at hand (`staleTtl`), a caller is answered with it once `loaderTimeout.soft` has passed,
   * whoever loads; without, it gets a LoaderTimeoutError past `loaderTimeout.hard`.
   */
  async load(request: LoadRequest, found: Found, budget: Budget): Promise<Answer> {
    const token = randomBytes(12).toString("base64url");
    const started = Date.now();
    const giveUpAt = started + WAIT_FOR_LOAD_MS;
    const { softTimeoutMs, hardTimeoutMs, waitMs } = this.commands.options;
    let stale = found.stale;
    let overwrite = found.corrupt;
    for (;;) {
      const reply = await this.commands
        .acquire(
          request.redisKey,
          token,
          LEASE_MS,
          FENCE_TTL_MS,
          found.minCreated,
          overwrite,
          budget,
        )
        .catch((error: unknown) => {
          this.#redisFailed("lease", error);
          return undefined;
        });
      if (reply === undefined) return this.direct(request, stale);
      const [kind, stored] = reply;
      if (kind === "hit") {
        const entry = this.decode(request.redisKey, stored);
        if (entry !== undefined) {
          this.counters.coalesce(request.key, "fleet");
          return { value: entry.value, entry };
        }
        // Not in the cache's format (reported): loaded again, and stored over it.
        overwrite = true;
        continue;
      }
      if (stored !== "" && !overwrite && stale === undefined) {
        // What the key holds, unless a tag of the call was invalidated after it was loaded.
        const entry = this.decode(request.redisKey, stored);
        if (entry !== undefined && entry.created >= found.minCreated) stale = entry;
      }
      if (kind === "lease") {
        const loading = this.#underLease(request, token, reply[2], reply[3], stale, budget);
        return answerWithin(
          request.key,
          loading,
          stale,
          started,
          this.commands.options,
          this.counters,
        );
      }
      // Another process refreshes it: the expired value, once the soft timeout is up.
      const limit = stale === undefined ? hardTimeoutMs : softTimeoutMs;
      const left = limit === undefined ? Infinity : started + limit - Date.now();
      if (left <= 0) return timedOut(request.key, stale, limit ?? 0, this.counters);
      if (Date.now() >= giveUpAt) {
        log("waited %d ms for another load of a key: loading it here", WAIT_FOR_LOAD_MS);
        return this.direct(request, stale);
      }
      // Woken by the holder's message, or when its lease would lapse (it died), plus a little —
      // but looking again after `waitMs` at the latest: a holder cut off from Redis (frozen,
      // failing over) can neither report nor renew, and a waiter must not wait a lease out.
      const lapse = Math.max(10, reply[2]) + 10;
      await this.bus.waitFor(request.key, Math.min(lapse, waitMs, left));
    }
  }

  /**
   * Calls the loader without Redis (unavailable, or given up on), at most
   * `loaderConcurrency` at once; serves the stale value if it fails or is slow (see load).
   */
  direct(request: LoadRequest, stale: StoredEntry | undefined): Promise<Answer> {
    const loading = this.limiter
      .run(() => this.counters.load(request.key, request.loader))
      .then((value) => ({ value, entry: undefined }));
    return answerWithin(
      request.key,
      loading,
      stale,
      Date.now(),
      this.commands.options,
      this.counters,
    );
  }

  /**
   * Runs the loader under the key's lease, then stores its value within what the call has left
   * of its Redis budget (the loader's own time is not Redis': not charged). A failed loader
   * rejects with its error and gives the lease back — or, refreshing a `stale` value, keeps it
   * for REFRESH_BACKOFF_MS, so that the fleet answers the expired value meanwhile rather than
   * send every call to a failing database.
   */
  async #underLease(
    request: LoadRequest,
    token: string,
    fence: string,
    began: number,
    stale: StoredEntry | undefined,
    budget: Budget,
  ): Promise<Answer> {
    const { redisKey } = request;
    const { options, keys } = this.commands;
    const renewal = setInterval(() => {
      this.commands.renew(redisKey, token, LEASE_MS).catch(() => undefined);
    }, RENEW_MS);
    renewal.unref();
    // Gives the lease back and wakes the waiters; stores `json` if given and still fresh. A lease
    // given back in the background (the caller has its answer) has a budget of its own.
    const fill = (json: string, freshMs: number, within = this.commands.budget()) =>
      this.commands.fill(
        redisKey,
        [
          token,
          fence,
          began,
          freshMs,
          freshMs + options.staleTtlMs,
          request.tags,
          json,
          FENCE_TTL_MS,
          keys.channel,
          request.key,
        ],
        within,
      );
    const release = () =>
      void fill("", 0).catch((reason: unknown) => this.#redisFailed("lease release", reason));
    let value: unknown;
    try {
      value = await this.limiter.run(() => this.counters.load(request.key, request.loader));
    } catch (error) {
      if (stale === undefined) release();
      else {
        this.commands
          .renew(redisKey, token, REFRESH_BACKOFF_MS)
          .catch((reason: unknown) => this.#redisFailed("lease hold", reason));
      }
      throw error;
    } finally {
      clearInterval(renewal);
    }
    let ttl: number;
    let json = "";
    try {
      ttl = this.#ttlOf(request, value);
      // undefined caches nothing; null only with a negative TTL.
      if (value !== undefined && ttl > 0)
        json = encodeValue(request.key, value, this.commands.options.serializer);
    } catch (error) {
      release();
      throw error;
    }
    const freshMs = Math.max(1, Math.round(ttl * (1 - options.ttlJitter * Math.random())));
    let stored: number;
    try {
      stored = await fill(json, freshMs, budget);
    } catch (error) {
      this.#redisFailed("fill", error);
      return { value, entry: undefined };
    }
    if (stored === 0) this.counters.refusedStaleSet(request.key);
    if (stored !== 1) return { value, entry: undefined };
    const tags = request.tagList?.length ? request.tagList : undefined;
    return {
      value,
      entry: { created: began, freshUntil: this.commands.serverNow() + freshMs, tags, value },
    };
  }

  /** How long a loaded value is fresh, in ms: 0 stores nothing. */
  #ttlOf(request: LoadRequest, value: unknown): number {
    const { options } = this.commands;
    if (value === undefined) return 0;
    if (value === null) return options.negativeTtlMs;
    return ttlMsOf(request.ttl, request.key, value, options.staleTtlMs) ?? options.ttlMs;
  }

  #redisFailed(what: string, error: unknown): void {
    this.counters.errors++;
    log("cache %s failed: %s", what, error instanceof Error ? error.message : String(error));
  }
}
