import { create } from 'zustand';
import { api } from '../api/endpoints';
import type { Member, Presence } from '../proto';

interface MembersData {
  byRoom: Record<number, Member[]>;
}

interface MembersState extends MembersData {
  load(roomId: number): Promise<void>;
  upsert(roomId: number, member: Member): void;
  remove(roomId: number, userId: number): void;
  setPresence(userId: number, presence: Presence): void;
  forgetRoom(roomId: number): void;
}

export const initialMembers: MembersData = { byRoom: {} };

export const useMembers = create<MembersState>((set, get) => ({
  ...initialMembers,

  async load(roomId) {
    const members = await api.members(roomId);
    set({ byRoom: { ...get().byRoom, [roomId]: members } });
  },

  upsert(roomId, member) {
    const members = get().byRoom[roomId];
    if (!members) return;
    const others = members.filter((existing) => existing.user_id !== member.user_id);
    set({ byRoom: { ...get().byRoom, [roomId]: [...others, member] } });
  },

  remove(roomId, userId) {
    const members = get().byRoom[roomId];
    if (!members) return;
    set({
      byRoom: { ...get().byRoom, [roomId]: members.filter((member) => member.user_id !== userId) },
    });
  },

  setPresence(userId, presence) {
    const byRoom: Record<number, Member[]> = {};
    for (const [roomId, members] of Object.entries(get().byRoom)) {
      byRoom[Number(roomId)] = members.map((member) =>
        member.user_id === userId ? { ...member, presence } : member,
      );
    }
    set({ byRoom });
  },

  forgetRoom(roomId) {
    const byRoom = { ...get().byRoom };
    delete byRoom[roomId];
    set({ byRoom });
  },
}));

const roleRank = { owner: 0, member: 1, guest: 2 } as const;
const presenceRank = { online: 0, busy: 1, offline: 2 } as const;

/** Online first, then busy, then offline; owners first within each; then by name. */
export function sortMembers(members: readonly Member[]): Member[] {
  return [...members].sort(
    (a, b) =>
      presenceRank[a.presence] - presenceRank[b.presence] ||
      roleRank[a.role] - roleRank[b.role] ||
      a.username.localeCompare(b.username),
  );
}
