import { useT } from '../i18n';
import { useTyping, type Typist } from '../store/typing';

const nobody: Typist[] = [];

export function TypingIndicator({ roomId }: { roomId: number }) {
  const { t } = useT();
  const typists = useTyping((state) => state.byRoom[roomId]) ?? nobody;
  let text = '';
  if (typists.length === 1) text = t('typing.one', { name: typists[0].username });
  else if (typists.length === 2) {
    text = t('typing.two', { first: typists[0].username, second: typists[1].username });
  } else if (typists.length > 2) text = t('typing.many');
  return (
    <p className="typing" aria-live="polite">
      {text}
    </p>
  );
}
