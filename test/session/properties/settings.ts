/**
 * Runs and seed of every property test: 200 runs with a fixed seed, so CI explores the same
 * cases each time (set FC_SEED to explore others; a failure prints its seed and the shrunk
 * counterexample, and `{ seed, path }` replays it).
 */
export const PROPERTY_RUNS = {
  numRuns: 200,
  seed: process.env.FC_SEED === undefined ? 20_261_202 : Number(process.env.FC_SEED),
};
