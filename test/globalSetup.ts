// Once per `vitest run`: bundle the workflows and start one Temporal dev server for every test file.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../worker/devServer';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCli: string;
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export default async function setup(project: TestProject) {
  const cliPath = process.env.TEMPORAL_CLI || `${ROOT}.tools/bin/temporal`;
  if (!existsSync(cliPath)) throw new Error(`Temporal CLI not found at ${cliPath}: run the suite with \`npm test\`, which builds it.`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
  });
  await mkdir(`${ROOT}.test-tmp`, { recursive: true });
  const bundlePath = `${ROOT}.test-tmp/workflow-bundle.js`;
  await writeFile(bundlePath, code);
  // A low continue-as-new suggestion, so the suite exercises it for real.
  const server = await startDevServer({ cliPath, uiPort: null, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 120 } });
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCli', cliPath);
  return () => server.stop();
}
