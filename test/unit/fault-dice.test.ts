/**
 * The chaos run's dice: with `armEachOnce`, the first roll of each case hits whatever the draw, so the
 * short in-suite run meets every fault kind; after that (and without arming) the probability decides.
 */
import { expect, it } from 'vitest';
import { createFaultInjector } from '../../local/faults';

// A draw that never hits at any probability below 1.
const neverHits = () => 0.999_999;

it('hits the first roll of each armed case once, then only as the dice say', () => {
  const injector = createFaultInjector({ throttle: 0.01, postGone: 0.01, unprocessed: 0.01 }, neverHits);
  expect(injector.roll('throttle')).toBe(false);

  injector.armEachOnce();
  expect(injector.roll('throttle')).toBe(true);
  expect(injector.roll('throttle')).toBe(false);
  expect(injector.roll('postGone')).toBe(true);
  // One die, two cases: a partial BatchGetItem and a partial BatchWriteItem each hit once.
  expect(injector.roll('unprocessed', false, 'unprocessed BatchGetItem')).toBe(true);
  expect(injector.roll('unprocessed', false, 'unprocessed BatchGetItem')).toBe(false);
  expect(injector.roll('unprocessed', false, 'unprocessed BatchWriteItem')).toBe(true);
  expect(injector.counts).toMatchObject({ throttle: 1, postGone: 1, unprocessedKeys: 0, unprocessedItems: 0 });
});

it('never hits a kind that is switched off, armed or not', () => {
  const injector = createFaultInjector({ throttle: 0 }, () => 0);
  injector.armEachOnce();
  expect(injector.roll('throttle')).toBe(false);
  expect(injector.counts.throttle).toBe(0);
});
