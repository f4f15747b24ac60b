// ESLint: typescript-eslint's type-aware recommended rules (floating and misused promises among
// them) and import-x's no-cycle. `npm run lint` runs this and Prettier; CI fails on any finding.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.dist-*/',
      'coverage/',
      'test-results/',
      'var/',
      'data/',
      // Browser scripts inlined into console pages: no Node, no module graph, checked in a browser
      // by the console tests.
      'templates/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // import-x parses the imported .ts files itself to follow the graph.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Imports end in .js and name .ts files (NodeNext); the TypeScript resolver maps them.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      // Value imports only: import-x skips `import type`; test/import-cycles.test.ts also covers those.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A leading underscore marks a binding left unused on purpose: a field dropped by
      // rest-destructuring (`{ secrets: _secrets, ...rest }`), a parameter a signature requires.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Off: Fastify handlers and hooks are async so that what they return (or throw) becomes the
      // reply; many need no await, and making them sync would change how Fastify treats them.
      '@typescript-eslint/require-await': 'off',
      // Off: matching control characters is the point of the checks that refuse line breaks and
      // NULs in header values, addresses and file names.
      'no-control-regex': 'off',
      // Off: it calls assertions from zod output types (which carry an index signature) to wider
      // types such as WorkflowAlert "unnecessary", and its autofix turned those fields into any.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: they read JSON from real HTTP responses and fakes receive providers' JSON,
      // typed `any` by fetch and Fastify; asserting on those values is what the tests do.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Off in tests: fakes stringify raw request bodies and loosely typed JSON fields on purpose,
      // as the providers they stand in for do.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Fakes accept providers' free-form JSON payloads (Discord, Slack) as they arrive.
    files: ['test/fakes/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript (bin/, this file) and vitest.config.ts are not part of the TypeScript project.
    files: ['**/*.js', '**/*.mjs', 'vitest.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
