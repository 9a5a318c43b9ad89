// Reconnect delays: 0.5 s doubling up to 15 s, with jitter so that clients
// dropped together (a server restart) do not all come back at the same instant.

export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 15_000;

/** Delay before reconnect attempt number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** attempt);
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(BACKOFF_MAX_MS, jittered));
}
