// Sends signals to participants, holding back those that could not be
// delivered for now: the target is reconnecting (`conflict`), or our own
// connection is down (`disconnected`), or we sent too fast (`rate_limited`).
// Held signals keep their order and go out again on `retry()`; anything sent to
// a target that still has held signals waits behind them.

import type { Signal } from '../proto';

const RETRYABLE = new Set(['conflict', 'disconnected', 'rate_limited']);

interface Held {
  seq: number;
  signal: Signal;
}

export type Deliver = (to: string, signal: Signal) => Promise<unknown>;

export class SignalOutbox {
  private seq = 0;
  private readonly held = new Map<string, Held[]>();

  constructor(private readonly deliver: Deliver) {}

  get holding(): boolean {
    return this.held.size > 0;
  }

  send(to: string, signal: Signal): void {
    const item = { seq: this.seq++, signal };
    const queue = this.held.get(to);
    if (queue) queue.push(item);
    else this.attempt(to, item);
  }

  /** Tries every held signal again, in the order they were sent. */
  retry(): void {
    const held = [...this.held];
    this.held.clear();
    for (const [to, items] of held) {
      for (const item of items) this.attempt(to, item);
    }
  }

  /** The target left: its held signals are useless. */
  forget(to: string): void {
    this.held.delete(to);
  }

  private attempt(to: string, item: Held): void {
    this.deliver(to, item.signal).catch((error: { code?: string }) => {
      if (!RETRYABLE.has(error?.code ?? '')) {
        // Nothing to retry; but a lost offer or answer stalls that connection.
        console.warn(`a signal to ${to} was refused`, error);
        return;
      }
      const queue = this.held.get(to) ?? [];
      queue.push(item);
      queue.sort((a, b) => a.seq - b.seq);
      this.held.set(to, queue);
    });
  }
}
