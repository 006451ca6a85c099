/**
 * The Redis error replies this library acts on, by their first word: what each means, and
 * whether a wait cures it (`transient`: retried within the wait bound) or the connection's
 * configuration is wrong (`configuration`: fails at once as a 503, reported once). The one table
 * of them: every check of a reply goes through `replyIs`.
 */
const REPLIES = {
  LOADING: { transient: true, why: "a restarted or newly promoted master is loading its data set" },
  READONLY: {
    transient: true,
    why: "the master was demoted; the client reconnects to the new one",
  },
  MASTERDOWN: { transient: true, why: "a replica lost its master" },
  UNBLOCKED: {
    transient: true,
    why:
      "a master was demoted (CLUSTER FAILOVER, REPLICAOF) while a WAIT or WAITAOF was blocked on " +
      "it; it closes the connection, and the write is redone on the new master",
  },
  NOREPLICAS: { transient: true, why: "min-replicas-to-write, while replicas reconnect" },
  TRYAGAIN: { transient: true, why: "a Cluster slot is being migrated" },
  CLUSTERDOWN: { transient: true, why: "a Cluster is failing a shard over" },
  MOVED: {
    transient: true,
    why:
      "a Cluster slot moved to a new master (seen on the writer connections, which do not " +
      "follow it: they look the masters up again)",
  },
  ASK: {
    transient: true,
    why: "a Cluster slot is being migrated (seen on the writer connections)",
  },
  BUSY: { transient: true, why: "a script runs past lua-time-limit" },
  NOSCRIPT: {
    transient: false,
    why: "the server's script cache was flushed (a restart, a new master): sent in full again",
  },
  WRONGTYPE: {
    transient: false,
    why: "the key holds another type than the command reads: not this library's data",
  },
  WRONGPASS: { transient: false, configuration: true, why: "wrong user name or password" },
  NOAUTH: { transient: false, configuration: true, why: "the server asks for a password" },
  NOPERM: { transient: false, configuration: true, why: "the ACL user may not run this command" },
} as const;

export type ReplyWord = keyof typeof REPLIES;

/** Older servers' wording of a wrong password (no WRONGPASS before Redis 6). */
const OLD_WRONG_PASSWORD = "ERR invalid password";

/** The first word of an error reply, if `error` is one the table knows. */
function wordOf(error: unknown): ReplyWord | undefined {
  if (!(error instanceof Error)) return undefined;
  const { message } = error;
  const end = message.search(/\s|$/);
  const word = message.slice(0, end);
  return Object.hasOwn(REPLIES, word) ? (word as ReplyWord) : undefined;
}

/** Whether `error` is the reply `word` (or one of `words`). */
export function replyIs(error: unknown, ...words: ReplyWord[]): boolean {
  const word = wordOf(error);
  return word !== undefined && words.includes(word);
}

/** Whether `error` is a reply that a failover or a restart produces and that clears by itself. */
export function isTransientReply(error: unknown): boolean {
  const word = wordOf(error);
  return word !== undefined && REPLIES[word].transient;
}

/** Whether Redis refused a command because of the connection's configuration. */
export function isConfigurationError(error: unknown): boolean {
  const word = wordOf(error);
  if (word !== undefined) return "configuration" in REPLIES[word];
  return error instanceof Error && error.message.startsWith(OLD_WRONG_PASSWORD);
}
