/** Where the trigger loops wait while paused; a pause resolves once every loop is waiting here. */
export class PollingHold {
  private held: { readonly released: Promise<void>; readonly release: () => void } | undefined;
  private waitingLoops = 0;
  private loopsToHold = 0;
  private onAllWaiting: (() => void) | undefined;

  /** A pause was asked for and not released: loops finish what is in flight and wait. */
  get requested(): boolean {
    return this.held !== undefined;
  }

  hold(loops: number): Promise<void> {
    if (this.held === undefined) {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.held = { released, release };
    }
    this.loopsToHold = loops;
    if (this.waitingLoops >= loops) return Promise.resolve();
    return new Promise((resolve) => {
      this.onAllWaiting = resolve;
    });
  }

  release(): void {
    this.held?.release();
    this.held = undefined;
    // A pause still waiting for its loops ends too: nothing is held any more.
    this.onAllWaiting?.();
    this.onAllWaiting = undefined;
  }

  async wait(): Promise<void> {
    if (this.held === undefined) return;
    this.waitingLoops += 1;
    if (this.waitingLoops >= this.loopsToHold) this.onAllWaiting?.();
    await this.held.released;
    this.waitingLoops -= 1;
  }
}
