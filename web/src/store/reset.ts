import { resetCall } from '../call/controller';
import { initialChat, useChat } from './chat';
import { initialConnection, useConnection } from './connection';
import { initialMembers, useMembers } from './members';
import { initialRooms, useRooms } from './rooms';
import { initialTyping, useTyping } from './typing';

/** Forgets everything the previous user could see. */
export function resetStores(): void {
  useChat.setState(initialChat);
  useRooms.setState(initialRooms);
  useMembers.setState(initialMembers);
  useTyping.setState(initialTyping);
  useConnection.setState(initialConnection);
  resetCall();
}
