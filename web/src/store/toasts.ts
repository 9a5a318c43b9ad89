import { create } from 'zustand';
import { describeError } from '../i18n';

export type ToastKind = 'info' | 'success' | 'warning' | 'error';

export interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
}

export const TOAST_DURATION_MS = 5000;

interface ToastState {
  toasts: Toast[];
  push(kind: ToastKind, text: string): void;
  dismiss(id: number): void;
}

let nextId = 1;

export const useToasts = create<ToastState>((set, get) => ({
  toasts: [],
  push(kind, text) {
    const id = nextId++;
    set({ toasts: [...get().toasts, { id, kind, text }] });
    setTimeout(() => get().dismiss(id), TOAST_DURATION_MS);
  },
  dismiss(id) {
    set({ toasts: get().toasts.filter((toast) => toast.id !== id) });
  },
}));

export const notify = {
  info: (text: string) => useToasts.getState().push('info', text),
  success: (text: string) => useToasts.getState().push('success', text),
  warning: (text: string) => useToasts.getState().push('warning', text),
  error: (text: string) => useToasts.getState().push('error', text),
  /** Shows a failure from the server or the network, in the user's language. */
  failure: (error: unknown) => useToasts.getState().push('error', describeError(error)),
};
