import { BRAND, hasBrand, setBrand } from './brand.js';

/** What went wrong, as a stable code callers can branch on. */
export type PortkeyContextErrorCode =
  | 'NO_CONTEXT'
  | 'INVALID_OPTION'
  | 'INVALID_HEADER_VALUE'
  | 'INVALID_TRACE_ID'
  | 'METADATA_RESOLVER_FAILED'
  | 'GATEWAY_ERROR'
  | 'GATEWAY_UNREACHABLE'
  | 'CLIENT_DISCONNECTED'
  | 'TIMEOUT'
  | 'STREAM_INCOMPLETE'
  | 'MALFORMED_RESPONSE'
  | 'NO_TENANT'
  | 'TENANT_PENDING'
  | 'TENANT_RESOLUTION_FAILED'
  | 'TOKEN_BUDGET_EXCEEDED';

/**
 * The one error class of portkey-context. Messages say what to do next and never contain a key.
 *
 * @example
 * ```ts
 * try { getPortkeyContext(); } catch (err) {
 *   if (err instanceof PortkeyContextError && err.code === 'NO_CONTEXT') { ... }
 * }
 * ```
 */
export class PortkeyContextError extends Error {
  /** `instanceof` holds for an error made by either build of the package (ESM and CJS loaded side by side). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, BRAND.error);
  }


  /** Stable machine-readable code. */
  readonly code: PortkeyContextErrorCode;
  /** The Portkey trace ID of the gateway call that failed, when there was one. */
  readonly traceId?: string;

  constructor(code: PortkeyContextErrorCode, message: string, options?: { cause?: unknown; traceId?: string }) {
    super(message, options);
    this.name = 'PortkeyContextError';
    this.code = code;
    if (options?.traceId !== undefined) this.traceId = options.traceId;
  }
}

setBrand(PortkeyContextError.prototype, BRAND.error);

/** What a value is, for a type error: `an array`, `null`, `a Set`, `a string`… (never the value itself). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    try {
      if (Array.isArray(value)) return 'an array';
      const name = Object.getPrototypeOf(value)?.constructor?.name;
      return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
    } catch {
      return 'an unreadable object'; // a revoked or throwing Proxy
    }
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/** What a thrown value says: an error's message, else the value as text. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/**
 * The {@link PortkeyContextError} on `error`'s cause chain, `error` included: one of ours thrown
 * inside a client's `fetch`, which the client wrapped in its own connection error.
 */
export function portkeyErrorIn(error: unknown): PortkeyContextError | undefined {
  let current = error;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 4; depth++) {
    if (current instanceof PortkeyContextError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The {@link PortkeyContextError} `INVALID_OPTION` for an option of the wrong type; the value is never echoed. */
export function invalidOption(option: string, expected: string, value: unknown): PortkeyContextError {
  return new PortkeyContextError('INVALID_OPTION', `Portkey option "${option}" must be ${expected}, got ${describeType(value)}.`);
}
