/**
 * One process-wide value under a global symbol rather than a module variable: two copies of the module
 * that holds it (bundles, test loaders) still share it. For the hooks the local stack installs in
 * every DynamoDB client (the access guard, the call delay); on Lambda they stay empty.
 */
export interface ProcessSlot<T> {
  get(): T | undefined;
  /** `undefined` empties the slot; returns the previous value. */
  set(value: T | undefined): T | undefined;
}

export function processSlot<T>(name: string): ProcessSlot<T> {
  const key = Symbol.for(name);
  const slots = globalThis as { [key: symbol]: T | undefined };
  return {
    get: () => slots[key],
    set(value) {
      const previous = slots[key];
      slots[key] = value;
      return previous;
    },
  };
}
