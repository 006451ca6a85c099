import { isIP } from "node:net";
import type { RedisOptions } from "ioredis";
import { checkPort } from "./validate.js";
import type { ParsedTopology } from "./ParsedTopology.js";

/** `redis://`, `rediss://` or `redis-sentinel://` as a topology. */
export function parseUrlTopology(text: string, option: string): ParsedTopology {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === "redis" || scheme === "rediss") return parseNodeUrl(text, scheme, option);
  if (scheme === "redis-sentinel") return parseSentinelUrl(text, option);
  throw new TypeError(
    `\`${option}\` must start with redis://, rediss:// or redis-sentinel://; got "${redact(text)}"`,
  );
}

function parseNodeUrl(text: string, scheme: string, option: string): ParsedTopology {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new TypeError(`\`${option}\` is not a valid URL: "${redact(text)}"`, { cause: error });
  }
  if (url.hostname === "") throw new TypeError(`\`${option}\` has no host: "${redact(text)}"`);
  const options: RedisOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? 6379 : Number(url.port),
  };
  if (url.username !== "") options.username = decodeURIComponent(url.username);
  if (url.password !== "") options.password = decodeURIComponent(url.password);
  const db = url.pathname.replace(/^\//, "");
  if (db !== "") {
    if (!/^\d+$/.test(db)) {
      throw new TypeError(
        `\`${option}\` path must be a database number (e.g. /0); got "/${db}" in "${redact(text)}"`,
      );
    }
    options.db = Number(db);
  }
  // SNI takes host names only; for an IP address the certificate's IP SAN is checked instead.
  if (scheme === "rediss")
    options.tls = isIP(options.host ?? "") ? {} : { servername: options.host };
  return { kind: "single", options };
}

/** `redis-sentinel://[user:pass@]host:port,host:port/masterName`: credentials are the nodes'. */
function parseSentinelUrl(text: string, option: string): ParsedTopology {
  const match = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)\/?$/i.exec(text);
  if (!match?.[2] || !match[3]) {
    throw new TypeError(
      `\`${option}\` must look like redis-sentinel://host:port,host:port/mymaster; ` +
        `got "${redact(text)}"`,
    );
  }
  const sentinels = match[2].split(",").map((part) => {
    const hostPort = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(part.trim());
    if (!hostPort?.[1]) {
      throw new TypeError(`\`${option}\` has an invalid sentinel address "${part}"`);
    }
    const port = hostPort[2] === undefined ? 26379 : Number(hostPort[2]);
    checkPort(port, `${option} (sentinel "${part}")`);
    return { host: hostPort[1].replace(/^\[(.*)\]$/, "$1"), port };
  });
  const options: RedisOptions = { sentinels, name: decodeURIComponent(match[3]) };
  if (match[1]) {
    const [user = "", password] = match[1].split(":");
    if (password === undefined) {
      options.password = decodeURIComponent(user);
    } else {
      if (user !== "") options.username = decodeURIComponent(user);
      options.password = decodeURIComponent(password);
    }
  }
  return { kind: "sentinel", options };
}

/** A URL with any password replaced, for error messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*):([^@/]*)@/, "//$1:***@");
}
