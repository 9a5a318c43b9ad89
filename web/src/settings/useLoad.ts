import { useEffect, useState, type Dispatch, type SetStateAction } from 'react';
import { notify } from '../store/toasts';

export interface Loaded<T> {
  /** null until loaded (or when loading failed). */
  value: T | null;
  /** Loading failed (and was toasted): the section says so instead of "Loading…". */
  failed: boolean;
  setValue: Dispatch<SetStateAction<T | null>>;
}

/** Loads a settings section's data when it mounts; `load` must be a stable
 * function (an `api` endpoint), or it loads again on every render. */
export function useLoad<T>(load: () => Promise<T>): Loaded<T> {
  const [value, setValue] = useState<T | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let cancelled = false;
    load().then(
      (loaded) => {
        if (!cancelled) setValue(loaded);
      },
      (error: unknown) => {
        if (cancelled) return;
        setFailed(true);
        notify.failure(error);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [load]);
  return { value, failed, setValue };
}
