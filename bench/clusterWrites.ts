// `npm run bench -- --cluster [--duration 5 --connections 20]`: session writes (POST /change)
// from 1 000 sessions on a 3-shard Cluster (a master and a replica each): how the writes spread
// over the masters (EVALSHA/EVAL calls by master, INFO commandstats) and req/s. Writes
// bench/results/<date>-cluster.json.
import type { ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import autocannon from "autocannon";
import { format } from "prettier";
import { ClusterStack } from "../harness/ClusterStack.js";
import { redisCommand, redisInfo } from "../harness/redisCommand.js";

const SESSIONS = 1_000;

export async function clusterWritesBench({
  root,
  duration,
  connections,
  startApp,
}: {
  root: string;
  duration: number;
  connections: number;
  startApp: (store: string, redis: object) => Promise<{ child: ChildProcess; url: string }>;
}): Promise<void> {
  const stack = await ClusterStack.start({ masters: 3, replicasPerMaster: 1 });
  let app: { child: ChildProcess; url: string } | undefined;
  try {
    app = await startApp("redis-ha-session-cluster", stack.redisOption);
    const { url } = app;
    const cookies: string[] = [];
    for (let i = 0; i < SESSIONS; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const response = await fetch(`${url}/login`, { method: "POST" });
          return response.headers.getSetCookie()[0]?.split(";")[0] ?? "";
        }),
      );
      cookies.push(...batch);
    }
    const masters = await stack.masters();
    for (const node of stack.servers) await redisCommand(node.port, "CONFIG", "RESETSTAT");
    let next = 0;
    const result = await autocannon({
      url: `${url}/change`,
      method: "POST",
      connections,
      duration,
      requests: [
        {
          setupRequest: (request) => ({
            ...request,
            headers: { ...request.headers, cookie: cookies[next++ % cookies.length] ?? "" },
          }),
        },
      ],
    });
    const writes = await Promise.all(
      masters.map(async (master) => {
        const stats = await redisInfo(master.port, "commandstats");
        const calls = (name: string) =>
          Number(/calls=(\d+)/.exec(stats.get(`cmdstat_${name}`) ?? "")?.[1] ?? 0);
        return {
          port: master.port,
          scripts: calls("evalsha") + calls("eval"),
          waits: calls("wait"),
        };
      }),
    );
    const total = writes.reduce((sum, { scripts }) => sum + scripts, 0);
    const shares = writes.map(({ scripts }) => scripts / total);
    const spread = shares.every((share) => Math.abs(share - 1 / 3) <= 0.05);
    const lines = [
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
      `command: npm run bench -- --cluster --duration ${duration} --connections ${connections}`,
      `POST /change from ${SESSIONS} sessions on 3 masters × 1 replica: ` +
        `${Math.round(result.requests.average)} req/s, ${result.errors + result.non2xx} errors`,
      ...writes.map(
        ({ port, scripts, waits }, i) =>
          `  master :${port}: ${scripts} write scripts (${((shares[i] ?? 0) * 100).toFixed(1)} %), ${waits} WAITs`,
      ),
      `  ${spread ? "yes" : "NO "}  every master takes 33 % ± 5 % of the writes`,
    ];
    process.stdout.write(`\n${lines.join("\n")}\n`);
    await mkdir(`${root}bench/results`, { recursive: true });
    await writeFile(
      `${root}bench/results/${new Date().toISOString().slice(0, 10)}-cluster.json`,
      await format(JSON.stringify({ date: new Date().toISOString(), lines, writes }), {
        parser: "json",
      }),
    );
  } finally {
    app?.child.kill("SIGTERM");
    await stack.stop();
  }
}
