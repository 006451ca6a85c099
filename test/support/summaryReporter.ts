import type { Reporter, TestModule } from "vitest/node";

declare module "vitest" {
  interface TaskMeta {
    /** A scenario's line of figures, repeated in the run's summary. */
    scenario?: string;
  }
}

/**
 * Ends the run with the scenario lines tests recorded (`task.meta.scenario`), every file's wall
 * time, slowest first (what bounds `npm test`) and one plain line,
 * `Tests: N passed, N failed, N skipped`, that CI and people can read without knowing Vitest's
 * layout.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[], unhandledErrors: readonly unknown[]): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const scenarios: string[] = [];
    for (const module of testModules) {
      const before = counts.failed;
      for (const test of module.children.allTests()) {
        const { state } = test.result();
        if (state === "passed" || state === "failed" || state === "skipped") counts[state]++;
        const { scenario } = test.meta();
        if (scenario !== undefined)
          scenarios.push(`${state === "failed" ? "FAILED " : ""}${scenario}`);
      }
      // A file that failed without a failing test (an import error, a failing beforeAll) counts.
      if (module.state() === "failed" && counts.failed === before) counts.failed++;
    }
    counts.failed += unhandledErrors.length;
    if (scenarios.length > 0) process.stdout.write(`\nScenarios:\n${scenarios.join("\n")}\n`);
    const files = testModules
      .map((module): [string, number] => {
        const { prepareDuration, collectDuration, duration } = module.diagnostic();
        return [module.relativeModuleId, prepareDuration + collectDuration + duration];
      })
      .sort(([, a], [, b]) => b - a)
      .map(([file, ms]) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
    if (files.length > 0) process.stdout.write(`\nFiles by wall time:\n${files.join("\n")}\n`);
    process.stdout.write(
      `\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
