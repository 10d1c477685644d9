// Makes the folder where the e2e files' shared clusters are recorded (cluster-pool.ts), and the id in their names.
// global-teardown.js deletes the clusters and the folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function globalSetup() {
  process.env.FAULTLINE_E2E_POOL = mkdtempSync(join(tmpdir(), 'faultline-e2e-pool-'));
  process.env.FAULTLINE_E2E_POOL_ID = randomBytes(2).toString('hex');
}
