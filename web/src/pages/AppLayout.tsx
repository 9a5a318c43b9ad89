import { useEffect, useState } from 'react';
import { Outlet, useLocation } from 'react-router';
import { CallAudio } from '../components/call/CallAudio';
import { CallIndicator } from '../components/call/CallIndicator';
import { RingToasts } from '../components/call/RingToasts';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { Icon } from '../components/Icon';
import { Sidebar } from '../components/Sidebar';
import { useT } from '../i18n';
import { useRooms } from '../store/rooms';
import { startSync } from '../store/sync';
import { notify } from '../store/toasts';

/** The logged-in frame: top bar, room sidebar (a drawer on narrow screens)
 * and the page. Owns the live connection while it is mounted. */
export function AppLayout() {
  const { t } = useT();
  const { pathname } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    useRooms.getState().load().catch(notify.failure);
    return startSync();
  }, []);

  useEffect(() => setMenuOpen(false), [pathname]);

  return (
    <div className={`app ${menuOpen ? 'menu-open' : ''}`}>
      <a className="skip-link" href="#main">
        {t('app.skipToContent')}
      </a>
      <header className="topbar">
        <button
          type="button"
          className="icon-button menu-button"
          aria-label={menuOpen ? t('nav.closeMenu') : t('nav.openMenu')}
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <Icon name={menuOpen ? 'close' : 'menu'} />
        </button>
        <span className="brand">Mesh</span>
        <CallIndicator />
        <ConnectionStatus />
      </header>
      <Sidebar id="sidebar" />
      <main id="main" className="main">
        <Outlet />
      </main>
      <RingToasts />
      <CallAudio />
    </div>
  );
}
