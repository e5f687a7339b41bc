import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change (and on reload()), keeping the last answer or error. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error: asApiError(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'CLIENT', (e as Error)?.message ?? String(e));
}

/** An action (a button press): its running flag, last error and last result. */
export function useAction<A extends unknown[], R>(run: (...a: A) => Promise<R>) {
  const [state, setState] = useState<{ busy: boolean; error?: ApiError; result?: R }>({ busy: false });
  const go = async (...a: A): Promise<R | undefined> => {
    setState({ busy: true });
    try {
      const result = await run(...a);
      setState({ busy: false, result });
      return result;
    } catch (e) {
      setState({ busy: false, error: asApiError(e) });
      return undefined;
    }
  };
  return { ...state, go, reset: () => setState({ busy: false }) };
}

/** Calls the latest `fn` every `ms` while mounted (for live pages). */
export function useInterval(fn: () => void, ms: number): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    const t = setInterval(() => latest.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}
