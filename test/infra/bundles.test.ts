import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type FunctionKey, Functions } from '../../lib/definitions.js';
import { buildStack, logicalId } from './stack-fixture.js';

/** The Node the project pins for Lambda's nodejs24.x, not the machine's. */
const NODE_24 = path.resolve(
  import.meta.dirname,
  '../../node_modules/.bin/node'
);
const IMPORT_TIMEOUT_MS = 60_000;

// Bundles exactly as `cdk synth` does: same stack, same esbuild options.
const { app, stack, outdir } = buildStack({ bundle: true });
interface FunctionProperties {
  readonly Code: { readonly S3Key: string };
  readonly Environment: { readonly Variables: Record<string, unknown> };
}

const template = app.synth().getStackByName(stack.stackName).template as {
  Resources: Record<string, { Properties: FunctionProperties }>;
};
const functionKeys = Object.keys(Functions) as FunctionKey[];

const functionOf = (key: FunctionKey): FunctionProperties => {
  const id = logicalId(stack.functions[key].function);
  const resource = template.Resources[id];
  if (resource === undefined) throw new Error(`No resource ${id}.`);

  return resource.Properties;
};

const bundleOf = (key: FunctionKey): string => {
  const objectKey = functionOf(key).Code.S3Key;

  return path.join(outdir, `asset.${objectKey.replace(/\.zip$/, '')}`);
};

/** The function's environment, with deploy-time references made up. */
const environmentOf = (key: FunctionKey): Record<string, string> => {
  const variables = functionOf(key).Environment.Variables;

  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : `made-up-${name.toLowerCase()}`,
    ])
  );
};

/** Imports a bundle in a fresh Node 24 and reports what it exports. */
const importBundle = (file: string, env: Record<string, string>) =>
  spawnSync(
    NODE_24,
    [
      '--input-type=module',
      '--eval',
      `const m = await import(${JSON.stringify(pathToFileURL(file).href)});` +
        'process.stdout.write(JSON.stringify({ handler: typeof m.handler }));',
    ],
    {
      encoding: 'utf8',
      timeout: IMPORT_TIMEOUT_MS,
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env },
    }
  );

describe('handler bundles', () => {
  it.each(functionKeys)(
    'bundles %s as one ESM file with a source map',
    (key) => {
      // Arrange
      const bundle = bundleOf(key);

      // Assert
      expect(existsSync(path.join(bundle, 'index.mjs'))).toBe(true);
      expect(existsSync(path.join(bundle, 'index.mjs.map'))).toBe(true);
    }
  );

  it.each(functionKeys)(
    'loads the %s bundle on Node 24 and finds its handler',
    { timeout: IMPORT_TIMEOUT_MS },
    (key) => {
      // Arrange
      const file = path.join(bundleOf(key), 'index.mjs');

      // Act
      const result = importBundle(file, environmentOf(key));

      // Assert
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ handler: 'function' });
    }
  );

  it('uses the pinned Node 24', () => {
    // Act
    const result = spawnSync(NODE_24, ['--version'], { encoding: 'utf8' });

    // Assert
    expect(result.stdout).toMatch(/^v24\./);
  });
});
