import { useT } from '../../i18n';
import { ongoingCall, useCall } from '../../store/call';

/** Tells members who are not in the room's call that it is going on, and with whom. */
export function CallBanner({ roomId }: { roomId: number }) {
  const { t } = useT();
  const call = useCall((state) => ongoingCall(state.states, roomId));
  if (!call) return null;
  const names = [...new Set(call.participants.map((participant) => participant.username))].join(', ');
  return (
    <p className="call-banner" role="status">
      {t('call.ongoing', { names })}
    </p>
  );
}
