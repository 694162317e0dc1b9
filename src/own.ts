/**
 * An own property of an options object, or `undefined`: never one inherited from a polluted
 * `Object.prototype`. Safe on `undefined` and `null`.
 */
export function ownOption<T extends object, K extends keyof T>(object: T | undefined | null, key: K): T[K] | undefined {
  return object !== undefined && object !== null && Object.hasOwn(object, key) ? object[key] : undefined;
}
