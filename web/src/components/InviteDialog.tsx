import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import { formatDateTime } from '../i18n/format';
import type { Invite, Room } from '../proto';
import { notify } from '../store/toasts';
import { Dialog } from './Dialog';
import { Icon } from './Icon';

const EXPIRY_SECS = { hour: 3600, day: 86_400, week: 604_800, month: 2_592_000 } as const;
type Expiry = keyof typeof EXPIRY_SECS;
type InviteRole = 'member' | 'guest';

function isActive(invite: Invite, now: number): boolean {
  const expired = invite.expires_at !== undefined && invite.expires_at <= now;
  const usedUp = invite.max_uses !== undefined && invite.uses >= invite.max_uses;
  return !expired && !usedUp;
}

/** Create, copy, list and revoke the room's invite links. */
export function InviteDialog({ room, onClose }: { room: Room; onClose(): void }) {
  const { t, language } = useT();
  const ids = { expiry: useId(), uses: useId(), role: useId(), link: useId() };
  const [expiry, setExpiry] = useState<Expiry>('week');
  const [maxUses, setMaxUses] = useState('');
  const [role, setRole] = useState<InviteRole>('member');
  const [created, setCreated] = useState<Invite | null>(null);
  const [invites, setInvites] = useState<Invite[] | null>(null);

  const reload = useCallback(() => {
    api.invites(room.id).then(setInvites, notify.failure);
  }, [room.id]);
  useEffect(reload, [reload]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const invite = await api.createInvite(room.id, {
        expires_in_secs: EXPIRY_SECS[expiry],
        max_uses: maxUses ? Number(maxUses) : undefined,
        role,
      });
      setCreated(invite);
      notify.success(t('invite.created'));
      reload();
    } catch (error) {
      notify.failure(error);
    }
  };

  const copy = (url: string) => {
    navigator.clipboard.writeText(url).then(
      () => notify.success(t('invite.copied')),
      () => notify.warning(t('invite.copyFailed')),
    );
  };

  const revoke = async (code: string) => {
    try {
      await api.revokeInvite(room.id, code);
      setInvites((current) => current?.filter((invite) => invite.code !== code) ?? null);
      if (created?.code === code) setCreated(null);
      notify.success(t('invite.revoked'));
    } catch (error) {
      notify.failure(error);
    }
  };

  const now = Date.now();
  const active = invites?.filter((invite) => isActive(invite, now)) ?? [];

  return (
    <Dialog title={t('invite.title', { name: room.name })} onClose={onClose}>
      <form className="form" onSubmit={create}>
        <div className="field">
          <label htmlFor={ids.expiry}>{t('invite.expiry')}</label>
          <select id={ids.expiry} value={expiry} onChange={(event) => setExpiry(event.target.value as Expiry)}>
            {(Object.keys(EXPIRY_SECS) as Expiry[]).map((option) => (
              <option key={option} value={option}>
                {t(`invite.expiry.${option}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.uses}>{t('invite.maxUses')}</label>
          <input
            id={ids.uses}
            type="number"
            min={1}
            step={1}
            value={maxUses}
            onChange={(event) => setMaxUses(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.role}>{t('invite.role')}</label>
          <select id={ids.role} value={role} onChange={(event) => setRole(event.target.value as InviteRole)}>
            <option value="member">{t('role.member')}</option>
            <option value="guest">{t('role.guest')}</option>
          </select>
        </div>
        <button type="submit" className="primary">
          {t('invite.create')}
        </button>
      </form>

      {created && (
        <div className="field invite-link">
          <label htmlFor={ids.link}>{t('invite.link')}</label>
          <div className="input-row">
            <input id={ids.link} value={created.url} readOnly onFocus={(event) => event.target.select()} />
            <button type="button" onClick={() => copy(created.url)}>
              {t('invite.copy')}
            </button>
          </div>
        </div>
      )}

      <h3>{t('invite.active')}</h3>
      {invites && active.length === 0 && <p className="muted">{t('invite.none')}</p>}
      <ul className="invite-list">
        {active.map((invite) => (
          <li key={invite.code} className="invite-item">
            <code>{invite.code}</code>
            <span className="muted">
              {t(`role.${invite.role}`)} ·{' '}
              {invite.max_uses === undefined
                ? t('invite.uses', { uses: invite.uses })
                : t('invite.usesOf', { uses: invite.uses, max: invite.max_uses })}
              {invite.expires_at !== undefined &&
                ` · ${t('invite.expires', { date: formatDateTime(invite.expires_at, language) })}`}
            </span>
            <button
              type="button"
              className="danger"
              aria-label={t('invite.revoke', { code: invite.code })}
              onClick={() => revoke(invite.code)}
            >
              <Icon name="trash" />
            </button>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
