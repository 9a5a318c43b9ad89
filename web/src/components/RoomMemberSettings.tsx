import { useEffect, useId, useMemo, useState } from 'react';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import type { Member, Role } from '../proto';
import { sortMembers, useMembers } from '../store/members';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { ConfirmDialog } from './Dialog';
import { PresenceDot } from './PresenceDot';

const ROLES: Role[] = ['owner', 'member', 'guest'];

/** Change members' roles and remove members (owners). */
export function RoomMemberSettings({ roomId }: { roomId: number }) {
  const { t } = useT();
  const headingId = useId();
  const members = useMembers((state) => state.byRoom[roomId]);
  const sorted = useMemo(() => (members ? sortMembers(members) : []), [members]);
  const [removing, setRemoving] = useState<Member | null>(null);

  useEffect(() => {
    useMembers.getState().load(roomId).catch(notify.failure);
  }, [roomId]);

  const changeRole = async (member: Member, role: Role) => {
    try {
      const updated = await api.setMemberRole(roomId, member.user_id, role);
      useMembers.getState().upsert(roomId, updated);
      notify.success(t('settings.roleChanged', { name: member.username, role: t(`role.${role}`) }));
    } catch (error) {
      notify.failure(error);
    }
  };

  const remove = async (member: Member) => {
    setRemoving(null);
    try {
      await api.removeMember(roomId, member.user_id);
      useMembers.getState().remove(roomId, member.user_id);
      notify.success(t('settings.removed', { name: member.username }));
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('settings.members')}</h2>
      <ul className="member-list">
        {sorted.map((member) => (
          <MemberRow key={member.user_id} member={member} onRole={changeRole} onRemove={setRemoving} />
        ))}
      </ul>
      {removing && (
        <ConfirmDialog
          title={t('settings.remove', { name: removing.username })}
          message={t('settings.removeConfirm', { name: removing.username })}
          confirmLabel={t('settings.remove', { name: removing.username })}
          onConfirm={() => remove(removing)}
          onCancel={() => setRemoving(null)}
        />
      )}
    </section>
  );
}

interface MemberRowProps {
  member: Member;
  onRole(member: Member, role: Role): void;
  onRemove(member: Member): void;
}

function MemberRow({ member, onRole, onRemove }: MemberRowProps) {
  const { t } = useT();
  const roleId = useId();
  const isMe = useSession((state) => state.user?.id === member.user_id);
  return (
    <li className="member member-managed">
      <PresenceDot presence={member.presence} />
      <span className="member-name">{member.username}</span>
      <label htmlFor={roleId} className="visually-hidden">
        {t('settings.roleOf', { name: member.username })}
      </label>
      <select id={roleId} value={member.role} onChange={(event) => onRole(member, event.target.value as Role)}>
        {ROLES.map((role) => (
          <option key={role} value={role}>
            {t(`role.${role}`)}
          </option>
        ))}
      </select>
      {!isMe && (
        <button type="button" className="danger" onClick={() => onRemove(member)}>
          {t('settings.remove', { name: member.username })}
        </button>
      )}
    </li>
  );
}
