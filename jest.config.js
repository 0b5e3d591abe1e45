/**
 * Jest runs the TypeScript sources as native ESM through @swc/jest (legacy decorators with metadata,
 * as Nest needs). `npm test` sets NODE_OPTIONS=--experimental-vm-modules.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // Mercurius requires @fastify/static, which requires the ESM-only content-disposition 3; Jest cannot
    // require ESM on Node 22, so it gets the CommonJS 2.x Express uses (same `create` export)
    '^content-disposition$': '<rootDir>/node_modules/content-disposition/dist/index.js',
  },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2023',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          keepClassNames: true,
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testTimeout: 120_000,
  // Every integration file starts its own PostgreSQL servers; two workers fit two cores.
  maxWorkers: 2,
};
