import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import type { QueueKey } from '../definitions.js';

/**
 * Secure and shared defaults of the stack's constructs, kept apart from the
 * builders so a reviewer finds every such choice in one file.
 */

export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;

/**
 * ESM bundles have no `require`, yet CommonJS code bundled into them (parts
 * of the AWS SDK, Powertools, jsonata) calls it for Node built-ins; this
 * banner gives the bundle a real one.
 */
const REQUIRE_SHIM =
  "import{createRequire as __waptoRequire}from'node:module';" +
  'const require=__waptoRequire(import.meta.url);';

/**
 * How every handler is bundled. ESM because `@middy/core` 7 ships only ESM;
 * `module` is preferred over `main` so dual packages resolve to their ESM
 * build. The AWS SDK is bundled too (no externals): the code then runs with
 * exactly the SDK version the tests ran with, not the runtime's copy.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: REQUIRE_SHIM,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  forceDockerBundling: false,
} as const satisfies BundlingOptions;

/** Powertools settings shared by every function. */
export const POWERTOOLS_LOG_LEVEL = 'INFO';

/** Node reads the bundles' source maps so stack traces name real files. */
export const NODE_OPTIONS = '--enable-source-maps';

/** Lambda asks for a visibility timeout of at least six function timeouts. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

/** FIFO event source mappings take at most ten records per batch. */
export const FIFO_MAX_BATCH_SIZE = 10;

/** Bounds of an event source mapping's maximum concurrency. */
export const MIN_MAX_CONCURRENCY = 2;
export const MAX_MAX_CONCURRENCY = 1000;

/** The period every alarm evaluates over. */
export const ALARM_PERIOD = Duration.minutes(5);

/**
 * Age at which a queue's oldest message raises an alarm. The mapper should
 * drain ingest within seconds; outbound messages may wait longer on purpose
 * (per-recipient order and back-off after a rate limit).
 */
export const OLDEST_MESSAGE_ALARM_AGE: Readonly<Record<QueueKey, Duration>> = {
  ingest: Duration.minutes(5),
  outbound: Duration.minutes(30),
  // A held message hops at most every 15 minutes: anything older than two
  // hops means the release function is failing.
  delay: Duration.minutes(30),
};

/** Server errors of the HTTP API within one alarm period that alarm. */
export const API_SERVER_ERRORS_ALARM_THRESHOLD = 5;

/** Days CloudWatch keeps function and access logs unless told otherwise. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_CHOICES_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
  2192, 2557, 2922, 3288, 3653,
] as const;
