// Who may export personal data (External IDs) and where; every export, allowed or denied, is recorded.
import type { Db } from '../db/client.js';
import { exportAudit } from '../db/schema.js';

export interface ExportPolicy {
  /** Slack user ids allowed to export; empty = everyone. */
  allowedUsers: readonly string[];
  /** Channel ids exports may be posted in; empty = every channel. */
  allowedChannels: readonly string[];
}

/** The reason an export is refused, worded for the asker, or null when it is allowed. */
export function exportDenial(policy: ExportPolicy, userId: string, channelId: string): string | null {
  if (policy.allowedUsers.length > 0 && !policy.allowedUsers.includes(userId)) {
    return 'Exports contain External IDs, and you are not on the list of people allowed to export. Ask an admin of this app to add you (EXPORT_ALLOWED_USERS).';
  }
  if (policy.allowedChannels.length > 0 && !policy.allowedChannels.includes(channelId)) {
    return `Exports contain External IDs and are not posted in this channel. Ask for the export in one of: ${policy.allowedChannels.map((c) => `<#${c}>`).join(', ')}.`;
  }
  return null;
}

export interface ExportAuditEntry {
  actor: string;
  channel: string | null;
  journeyId: string;
  exportKind: string;
  detail: string | null;
  rows: number | null;
  outcome: 'uploaded' | 'denied' | 'empty' | 'failed' | 'previewed';
  at: Date;
}

export async function recordExport(db: Db, entry: ExportAuditEntry): Promise<void> {
  await db.insert(exportAudit).values(entry);
}
