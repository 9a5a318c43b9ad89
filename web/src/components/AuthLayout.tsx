import type { ReactNode } from 'react';
import { LanguageSelect } from './LanguageSelect';

/** The frame of the pages seen before logging in. */
export function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          Mesh
        </p>
        <h1>{title}</h1>
        {children}
      </div>
      <LanguageSelect />
    </main>
  );
}
