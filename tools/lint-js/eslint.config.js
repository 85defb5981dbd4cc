// ESLint for the pages' modules (static/js) and the test clients' pages (tests/clients/pages): plain ES
// modules in the browser, their unit tests under Node; and the test clients' Node scripts (tests/clients/node).
// Formatting is Prettier's (.prettierrc.json). Run from the repository's root (`npm --prefix tools/lint-js run lint`).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.browser },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  { files: ["**/test/**/*.js"], languageOptions: { globals: { ...globals.node } } },
  { files: ["tests/clients/node/**/*.mjs"], languageOptions: { globals: { ...globals.node } } },
];
