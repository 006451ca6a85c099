import type { Express } from "express";
import type { Server } from "node:http";
import { afterAll, beforeAll } from "vitest";

/** Serves `app` on a free port of 127.0.0.1 for the file's tests; closed after them. */
export function useServer(create: () => Express): { readonly url: string } {
  let server: Server | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    const app = create();
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    const address = server.address();
    if (typeof address !== "object" || address === null) throw new Error("server has no port");
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });
  return {
    get url(): string {
      if (url === undefined) throw new Error("server not started");
      return url;
    },
  };
}
