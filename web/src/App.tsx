import { useEffect, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation, useSearchParams } from 'react-router';
import { Toasts } from './components/Toasts';
import { useT } from './i18n';
import { AppLayout } from './pages/AppLayout';
import { BrowsePage } from './pages/BrowsePage';
import { HomePage } from './pages/HomePage';
import { InvitePage } from './pages/InvitePage';
import { LoginPage } from './pages/LoginPage';
import { loginPath, safeNextPath } from './pages/redirect';
import { RegisterPage } from './pages/RegisterPage';
import { RoomPage } from './pages/RoomPage';
import { RoomSettingsPage } from './pages/RoomSettingsPage';
import { SettingsPage } from './pages/SettingsPage';
import { useSession } from './store/session';

function RequireAuth({ children }: { children: ReactNode }) {
  const status = useSession((state) => state.status);
  const location = useLocation();
  if (status !== 'authenticated') {
    return <Navigate to={loginPath(location.pathname + location.search)} replace />;
  }
  return children;
}

function AnonymousOnly({ children }: { children: ReactNode }) {
  const status = useSession((state) => state.status);
  const [params] = useSearchParams();
  if (status === 'authenticated') return <Navigate to={safeNextPath(params.get('next'))} replace />;
  return children;
}

export function App() {
  const { t } = useT();
  const status = useSession((state) => state.status);

  useEffect(() => {
    void useSession.getState().restore();
  }, []);

  if (status === 'loading') {
    return (
      <p className="splash" role="status">
        {t('app.loading')}
      </p>
    );
  }

  return (
    <>
      <Routes>
        <Route path="/login" element={<AnonymousOnly><LoginPage /></AnonymousOnly>} />
        <Route path="/register" element={<AnonymousOnly><RegisterPage /></AnonymousOnly>} />
        <Route path="/invite/:code" element={<InvitePage />} />
        <Route element={<RequireAuth><AppLayout /></RequireAuth>}>
          <Route index element={<HomePage />} />
          <Route path="browse" element={<BrowsePage />} />
          <Route path="rooms/:roomId" element={<RoomPage />} />
          <Route path="rooms/:roomId/settings" element={<RoomSettingsPage />} />
          <Route path="settings" element={<SettingsPage />} />
        </Route>
        <Route path="*" element={<Navigate to="/" replace />} />
      </Routes>
      <Toasts />
    </>
  );
}
