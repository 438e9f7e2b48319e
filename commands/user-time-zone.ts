// The asker's time zone from Slack's users.info, cached, so periods like "today" mean their today.
import type { WebClient } from '@slack/web-api';
import { isValidTimeZone } from '../reports/periods.js';

export type TimeZoneLookup = (client: WebClient, userId: string) => Promise<string>;

export function createTimeZoneLookup(options: { defaultTz: string; ttlMs: number; now: () => Date }): TimeZoneLookup {
  const cache = new Map<string, { tz: string; until: number }>();
  return async (client, userId) => {
    const cached = cache.get(userId);
    const now = options.now().getTime();
    if (cached && cached.until > now) return cached.tz;
    let tz = options.defaultTz;
    try {
      const info = await client.users.info({ user: userId });
      if (info.user?.tz && isValidTimeZone(info.user.tz)) tz = info.user.tz;
    } catch {
      // Without users:read (or when Slack is slow) the default zone still gives an answer; the answer names it.
      return tz;
    }
    cache.set(userId, { tz, until: now + options.ttlMs });
    return tz;
  };
}
