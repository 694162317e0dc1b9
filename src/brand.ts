/**
 * Brands: registered symbols (`Symbol.for`) set on a class's prototype, so that an object made by
 * one build of this package is recognised by the other when an app loads both (ESM `import` and
 * CJS `require`), where `instanceof` sees two different classes.
 */
export const BRAND = {
  context: Symbol.for('portkey-context.context'),
  requestContext: Symbol.for('portkey-context.request-context'),
  error: Symbol.for('portkey-context.error'),
} as const;

/** Marks every instance of a class (its prototype) with `brand`. */
export function setBrand(prototype: object, brand: symbol): void {
  Object.defineProperty(prototype, brand, { value: true });
}

/** Whether `value` carries `brand`, whichever build made it. */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
