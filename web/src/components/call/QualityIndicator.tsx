import { useT } from '../../i18n';
import type { Quality } from '../../call/quality';

const BARS: Record<Quality | 'connecting', number> = { excellent: 3, good: 2, poor: 1, disconnected: 0, connecting: 0 };

/** Three bars, and the level in words for screen readers and tooltips. */
export function QualityIndicator({ quality }: { quality: Quality | 'connecting' }) {
  const { t } = useT();
  const label = t('quality.label', { quality: t(`quality.${quality}`) });
  return (
    <span className={`quality quality-${quality}`} role="img" aria-label={label} title={label}>
      {[1, 2, 3].map((bar) => (
        <span key={bar} className={bar <= BARS[quality] ? 'quality-bar lit' : 'quality-bar'} />
      ))}
    </span>
  );
}
