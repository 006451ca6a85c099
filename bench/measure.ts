import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { once } from "node:events";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import type { Redis } from "ioredis";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time a process has used, user + system, in µs. */
export async function processCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1_000_000) / TICKS_PER_SECOND;
}

/** Peak resident memory of a process (VmHWM), in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

/** CPU time the Redis server has used, user + system, in µs (INFO cpu). */
export async function redisCpuMicros(client: Redis): Promise<number> {
  const info = await client.info("cpu");
  const value = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return (value("used_cpu_sys") + value("used_cpu_user")) * 1_000_000;
}

/**
 * Commands the app processes send per request, counted with MONITOR over `requests` sequential
 * requests: commands run inside scripts (source "lua") and Sentinel/replica heartbeats are not sent
 * by the app. INFO commandstats cannot tell those apart, MONITOR can.
 *
 * MONITOR is read over a plain socket: ioredis throws from its data handler when monitor output
 * still arrives after disconnect() (heartbeats never stop), which would end the run.
 */
export async function commandsPerRequest(
  master: { host: string; port: number },
  send: () => Promise<void>,
  requests = 100,
): Promise<{ perRequest: number; commands: Record<string, number> }> {
  const counts: Record<string, number> = {};
  const heartbeats = new Set(["ping", "info", "publish", "replconf", "subscribe", "quit"]);
  const marker = `bench-marker-${Date.now()}`;
  const socket = connect(master.port, master.host);
  await once(socket, "connect");
  socket.write("MONITOR\r\n");
  let markerSeen: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => (markerSeen = resolve));
  const started = new Promise<void>((resolve) => {
    createInterface({ input: socket }).on("line", (line) => {
      if (line === "+OK") resolve();
      // +1700000000.123456 [0 127.0.0.1:5000] "hgetall" "sess:…"   ([0 lua] inside scripts)
      const source = /^\+[\d.]+ \[\d+ ([^\]]+)\]/.exec(line)?.[1];
      if (source === undefined) return;
      const [name = "", first] = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      const command = name.toLowerCase();
      if (command === "echo" && first === marker) markerSeen();
      if (source === "lua" || heartbeats.has(command) || command === "echo") return;
      counts[command] = (counts[command] ?? 0) + 1;
    });
  });
  await started;
  for (let i = 0; i < requests; i++) await send();
  // Every command sent before the marker has been fed to the monitor once the marker is.
  const client = connect(master.port, master.host);
  client.end(`ECHO ${marker}\r\nQUIT\r\n`);
  await seen;
  socket.destroy();
  client.destroy();
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return { perRequest: total / requests, commands: counts };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** The short commit a checkout is at, for a baseline run's file name. */
export function commitOf(checkout: string): string {
  return execFileSync("git", ["-C", checkout, "rev-parse", "--short", "HEAD"], {
    encoding: "utf8",
  }).trim();
}
