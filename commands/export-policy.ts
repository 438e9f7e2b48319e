// Who may export personal data (External IDs) and where; every export, allowed or denied, is recorded.
import { and, asc, eq, gt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { exportAudit } from '../db/schema.js';

export interface ExportPolicy {
  /** Slack user ids allowed to export; empty = everyone. */
  allowedUsers: readonly string[];
  /** Channel ids exports may be posted in; empty = every channel. */
  allowedChannels: readonly string[];
  /** Exports one user may make in any hour; 0 or absent = no limit. */
  perUserPerHour?: number;
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
  outcome: 'uploaded' | 'denied' | 'rate-limited' | 'empty' | 'failed' | 'previewed';
  at: Date;
}

export async function recordExport(db: Db, entry: ExportAuditEntry): Promise<void> {
  await db.insert(exportAudit).values(entry);
}

const HOUR_MS = 60 * 60 * 1000;

/**
 * The reason an export is refused because its asker made too many in the last hour, or null. Counted from the
 * audit table, so the limit holds across restarts and across several copies of the app.
 */
export async function exportRateDenial(db: Db, policy: ExportPolicy, userId: string, now: Date): Promise<string | null> {
  const limit = policy.perUserPerHour ?? 0;
  if (limit <= 0) return null;
  const recent = await db
    .select({ at: exportAudit.at })
    .from(exportAudit)
    .where(and(eq(exportAudit.actor, userId), eq(exportAudit.outcome, 'uploaded'), gt(exportAudit.at, new Date(now.getTime() - HOUR_MS))))
    .orderBy(asc(exportAudit.at))
    .limit(limit);
  const oldest = recent[0];
  if (recent.length < limit || !oldest) return null;
  const minutes = Math.max(1, Math.ceil((oldest.at.getTime() + HOUR_MS - now.getTime()) / 60_000));
  return `You have made ${limit} ${limit === 1 ? 'export' : 'exports'} in the last hour, the most one person may make (exports hold External IDs). Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
}
