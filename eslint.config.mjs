// ESLint with typescript-eslint's type-checked rules: no-floating-promises and no-misused-promises
// need real type information, and un-awaited Redis/pg calls are the bugs we most want caught.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/drizzle/**", "**/*.mjs", "**/*.cjs", "**/*.config.ts", "*.shared.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/only-throw-error": "off",
    },
  },
  {
    files: ["**/*.test.ts", "**/test/**/*.ts", "**/bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/require-await": "off",
      // `typecheck` runs beside `build`, not after it: a literal dist/ import would make tsc resolve a
      // build output that may not exist yet (this failed CI once). Compute the specifier instead.
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportExpression > Literal[value=/(^|\\/)dist\\//], ImportDeclaration > Literal[value=/(^|\\/)dist\\//]",
          message: "Import build output through a computed path (typecheck may run before build).",
        },
      ],
    },
  },
);
