/**
 * The product's error family. Domain code throws these; adapters turn them
 * into HTTP answers or queue retries. `code` is stable and machine-readable,
 * `message` is one sentence for a person.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input or its schema is wrong; retrying the same input cannot help. */
export class ValidationError extends AppError {
  readonly status = 400;
  readonly retryable = false;

  constructor(
    readonly code: string,
    message: string,
    readonly details?: readonly string[]
  ) {
    super(message);
  }
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly retryable = false;

  constructor(
    readonly code: string,
    message: string
  ) {
    super(message);
  }
}

/** A downstream service failed or throttled; the work may be retried. */
export class DependencyError extends AppError {
  readonly status = 502;
  readonly retryable = true;
  readonly code = 'dependency_failed';
}

/**
 * A service the request depends on cannot be reached, so the request is
 * refused rather than done halfway; the same request may succeed later.
 */
export class UnavailableError extends AppError {
  readonly status = 503;
  readonly retryable = true;

  constructor(
    readonly code: string,
    message: string,
    readonly details?: readonly string[]
  ) {
    super(message);
  }
}

/** Bad configuration found at cold start: fail fast and loudly. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
