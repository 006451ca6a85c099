// @ts-check
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

/** Files matching `files` may not import a path matching `forbidden`. */
function layer(files, forbidden, message) {
  return {
    files: [files],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: forbidden.source, message }] }],
    },
  };
}

/** The Redis layer's modules that sessions and the cache do not import: its Keyspace is its face. */
const REDIS_INSIDES =
  "(^|/)redis/(connection|writes|sentinel|cluster|replicas)/|" +
  "(^|/)redis/backend/(?!scan\\.js)|(^|/)redis/(RedisConnection|health|healthCheck|createRedisClient)\\.js";

export default tseslint.config(
  // bench/peers: the bench's peers' app, on a tree of its own installed only by the cache bench.
  { ignores: ["dist/", "coverage/", "test-results/", "scratch/", "bench/peers/"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
    },
  },
  // The layers (see "Development" in the README): src/redis/ knows nothing of sessions or caches,
  // src/ nothing of the harness, the harness nothing of the tests, demo or bench, which never
  // import the tests.
  layer(
    "src/**",
    /(^|\/)(harness|test|demo|bench)\//,
    "src/ must not import the harness, tests, demo or bench",
  ),
  // After src/**, which it replaces for these files (it forbids what src/** does, and more).
  layer(
    "src/redis/**",
    /(^|\/)(session|cache|harness|test|demo|bench)\//,
    "src/redis/ is the client layer: it must not import session or cache code",
  ),
  // Sessions and the cache stand side by side on the Redis layer, neither importing the other,
  // and reach it through its face (Keyspace) and its option, script and stats modules only.
  layer(
    "src/session/**",
    new RegExp(`(^|/)(cache|harness|test|demo|bench)/|${REDIS_INSIDES}`),
    "src/session/ must not import the cache, nor the Redis layer's insides (use its Keyspace)",
  ),
  layer(
    "src/cache/**",
    new RegExp(`(^|/)(session|harness|test|demo|bench)/|${REDIS_INSIDES}`),
    "src/cache/ must not import sessions, nor the Redis layer's insides (use its Keyspace)",
  ),
  layer(
    "harness/**",
    /(^|\/)(test|demo|bench)\//,
    "harness/ serves test/, demo/ and bench/: it must not import them",
  ),
  layer("{demo,bench}/**", /(^|\/)test\//, "demo/ and bench/ use harness/, never test/"),
  // express-session's Store declares its methods callback-only (void); ours also return a promise
  // when no callback is given (connect-redis 8+'s convention), and nothing when one is.
  {
    files: ["src/session/RedisSessionStore.ts"],
    rules: {
      "@typescript-eslint/no-misused-promises": [
        "error",
        { checksVoidReturn: { inheritedMethods: false } },
      ],
    },
  },
  { files: ["**/*.js"], extends: [tseslint.configs.disableTypeChecked] },
  {
    files: ["demo/control/public/**/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, uPlot: "readonly" } },
  },
  prettier,
);
