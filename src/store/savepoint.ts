import { IdentifierNode, RawNode } from 'kysely';

/** `savepoint "name"` and friends, with the name quoted as an identifier (as kysely's own drivers do). */
export function parseSavepointCommand(
  command: 'savepoint' | 'rollback to' | 'release',
  name: string,
): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}
