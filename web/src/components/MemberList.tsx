import { useId, useMemo } from 'react';
import { useT } from '../i18n';
import { sortMembers, useMembers } from '../store/members';
import { PresenceDot } from './PresenceDot';

export function MemberList({ roomId }: { roomId: number }) {
  const { t } = useT();
  const headingId = useId();
  const members = useMembers((state) => state.byRoom[roomId]);
  const sorted = useMemo(() => (members ? sortMembers(members) : []), [members]);
  return (
    <aside className="members" aria-labelledby={headingId}>
      <h2 id={headingId} className="sidebar-heading">
        {t('members.heading', { count: sorted.length })}
      </h2>
      <ul className="member-list">
        {sorted.map((member) => (
          <li key={member.user_id} className="member">
            <PresenceDot presence={member.presence} />
            <span className="member-name">{member.username}</span>
            {member.role !== 'member' && <span className="tag">{t(`role.${member.role}`)}</span>}
          </li>
        ))}
      </ul>
    </aside>
  );
}
