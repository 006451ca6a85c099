import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CorkedCommands } from "../../src/redis/connection/CorkedCommands.js";
import { useSingleNode } from "../support/hooks.js";

// What CorkedCommands relies on in ioredis' internals (see the top of CorkedCommands.ts): these
// fail if an ioredis upgrade changes them, before the hot path silently slows or breaks.
const redis = useSingleNode();
let client: Redis;

beforeAll(async () => {
  client = new Redis(redis.current.server.port, "127.0.0.1", { keyPrefix: "corked:" });
  await client.ping();
});
afterAll(async () => {
  await client.quit();
});

/** The chunks written to the client's socket while `work` runs, as ioredis hands them over. */
async function writesDuring(work: () => Promise<unknown>): Promise<(string | Buffer)[]> {
  const stream = client.stream;
  const chunks: (string | Buffer)[] = [];
  const write = stream.write.bind(stream);
  stream.write = (chunk: string | Buffer, ...rest: never[]) => {
    chunks.push(chunk);
    return write(chunk, ...rest);
  };
  try {
    await work();
  } finally {
    stream.write = write;
  }
  return chunks;
}

test("a command goes to the socket at once, serialised by our toWritable into one Buffer", async () => {
  const commands = new CorkedCommands(client);
  const chunks = await writesDuring(() => commands.send("SET", ["k", "v"]));
  expect(chunks).toHaveLength(1);
  expect(Buffer.isBuffer(chunks[0])).toBe(true);
  // keyPrefix applied by ioredis' Command, as for its own commands.
  expect(String(chunks[0])).toBe("*3\r\n$3\r\nSET\r\n$8\r\ncorked:k\r\n$1\r\nv\r\n");
});

test("commands of one turn are written while the socket is corked, and all are answered", async () => {
  const commands = new CorkedCommands(client);
  const stream = client.stream;
  let corkedWrites = 0;
  const chunks = await writesDuring(async () => {
    const replies = Array.from({ length: 5 }, (_, i) => {
      const reply = commands.send("SET", [`n${i}`, String(i)]);
      if (stream.writableCorked > 0) corkedWrites++;
      return reply;
    });
    expect(await Promise.all(replies)).toEqual(["OK", "OK", "OK", "OK", "OK"]);
  });
  expect(chunks).toHaveLength(5);
  expect(corkedWrites).toBe(5);
  expect(stream.writableCorked).toBe(0);
});

test("replies are strings, and a command named in capitals gets no reply transformer", async () => {
  const commands = new CorkedCommands(client);
  await client.hset("h", "a", "1");
  expect(await commands.send("HGETALL", ["h"])).toEqual(["a", "1"]);
  expect(await commands.send("GET", ["k"])).toBe("v");
});

test("a command sent while disconnected waits in ioredis' queue and is answered after the reconnect", async () => {
  const commands = new CorkedCommands(client);
  client.disconnect(true);
  const reply = commands.send("GET", ["k"]);
  expect(await reply).toBe("v");
});
