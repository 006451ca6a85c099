import { afterEach, beforeEach, vi } from "vitest";

/**
 * Spies on console.warn around each test of the file; returns the lines the library said there
 * (those starting "redis-ha-session:") so far in the current test.
 */
export function useWarnings(): () => string[] {
  let lines: () => string[] = () => [];
  beforeEach(() => {
    const spy = vi.spyOn(console, "warn");
    lines = () =>
      spy.mock.calls
        .map((args) => String(args[0]))
        .filter((line) => line.startsWith("redis-ha-session:"));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return () => lines();
}
