// Two projects: "unit" needs no cluster; "e2e" needs a real kind cluster (see test/e2e/README.md).
// Tests run as native ES modules, so jest must be started with NODE_OPTIONS=--experimental-vm-modules.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import siblings as "./x.js" (NodeNext); map them back to the .ts files under test.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    // Transpile only: `npm run build` and `npm run lint` do the type checking.
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};

export default {
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  // e2e files that share a cluster run one after another (test/e2e/cluster-pool.ts)
  testSequencer: '<rootDir>/test/e2e/sequencer.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.js',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.js',
    },
  ],
};
