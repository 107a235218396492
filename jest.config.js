/** Unit, integration and e2e tests; integration and e2e need the real stack (scripts/stack.sh up). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/.tools/"],
  modulePathIgnorePatterns: ["<rootDir>/dist/", "<rootDir>/.tools/"],
  testTimeout: 30000,
  // Servers and brokers are real: keep the two cores for them, not for many jest workers.
  maxWorkers: 2,
};
