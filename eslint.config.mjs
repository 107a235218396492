import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".tools/", "data/", "coverage/", "*.config.js", "web/dist/", "web/node_modules/", "web/test-results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
      "@typescript-eslint/no-explicit-any": "off",
      eqeqeq: ["error", "always"],
      "no-console": ["error", { allow: ["warn", "error"] }],
    },
  },
  // Programs that talk to a person on a terminal.
  { files: ["scripts/**", "bench/**", "shop.ts", "lib/repl-commands.ts", "web/scripts/**"], rules: { "no-console": "off" } },
);
