import { useT } from '../i18n';
import { useSession } from '../store/session';

export function HomePage() {
  const { t } = useT();
  const user = useSession((state) => state.user);
  return (
    <section className="home">
      <h1>{t('home.welcome', { name: user?.username ?? '' })}</h1>
      <p className="muted">{t('home.hint')}</p>
    </section>
  );
}
