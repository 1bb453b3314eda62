import { Env, type EnvName } from '../../lib/definitions.js';
import { ConfigError } from './domain/errors.js';

/** Reads a required environment variable; a missing one fails cold start. */
export const requireEnv = (name: EnvName): string => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`Environment variable ${name} is not set.`);
  }

  return value;
};

export const optionalEnv = (name: EnvName): string | undefined =>
  process.env[name] || undefined;

const DAY_SECONDS = 86_400;

/** When a trace record written now should expire. */
export const traceExpiry = (now: Date): number => {
  const days = Number(optionalEnv(Env.LogRecordTtlDays) ?? 30);
  const safeDays = Number.isFinite(days) && days > 0 ? days : 30;

  return Math.floor(now.getTime() / 1000) + Math.round(safeDays * DAY_SECONDS);
};
